"""Hot reload of ``triage_rules.yaml``: the running engine's triager follows the file.

Within a second of a change (``ivr.watch``, the same poller as the flows' reload)
the file is read (bounded: ``ivr.triage.rules.MAX_BYTES`` and the alias/node
limits) and validated with every check of ``ivr triage validate``; only rules
without an error are compiled and swapped in, by one reference assignment. An
invalid edit is logged with each finding as ``file:line:col: error[TRInnn]
...`` and the last good rules keep deciding; so does a file that is deleted,
unreadable or not UTF-8. At engine start there is no last good version: the
findings are raised and the engine does not start, as before.

Calls in progress see the new rules at their next decision (the store is the
triager every call holds, and each ``decide`` takes the rules current at that
moment), unlike flows, where a call keeps the set it started with. That is the
safe side for triage: a decision is self-contained (words and context in, level,
department and reasons out; nothing a later step reads depends on the rules that
made an earlier one), so mixing versions within a call cannot break a call the
way a step id vanishing from an edited flow would; and the edit that matters
most is a red-flag phrase clinicians found missing, which should protect the
caller already at a menu, not only the next one. Only validated rules are ever
swapped in, so a call can never meet a broken file. Each triage row records the
``rules_version`` that decided it, so a call that straddles an edit shows which
rules made which decision.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from ivr.flows.diagnostics import Diagnostic
from ivr.triage.decision import TriageDecision
from ivr.triage.engine import RuleTriager
from ivr.triage.rules import RULES_PATH, Rules, RulesError, check_text, read_bounded
from ivr.watch import Signature, Watcher, signature

log = logging.getLogger(__name__)


class RulesStore:
    """The last good rules of one file, as a ``Triager``; reloads while watching."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path or RULES_PATH)
        self.current: RuleTriager | None = None
        self.digest = ""  # sha256 of the text now deciding
        self.last_errors: list[Diagnostic] = []  # findings of the last rejected edit
        self.reloads = 0
        self._watcher = Watcher("triage rules", self.signature, self.load, kept="rules")

    # --- the Triager the flows hold ---------------------------------------------
    def decide(self, text: str, lang: str = "zh",
               context: dict[str, object] | None = None) -> TriageDecision:
        triager = self.current  # read once: the whole decision uses one version
        if triager is None:
            raise RuntimeError(f"no triage rules loaded from {self.path}")
        return triager.decide(text, lang, context)

    @property
    def rules(self) -> Rules:
        if self.current is None:
            raise RuntimeError(f"no triage rules loaded from {self.path}")
        return self.current.rules

    # --- loading ------------------------------------------------------------------
    def signature(self) -> Signature:
        from ivr.triage.examples import EXAMPLES_FILE

        return signature([self.path, self.path.with_name(EXAMPLES_FILE)])

    def load(self) -> bool:
        """Read and validate the file; swap in its rules only if valid. True if swapped.

        Without last good rules (at start) a missing file raises OSError and an invalid
        one RulesError with every finding; afterwards both are logged and kept out."""
        self._watcher.mark()  # before reading: an edit made while we read is seen next
        try:
            text = read_bounded(self.path)
        except OSError as exc:
            if self.current is None:
                raise
            log.error("triage rules file %s unreadable (%s); still deciding with rules "
                      "version %s", self.path, exc.strerror or exc, self.current.rules.version)
            return False
        digest = ""
        if isinstance(text, Diagnostic):  # too large or not UTF-8
            rules, found = None, [text]
        else:
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            if self.current is not None and digest == self.digest:
                self.last_errors = []
                # the examples beside may have changed: checked and embedded here, in the
                # watcher's thread, not at a caller's next answer
                self.current.warm_up()
                return False  # touched, or rewritten with the same text
            rules, found = check_text(text, str(self.path))
        errors = [d for d in found if d.severity == "error"]
        if rules is None or errors:
            if self.current is None:
                raise RulesError(errors)
            log.error("triage rules change rejected (%d error(s)); still deciding with rules "
                      "version %s:\n%s", len(errors), self.current.rules.version,
                      "\n".join(str(d) for d in errors))
            self.last_errors = errors
            return False
        for d in found:
            log.warning("%s", d)
        triager = RuleTriager(rules)  # compiled here, in the reload thread, before the swap
        triager.warm_up()  # and the meaning screen loaded
        if self.current is not None and self.current.rules.version == rules.version:
            log.warning("triage rules %s changed but still say version %s: call records "
                        "cannot tell the two apart (raise 'version:' with each edit)",
                        self.path, rules.version)
        self.last_errors = []
        self.digest = digest
        self.current = triager  # one reference swap: atomic for every next decision
        self.reloads += 1
        log.info("deciding with triage rules version %s (%s, sha256 %s)", rules.version,
                 self.path, digest[:12])
        return True

    def start_watching(self, interval: float = 1.0) -> None:
        self._watcher.start(interval)

    async def stop(self) -> None:
        await self._watcher.stop()
