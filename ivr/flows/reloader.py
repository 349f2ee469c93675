"""Hot reload: watch ``dialplans/`` and ``prompts/``; swap in a new flow set only when
the whole set validates. Calls hold the set they started with, so a change never
alters a call in progress; an invalid edit is logged and the last good set keeps
serving."""

from __future__ import annotations

import logging
from pathlib import Path

from ivr.flows.diagnostics import Diagnostic, FlowValidationError
from ivr.flows.loader import load_flow_set
from ivr.flows.model import FlowSet
from ivr.watch import Signature, Watcher, signature

log = logging.getLogger(__name__)


class FlowStore:
    def __init__(self, dialplans: Path, prompts: Path) -> None:
        self.dialplans = dialplans
        self.prompts = prompts
        self.current: FlowSet | None = None
        self.last_errors: list[Diagnostic] = []
        self.reloads = 0
        self._watcher = Watcher("flow", self.signature, self.load, kept="set")

    def signature(self) -> Signature:
        return signature([*self.dialplans.glob("*.yaml"), *self.prompts.glob("*.yaml"),
                          *self.prompts.glob("*/*.wav")])

    def recordings(self) -> dict[tuple[str, str], Path]:
        """(lang, prompt text) -> recorded file, for prompts with ``prompts/<lang>/<id>.wav``."""
        found: dict[tuple[str, str], Path] = {}
        if self.current is None:
            return found
        for lang, texts in self.current.prompts.items():
            for prompt_id, text in texts.items():
                wav = self.prompts / lang / f"{prompt_id}.wav"
                if wav.exists():
                    found[(lang, text)] = wav
        return found

    def load(self) -> bool:
        """Validate the folders; replace the current set only if valid. True if replaced."""
        self._watcher.mark()
        flow_set, found = load_flow_set([self.dialplans], self.prompts)
        if flow_set is None:
            self.last_errors = [d for d in found if d.severity == "error"]
            if self.current is None:
                raise FlowValidationError(found)
            log.error("flow change rejected, still serving set %s:\n%s", self.current.version,
                      "\n".join(str(d) for d in self.last_errors))
            return False
        if "main" not in flow_set.flows:
            raise FlowValidationError([Diagnostic(str(self.dialplans), 1, 1, "IVR109",
                                                  "no flow named 'main' answers the line")])
        changed = self.current is None or flow_set.version != self.current.version
        self.current = flow_set  # one reference swap: atomic for every new call
        self.last_errors = []
        if changed:
            self.reloads += 1
            log.info("serving flow set %s (%s)", flow_set.version,
                     ", ".join(f"{f.name}@{f.version}" for f in flow_set.flows.values()))
        return changed

    async def watch(self, interval: float = 1.0) -> None:
        await self._watcher.poll(interval)

    def start_watching(self, interval: float = 1.0) -> None:
        self._watcher.start(interval)

    async def stop(self) -> None:
        await self._watcher.stop()
