"""``ivr report`` on a seeded week: the figures match the rows, the charts render, the
surge is flagged, and the page carries no identifiers. Pure helpers first."""

import base64
import io
import json
import os
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ivr.cli.main import cli
from ivr.cli.report import report
from ivr.reports.figures import compute_figures, percentile
from ivr.reports.html import render_html
from ivr.reports.period import PeriodError, parse_moment
from ivr.reports.plots import SIZES  # matplotlib: imported once, here
from ivr.reports.themes import count_themes, themes_in
from ivr.sim.seed import CLINICAL, REQUESTS, seed_week
from ivr.store.database import make_engine
from ivr.store.models import Base, Call, StaffMember
from ivr.triage.rules import RULES_PATH

SHANGHAI = ZoneInfo("Asia/Shanghai")
# midnight in Shanghai: the seeded week is exactly the local days 2026-11-20..26
END = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
REPORTER = "lead.chen"
PERIOD = ["--since", "2026-11-20", "--until", "2026-11-26"]
DATA_URI = re.compile(r'<img id="chart-(\w+)"[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


# --- pure helpers ---------------------------------------------------------------------

def test_period_text():
    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert parse_moment("7d", now, SHANGHAI, end=False) == now - timedelta(days=7)
    assert parse_moment("24h", now, SHANGHAI, end=False) == now - timedelta(hours=24)
    assert parse_moment("2w", now, SHANGHAI, end=False) == now - timedelta(weeks=2)
    assert parse_moment("2026-11-20", now, SHANGHAI, end=False) == datetime(
        2026, 11, 20, tzinfo=SHANGHAI)
    # an end date includes that day
    assert parse_moment("2026-11-26", now, SHANGHAI, end=True) == datetime(
        2026, 11, 27, tzinfo=SHANGHAI)
    assert parse_moment("2026-11-20T08:30", now, SHANGHAI, end=False) == datetime(
        2026, 11, 20, 8, 30, tzinfo=SHANGHAI)
    assert parse_moment("2026-11-20T08:30+00:00", now, SHANGHAI, end=False) == datetime(
        2026, 11, 20, 8, 30, tzinfo=UTC)
    for bad in ("7x", "yesterday", "0d", "2026-13-01"):
        with pytest.raises(PeriodError):
            parse_moment(bad, now, SHANGHAI, end=False)


def test_percentile_interpolates_like_numpy():
    values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    for q in (0, 10, 50, 90, 100):
        assert percentile(values, q) == pytest.approx(round(float(np.percentile(values, q)), 1))
    assert percentile([], 50) is None


def test_feedback_themes_in_both_languages():
    assert themes_in("我要投诉，排队等了很久没人接", "zh-CN") == {"waiting"}
    assert themes_in("挂号处的人态度不好", "zh") == {"attitude", "appointment"}
    assert themes_in("I waited on hold and then I was cut off", "en-US") == {
        "waiting", "transfer"}
    assert themes_in("The billing was wrong", "en") == {"billing"}
    assert themes_in("it was awaited", "en") == set()  # whole words only
    assert themes_in("等太久了 and rude", "ko") == {"waiting", "attitude"}  # unknown: both
    counts = count_themes([("等太久", "zh-CN"), ("too long a wait", "en-US"), ("", "en")])
    assert counts["waiting"] == {"zh": 1, "en": 1, "other": 0}
    assert counts["billing"] == {"zh": 0, "en": 0, "other": 0}


def test_seeded_scenarios_use_the_triage_rules():
    rules = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    known = {k for section in ("red_flags", "crisis", "symptoms", "modifiers", "requests")
             for k in rules[section]}
    for scenario in CLINICAL + REQUESTS:
        assert set(scenario.symptoms) <= known, scenario
        assert scenario.department in rules["departments"], scenario
        only = scenario.symptoms[0] if len(scenario.symptoms) == 1 else None
        if only in rules["symptoms"]:  # single symptoms: the rules' level and department
            entry = rules["symptoms"][only]
            assert (scenario.urgency, scenario.department) == (
                entry["urgency"], entry["department"]), scenario
        elif only in rules["red_flags"]:
            assert (scenario.urgency, scenario.department) == (1, "emergency"), scenario


# --- a seeded week --------------------------------------------------------------------

def _seeded(path, surge):
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    seed_week(engine, end=END, seed=42, surge=surge)
    with Session(engine) as s, s.begin():  # reports need the export_report right
        s.add(StaffMember(user=REPORTER, role="supervisor"))
    return url, engine


@pytest.fixture(scope="module", autouse=True)
def as_supervisor():
    old = os.environ.get("IVR_STAFF_USER")
    os.environ["IVR_STAFF_USER"] = REPORTER
    yield
    if old is None:
        os.environ.pop("IVR_STAFF_USER", None)
    else:
        os.environ["IVR_STAFF_USER"] = old


@pytest.fixture(scope="module")
def surge_db(tmp_path_factory):
    url, engine = _seeded(tmp_path_factory.mktemp("surge") / "calls.sqlite3", {"fever": 3})
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def calm_db(tmp_path_factory):
    url, engine = _seeded(tmp_path_factory.mktemp("calm") / "calls.sqlite3", None)
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def page(surge_db, tmp_path_factory):
    """The HTML report of the surge week, made through ``ivr report`` (once: matplotlib)."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = CliRunner().invoke(cli, ["report", *PERIOD, "--db", surge_db[0], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    return out.read_text(encoding="utf-8")


def _json(url, *args):
    result = CliRunner().invoke(report, [*PERIOD, "--db", url, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _calls(engine):
    with Session(engine) as s:
        return s.scalars(select(Call).options(
            selectinload(Call.triage), selectinload(Call.queue_results),
            selectinload(Call.survey_answers), selectinload(Call.turns))).all()


def test_json_figures_match_the_seeded_rows(surge_db):
    url, engine = surge_db
    figures = _json(url)
    calls = _calls(engine)
    volume = figures["volume"]
    assert volume["total"] == len(calls) > 400
    assert volume["inbound"] + volume["outbound"] == len(calls)
    assert volume["outbound"] == sum(c.direction == "outbound" for c in calls)
    assert sum(volume["by_hour"]) == sum(volume["by_day"]) == len(calls)
    assert sum(volume["by_weekday"]) == len(calls)
    assert figures["period"]["days"] == [f"2026-11-{d}" for d in range(20, 27)]
    local_days = Counter(c.started_at.replace(tzinfo=UTC).astimezone(SHANGHAI).date().isoformat()
                         for c in calls)
    assert volume["by_day"] == [local_days[d] for d in figures["period"]["days"]]
    assert volume["by_outcome"] == dict(Counter(c.outcome for c in calls))

    urgency = Counter(str(c.urgency) if c.urgency else "none" for c in calls)
    assert figures["triage"]["by_urgency"] == {k: urgency[k] for k in ("1", "2", "3", "4", "none")}
    assert figures["triage"]["triaged_calls"] == sum(1 for c in calls if c.triage)
    assert figures["triage"]["by_department"] == dict(Counter(c.department or "none"
                                                              for c in calls))

    fever = [c for c in calls if any("fever" in t.symptoms for t in c.triage)]
    (row,) = [s for s in figures["symptoms"] if s["symptom"] == "fever"]
    assert row["calls"] == len(fever) == sum(row["by_day"])
    assert row["recent"] == sum(c.started_at.replace(tzinfo=UTC) >= END - timedelta(days=1)
                                for c in fever)
    assert figures["symptoms"][0]["symptom"] == "fever"  # the commonest, with the surge
    assert not {s["symptom"] for s in figures["symptoms"]} & {"child", "appointments"}

    queued = [c for c in calls if c.queue_results]
    gave_up = [c for c in queued if c.outcome in ("abandoned", "caller_hangup")]
    waits = figures["waits"]
    assert (waits["queued_calls"], waits["abandoned"]) == (len(queued), len(gave_up))
    assert waits["abandonment_rate"] == pytest.approx(len(gave_up) / len(queued), abs=1e-4)
    holds = [sum(q.hold_seconds for q in c.queue_results) for c in queued]
    assert waits["hold_p50"] == pytest.approx(np.percentile(holds, 50), abs=0.05)
    assert waits["hold_p90"] == pytest.approx(np.percentile(holds, 90), abs=0.05)
    assert sum(b["calls"] for b in waits["hold_histogram"]) == len(queued)

    answers = [a for c in calls for a in c.survey_answers]
    for dim in figures["survey"]:
        scores = [a.score for a in answers if a.dimension == dim["dimension"]
                  and a.score is not None]
        assert dim["n"] == len(scores) == sum(dim["distribution"].values())
        assert dim["mean"] == pytest.approx(sum(scores) / len(scores), abs=0.005)
    negative = [a for a in answers if a.score is not None and a.score <= 2]
    assert figures["feedback"]["negative_answers"] == len(negative) > 0
    assert sum(t["total"] for t in figures["feedback"]["themes"]) > 0


def test_the_fever_surge_is_flagged(surge_db):
    alerts = _json(surge_db[0])["alerts"]
    assert alerts and alerts[0]["symptom"] == "fever"
    assert alerts[0]["recent_calls"] >= 2 * alerts[0]["expected"]


def test_a_calm_week_raises_no_alert(calm_db):
    figures = _json(calm_db[0])
    assert figures["alerts"] == []
    assert figures["trend"]["baseline_days"] == 6 and figures["notes"] == []


def _image(encoded):
    from PIL import Image  # Pillow comes with matplotlib

    image = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert image.format == "PNG"
    return image


def test_the_html_has_every_chart_and_they_render(page):
    charts = dict(DATA_URI.findall(page))
    assert list(charts) == list(SIZES)  # every chart, in report order
    for name, encoded in charts.items():
        image = _image(encoded)
        assert image.size == SIZES[name], name
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
        assert pixels.std() > 20, f"{name}: looks blank"
        quantised = pixels // 16
        colours = np.unique(quantised[..., 0] * 256 + quantised[..., 1] * 16 + quantised[..., 2])
        assert len(colours) > 12, f"{name}: only {len(colours)} colours"
        ink = (pixels.sum(axis=2) < 600).mean()  # share of pixels that are not near white
        assert 0.01 < ink < 0.9, f"{name}: {ink:.1%} ink"


def test_the_html_alerts_and_tables(page, calm_db):
    alerts = page[page.index('id="alerts"'):page.index("</section>")]
    assert "fever 发烧" in alerts and "calls in the last" in alerts
    assert "<th>symptom 症状</th>" in page and "general_medicine 全科" in page
    calm = compute_figures(calm_db[1], END - timedelta(days=7), END, tz="Asia/Shanghai")
    quiet = render_html(calm, charts=dict.fromkeys(SIZES, b""))  # the page, not the charts
    quiet_alerts = quiet[quiet.index('id="alerts"'):quiet.index("</section>")]
    assert "No sudden rise" in quiet_alerts and "<li>" not in quiet_alerts


def test_the_html_has_no_identifiers(page, surge_db):
    text = DATA_URI.sub("", page)
    assert "data:image" not in text
    assert not re.findall(r"\d{7,}", text)  # no phone numbers, ids or MRNs
    calls = _calls(surge_db[1])
    said = {t.transcript for c in calls for t in c.turns} | {
        a.comment for c in calls for a in c.survey_answers if a.comment}
    for c in calls[:200]:
        assert c.id not in text and c.caller_masked not in text
        assert c.caller_hash not in text
    for words in said:  # masked or not, what callers said stays out (short ones are labels)
        assert len(words) < 6 or words not in text, words


def test_an_empty_period_still_renders(surge_db, tmp_path):
    out = tmp_path / "empty.html"
    result = CliRunner().invoke(report, ["--since", "2020-01-01", "--until", "2020-01-02",
                                         "--db", surge_db[0], "--out", str(out)])
    assert result.exit_code == 0, result.output
    charts = dict(DATA_URI.findall(out.read_text(encoding="utf-8")))
    assert list(charts) == list(SIZES)
    for name, encoded in charts.items():  # a "no data" note, not an empty frame
        pixels = np.asarray(_image(encoded).convert("L"))
        assert _image(encoded).size == SIZES[name]
        assert (pixels < 128).sum() > 200, name


def test_bad_input_is_a_clear_click_error(surge_db, tmp_path):
    runner = CliRunner()
    for args, hint in ((["--since", "7x"], "'--since'"), (["--until", "soon"], "'--until'"),
                       (["--tz", "Mars/Base"], "'--tz'"),
                       (["--since", "2026-11-20", "--until", "2026-11-10"], "empty")):
        result = runner.invoke(report, [*args, "--db", surge_db[0], "--json"])
        assert result.exit_code == 2, (args, result.output)
        assert hint in result.output and "Traceback" not in result.output
    missing = runner.invoke(report, ["--db", f"sqlite:///{tmp_path / 'none.sqlite3'}"])
    assert missing.exit_code == 1 and "no call records" in missing.output


def test_the_seeder_is_deterministic():
    def digest(seed):
        engine = make_engine("sqlite://")
        Base.metadata.create_all(engine)
        seed_week(engine, days=2, end=END, seed=seed, calls_per_day=60)
        rows = [(c.started_at, c.flow, c.outcome, c.urgency, c.hold_seconds,
                 tuple(sorted(s for t in c.triage for s in t.symptoms))) for c in _calls(engine)]
        engine.dispose()
        return sorted(rows, key=repr)

    first = digest(7)
    assert first == digest(7)
    assert first != digest(8)


def test_a_role_without_export_report_is_refused(surge_db, monkeypatch):
    with Session(surge_db[1]) as s, s.begin():
        s.merge(StaffMember(user="nurse.li", role="agent"))
    monkeypatch.setenv("IVR_STAFF_USER", "nurse.li")
    result = CliRunner().invoke(report, [*PERIOD, "--db", surge_db[0], "--json"])
    assert result.exit_code == 1 and "export_report" in result.output
