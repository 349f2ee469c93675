"""The report's containment section on a seeded week: calls the knowledge base
answered, those that went no further to a person, answers followed by a request for
a person, questions nothing answered, entries the line cannot say now; and every call
the line served itself (bookings by phone, results statuses), by flow."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.reports.figures import compute_figures
from ivr.reports.html import render_html
from ivr.settings import PROJECT_ROOT
from ivr.sim.seed import seed_answers, seed_self_service, seed_week
from ivr.store.models import Base
from ivr.store.recorder import make_engine

END = datetime(2026, 11, 30, 16, tzinfo=UTC)


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('kbweek') / 'calls.sqlite3'}")
    Base.metadata.create_all(engine)
    seed_week(engine, end=END, seed=42, calls_per_day=30)
    seeded = seed_answers(engine, END)
    served = seed_self_service(engine, END)
    yield engine, seeded, served
    engine.dispose()


def _knowledge(tmp_path: Path) -> Path:
    """The shipped entries, one of them past its review date."""
    folder = tmp_path / "answers"
    folder.mkdir()
    for path in (PROJECT_ROOT / "knowledge" / "answers").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.stem == "parking":
            text = text.replace("review_by: 2027-06-30", "review_by: 2026-11-01")
        (folder / path.name).write_text(text, encoding="utf-8")
    return folder


def test_containment_matches_the_seeded_calls(week, tmp_path):
    engine, seeded, _served = week
    figures = compute_figures(engine, datetime(2026, 11, 23, 16, tzinfo=UTC), END,
                              now=END, knowledge=_knowledge(tmp_path))
    c = figures.containment
    assert (c.answered_calls, c.contained_calls, c.asked_person, c.no_entry) == (
        seeded.answered, seeded.contained, seeded.asked_person, seeded.no_entry)
    assert c.share == round(seeded.contained / seeded.answered, 3)
    assert {e.entry: e.spoken for e in c.by_entry} == seeded.spoken
    assert sum(e.asked_person for e in c.by_entry) == seeded.asked_person
    assert {(f.flow, f.answered, f.contained) for f in c.by_flow if f.answered} == {
        ("main", seeded.answered, seeded.contained)}
    assert c.unspeakable_entries == ["parking"]
    html = render_html(figures)
    assert "Resolved by the line" in html and "parking" in html
    assert f"{seeded.contained} went no further to a person" in " ".join(html.split())


def test_self_service_by_flow_matches_the_seeded_calls(week):
    engine, seeded, served = week
    figures = compute_figures(engine, datetime(2026, 11, 23, 16, tzinfo=UTC), END, now=END)
    c = figures.containment
    by_flow = {f.flow: (f.served, f.resolved) for f in c.by_flow}
    assert by_flow == {"main": (seeded.answered, seeded.contained),
                       **{flow: (n, served.resolved.get(flow, 0))
                          for flow, n in served.served.items()}}
    assert c.served_calls == seeded.answered + sum(served.served.values())
    assert c.resolved_calls == seeded.contained + sum(served.resolved.values())
    assert c.resolved_share == round(c.resolved_calls / c.served_calls, 3)
    assert c.bookings == served.bookings
    assert (c.results_told, c.notices_told) == (served.results_told, served.notices_told)
    text = " ".join(render_html(figures).split())
    assert (f"{served.bookings['booked']} booked, {served.bookings['changed']} moved, "
            f"{served.bookings['cancelled']} cancelled") in text
    assert f"{c.results_told} call(s) heard a results status" in text


def test_calls_outside_the_period_are_not_counted(week):
    engine, _seeded, _served = week
    figures = compute_figures(engine, datetime(2026, 12, 1, tzinfo=UTC),
                              datetime(2026, 12, 2, tzinfo=UTC), now=END)
    assert figures.containment.answered_calls == 0
    assert figures.containment.share is None
