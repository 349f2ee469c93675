"""``ivr triage``: decide on words, evaluate the rules, review them against agents.

    ivr triage --lang zh "孩子发烧三天了" --json     one JSON object
    ivr triage --lang en - < lines.txt             one JSON object per line
    ivr triage eval tests/triage/labelled.jsonl    recall, accuracy, confusion; exit 1 below bars
    ivr triage review dispositions.jsonl           engine versus agents, phrases to add
    ivr triage validate [triage_rules.yaml]        file:line errors; exit 1 on any

``ivr triage TEXT`` is ``ivr triage decide TEXT``: a first argument that is not
a command name is the caller's words (say ``ivr triage decide eval`` to triage
the word "eval").
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import click

from ivr.cli.triage_examples import examples
from ivr.cli.triage_protocols import protocols
from ivr.departments import DEPARTMENTS
from ivr.triage.engine import (
    CTX_ACOUSTIC,
    CTX_AGE_GROUP,
    CTX_ASR_CONFIDENCE,
    CTX_REPEAT_CALLS,
    RuleTriager,
)
from ivr.triage.eval import (
    DEPARTMENT_ACCURACY_BAR,
    RED_FLAG_RECALL_BAR,
    LabelError,
    Report,
    Slice,
    evaluate,
    load_cases,
    load_dispositions,
    miss_dict,
    review,
    suggest_phrases,
)
from ivr.triage.rules import AGE_GROUPS, RULES_PATH, RulesError, check_file
from ivr.triage.rules import Rules as _Rules

LANGS = ("zh", "en", "ko")


class _TextOrCommand(click.Group):
    """A group whose unknown first argument is the text to decide on."""

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in self.commands:
            return super().resolve_command(ctx, args)
        return "decide", self.commands["decide"], args


def _triager(rules: Path | None, rules_only: bool = False) -> RuleTriager:
    try:
        return RuleTriager(rules, semantic=not rules_only)
    except RulesError as exc:
        for d in exc.diagnostics:
            click.echo(str(d), err=True)
        raise click.ClickException(f"RulesError: {len(exc.diagnostics)} error(s) in the rules "
                                   "file") from None
    except FileNotFoundError as exc:
        raise click.UsageError(f"no rules file: {exc.filename}") from None


def _lang(value: str) -> str:
    lang = value.split("-")[0].lower()
    if lang not in LANGS:
        raise click.BadParameter(f"{value!r}: one of {', '.join(LANGS)} (zh-CN, en-US also)")
    return lang


_RULES = click.option("--rules", type=click.Path(dir_okay=False, path_type=Path),
                      default=None, help=f"Rules file [default: {RULES_PATH.name}].")
_RULES_ONLY = click.option("--rules-only", is_flag=True,
                           help="Without the meaning screen (triage_examples.yaml): the "
                                "phrase rules alone, to see what they catch by themselves.")


def RULES_OPTION(f: Any) -> Any:  # a decorator, like click's
    return _RULES(_RULES_ONLY(f))


@click.group(cls=_TextOrCommand, context_settings={"ignore_unknown_options": True,
                                                   "allow_interspersed_args": False,
                                                   "help_option_names": ["-h", "--help"]})
def triage() -> None:
    """Clinical triage: urgency (1 immediate .. 4 administrative), department, queue
    priority and the reasons. `ivr triage [--lang zh|en] TEXT [--json]` decides on
    TEXT; `-` reads one utterance per line from stdin and prints one JSON object
    per line."""


@triage.command()
@click.argument("text")
@click.option("-l", "--lang", default="zh", show_default=True, callback=lambda c, p, v: _lang(v),
              help="Language of the words: zh, en or ko.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (always so with '-').")
@click.option("--confidence", type=click.FloatRange(0, 1),
              help=f"Speech recognition confidence (context {CTX_ASR_CONFIDENCE}).")
@click.option("--repeat-calls", type=click.IntRange(0),
              help=f"Calls from this caller in the last 24 h ({CTX_REPEAT_CALLS}).")
@click.option("--acoustic", type=click.FloatRange(0, 1),
              help=f"Acoustic urgency 0-1, e.g. from `ivr urgency` ({CTX_ACOUSTIC}).")
@click.option("--age-group", type=click.Choice(AGE_GROUPS),
              help=f"The caller's age group from their profile ({CTX_AGE_GROUP}).")
@RULES_OPTION
def decide(text: str, lang: str, as_json: bool, confidence: float | None,
           repeat_calls: int | None, acoustic: float | None, age_group: str | None,
           rules: Path | None, rules_only: bool) -> None:
    """Decide on TEXT (or '-' for one utterance per line on stdin; a line may also be a
    JSON object {"text", "lang", "context"})."""
    triager = _triager(rules, rules_only)
    context: dict[str, object] = {k: v for k, v in (
        (CTX_ASR_CONFIDENCE, confidence), (CTX_REPEAT_CALLS, repeat_calls),
        (CTX_ACOUSTIC, acoustic), (CTX_AGE_GROUP, age_group)) if v is not None}
    if text == "-":
        for n, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            words, line_lang, line_ctx = line.strip(), lang, dict(context)
            if words.startswith("{"):
                try:
                    row = json.loads(words)
                except json.JSONDecodeError as exc:
                    raise click.ClickException(f"stdin line {n}: not JSON: {exc.msg}") from None
                words = str(row.get("text", ""))
                line_lang = _lang(str(row.get("lang", lang)))
                line_ctx.update(row.get("context") or {})
            _print(triager.decide(words, line_lang, line_ctx).as_dict(), words, line_lang,
                   True)
            sys.stdout.flush()
        return
    _print(triager.decide(text, lang, context).as_dict(), text, lang, as_json)


def _print(decision: dict[str, Any], text: str, lang: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({**decision, "text": text, "lang": lang}, ensure_ascii=False))
        return
    flags = [f for f, on in (("crisis", decision["crisis"]),
                             ("ask: is this an emergency?", decision["ask_safety"])) if on]
    click.echo(f"urgency {decision['urgency']}  department {decision['department']}  "
               f"queue priority {decision['queue_priority']}"
               + (f"  ({'; '.join(flags)})" if flags else ""))
    for reason in decision["reasons"]:
        click.echo(f"  - {reason}")


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _confusion(report: Report) -> list[str]:
    pairs = report.confusion()
    used = [d for d in DEPARTMENTS if any(d in p for p in pairs)]
    used += sorted({d for p in pairs for d in p} - set(used))
    width = max(len(d) for d in used)
    lines = ["rows: expected, columns: given (numbered as the rows)",
             " " * (width + 4) + "".join(f"{i + 1:>4}" for i in range(len(used)))]
    for i, exp in enumerate(used):
        cells = "".join(f"{pairs.get((exp, got), 0) or '.':>4}" for got in used)
        lines.append(f"{i + 1:>2} {exp:<{width}} {cells}")
    return lines


def _frac(hit: int, total: int) -> str:
    return f"{100 * hit / total:5.1f} % ({hit}/{total})" if total else "-"


def _slice_table(title: str, slices: dict[str, Slice]) -> list[str]:
    """One row per slice: red-flag recall, clinical and administrative over-triage."""
    width = max([len(title)] + [len(k) for k in slices])
    head = (f"{title:<{width}}  {'cases':>5}  {'red-flag recall':<20}  "
            f"{'clinical -> emergency':<22}  {'admin -> emergency':<20}  full match")
    lines = [head]
    for name, s in slices.items():
        lines.append(f"{name:<{width}}  {s.cases:>5}  {_frac(s.red_hit, s.red):<20}  "
                     f"{_frac(s.clinical_over, s.clinical):<22}  "
                     f"{_frac(s.admin_over, s.admin):<20}  {_frac(s.full_match, s.cases)}")
    return lines


@triage.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Figures and misses as one JSON object.")
@click.option("--min-recall", type=click.FloatRange(0, 1), default=RED_FLAG_RECALL_BAR,
              show_default=True, help="Red-flag recall bar.")
@click.option("--min-accuracy", type=click.FloatRange(0, 1), default=DEPARTMENT_ACCURACY_BAR,
              show_default=True, help="Department accuracy bar.")
@RULES_OPTION
def eval_cmd(file: Path, as_json: bool, min_recall: float, min_accuracy: float,
             rules: Path | None, rules_only: bool) -> None:
    """Evaluate on a labelled JSONL file ({text, lang, urgency, department[, tags, context,
    red_flag, category, group, speaker]}): red-flag recall (red flag labelled -> urgency
    1 given), over-triage (non-red clinical / administrative calls given urgency 1),
    department accuracy, figures per language and category, a fairness table (by
    language, patient group, speaker) and a confusion table. Exit 1 below the bars."""
    triager = _triager(rules, rules_only)
    try:
        cases = load_cases(file)
    except LabelError as exc:
        raise click.ClickException(f"LabelError: {exc}") from None
    report = evaluate(triager, cases)
    ok = report.passes(min_recall, min_accuracy)
    summary = report.summary()
    if as_json:
        click.echo(json.dumps({**summary, "rules_version": triager.rules.version,
                               "bars": {"red_flag_recall": min_recall,
                                        "department_accuracy": min_accuracy},
                               "passed": ok}, ensure_ascii=False, indent=2))
        raise SystemExit(0 if ok else 1)
    red = report.red_flag_cases
    langs = ", ".join(f"{k} {v}" for k, v in summary["languages"].items())
    click.echo(f"{file}: {len(cases)} utterances ({langs}); rules version "
               f"{triager.rules.version}")
    click.echo(f"red-flag recall      {_pct(report.red_flag_recall):>8}  "
               f"({sum(o.decision.urgency == 1 for o in red)}/{len(red)})  bar {_pct(min_recall)}")
    click.echo(f"red-flag precision   {_pct(report.red_flag_precision):>8}")
    click.echo(f"department accuracy  {_pct(report.department_accuracy):>8}  "
               f"({sum(o.department_ok for o in report.outcomes)}/{len(cases)})  "
               f"bar {_pct(min_accuracy)}")
    click.echo(f"urgency accuracy     {_pct(report.urgency_accuracy):>8}  "
               f"(under-triaged {len(report.under_triaged)}, "
               f"over-triaged {len(report.over_triaged)})")
    overall = report.overall
    click.echo(f"over-triage          clinical (non-red) -> emergency "
               f"{_frac(overall.clinical_over, overall.clinical)}, "
               f"administrative -> emergency {_frac(overall.admin_over, overall.admin)}")
    click.echo("")
    for line in _slice_table("language", report.sliced("lang")):
        click.echo(line)
    click.echo("")
    for line in _slice_table("category", report.sliced("category")):
        click.echo(line)
    for key, title in (("group", "patient group"), ("speaker", "speaker")):
        if report.has(key):
            click.echo("")
            for line in _slice_table(title, report.sliced(key)):
                click.echo(line)
    click.echo("")
    for line in _confusion(report):
        click.echo(line)
    misses = summary["misses"]
    if misses:
        click.echo(f"\n{len(misses)} miss(es):")
        for m in misses:
            click.echo(f"  {file}:{m['line']}: expected {m['expected'][0]} {m['expected'][1]}, "
                       f"given {m['given'][0]} {m['given'][1]}: {m['text']}")
            for reason in m["reasons"]:
                click.echo(f"      - {reason}")
    click.echo(f"\n{'PASS' if ok else 'FAIL'}")
    raise SystemExit(0 if ok else 1)


def _section(department: str, urgency: int) -> str:
    if department == "crisis":
        return "crisis"
    if urgency == 1:
        return "red_flags"
    if urgency == 4:
        return f"requests.{department}"
    return f"symptoms (department {department}, urgency {urgency})"


def _known_phrases(rules: _Rules) -> list[str]:
    return [p.replace("*", "") for e in rules.entries.values() for ps in e.phrases.values()
            for p in ps]


@triage.command("review")
@click.argument("file", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--since", default="30d", show_default=True,
              help="From the call records: dispositions since (24h, 7d, 2026-11-01).")
@click.option("--db", "db_url", metavar="URL", help="Database URL (default: from settings).")
@click.option("--json", "as_json", is_flag=True, help="Disagreements and suggestions as JSON.")
@RULES_OPTION
def review_cmd(file: Path | None, since: str, db_url: str | None, as_json: bool,
               rules: Path | None, rules_only: bool) -> None:
    """Where the engine and the agents' final dispositions disagree, with the
    transcripts and phrases to consider adding to the rules.

    Without FILE: the dispositions agents recorded at wrap-up (`ivr disposition`)
    in the call records, with the words each call was triaged on (needs the
    read_transcripts role; audited). FILE: JSONL exported from elsewhere, one call
    per line: {"transcript", "lang", "agent_department", "agent_urgency"}.
    Exit 1 if a call the agent marked urgency 1 was given a lower urgency."""
    triager = _triager(rules, rules_only)
    if file is None:
        from ivr.cli.records import _authorize, _engine, _since
        from ivr.privacy.roles import Action
        from ivr.store.dispositions import disposition_cases

        engine = _engine(db_url)
        start = _since(since)
        _authorize(engine, Action.READ_TRANSCRIPTS, f"dispositions since {start:%Y-%m-%d}")
        calls = disposition_cases(engine, start)
        file = Path("records")
    else:
        try:
            calls = load_dispositions(file)
        except LabelError as exc:
            raise click.ClickException(f"LabelError: {exc}") from None
    found = review(triager, calls)
    groups: dict[tuple[str, int], list[str]] = defaultdict(list)
    for d in found:
        if d.kind != "over-triaged":
            groups[(d.case.department, d.case.urgency)].append(d.case.text)
    known = _known_phrases(triager.rules)
    suggestions = [{"add_to": _section(dept, urg), "department": dept, "urgency": urg,
                    "phrases": [{"phrase": p, "calls": n} for p, n in
                                suggest_phrases(texts, known)]}
                   for (dept, urg), texts in sorted(groups.items(), key=lambda kv: kv[0][1])]
    missed = sum(d.kind == "missed red flag" for d in found)
    if as_json:
        click.echo(json.dumps({"calls": len(calls), "disagreements": [
            {**miss_dict(d.case, d.decision), "kind": d.kind} for d in found],
            "suggestions": suggestions},
            ensure_ascii=False, indent=2))
        raise SystemExit(1 if missed else 0)
    click.echo(f"{file}: {len(calls)} calls, {len(found)} disagreement(s) "
               f"({missed} missed red flag(s))")
    for d in found:
        click.echo(f"\n[{d.kind}] {file}:{d.case.line}: agent {d.case.urgency} "
                   f"{d.case.department}, engine {d.decision.urgency} {d.decision.department}")
        click.echo(f"  transcript: {d.case.text}")
        for reason in d.decision.reasons:
            click.echo(f"    - {reason}")
    if suggestions:
        click.echo("\nphrases to consider (a clinician decides; then run `ivr triage eval`):")
        for s in suggestions:
            if s["phrases"]:
                listed = ", ".join(f"'{p['phrase']}' ({p['calls']})" for p in s["phrases"])
                click.echo(f"  {s['add_to']}: {listed}")
    raise SystemExit(1 if missed else 0)


triage.add_command(protocols)
triage.add_command(examples)


@triage.command("validate")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Findings as JSON.")
def validate_cmd(file: Path | None, as_json: bool) -> None:
    """Check a rules file (default: triage_rules.yaml) and the meaning screen's examples
    beside it (triage_examples.yaml): every finding with file:line:col."""
    path = file or RULES_PATH
    if not path.exists():
        raise click.UsageError(f"no rules file: {path}")
    rules, found = check_file(path)
    from ivr.triage import examples as ex

    beside = ex.path_beside(rules) if rules is not None else path.with_name(ex.EXAMPLES_FILE)
    examples = None
    if beside.exists():  # the meaning screen's examples, checked with the rules
        examples, more = ex.check_file(beside)
        found = [*found, *more]
    errors = [d for d in found if d.severity == "error"]
    if as_json:
        click.echo(json.dumps({"ok": not errors, "file": str(path),
                               "diagnostics": [d.as_dict() for d in found]},
                              ensure_ascii=False, indent=2))
    else:
        for d in found:
            click.echo(str(d))
        if rules is not None:
            kinds: dict[str, int] = defaultdict(int)
            for e in rules.entries.values():
                kinds[e.kind] += 1
            phrases = sum(len(p) for e in rules.entries.values() for p in e.phrases.values())
            names = {"red_flag": "red flags", "crisis": "crisis entries", "symptom": "symptoms",
                     "modifier": "modifiers", "request": "requests"}
            click.echo(f"ok: {path} version {rules.version}: "
                       + ", ".join(f"{n} {names[k]}" for k, n in kinds.items())
                       + f", {len(rules.combinations)} combinations, {phrases} phrases")
        if examples is not None:
            labels: dict[str, int] = defaultdict(int)
            for e in examples.examples:
                labels[e.label] += 1
            click.echo(f"ok: {beside} version {examples.version}: "
                       + ", ".join(f"{n} {k}" for k, n in labels.items())
                       + (" (meaning screen off: policy.enabled false)"
                          if not examples.policy.enabled else ""))
        for where in sorted({d.file for d in errors}):
            n = sum(d.file == where for d in errors)
            click.echo(f"{n} error(s) in {where}", err=True)
    raise SystemExit(1 if errors else 0)
