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
    """The flow set in use. ``cache_dir``: keep the validated set there and take it from
    there when the files are unchanged (``ivr.flows.flow_cache``; for ``ivr-eagi``, a
    process per call)."""

    def __init__(self, dialplans: Path, prompts: Path, cache_dir: Path | None = None) -> None:
        self.dialplans = dialplans
        self.prompts = prompts
        self.cache_dir = cache_dir
        self.current: FlowSet | None = None
        self.last_errors: list[Diagnostic] = []
        self.reloads = 0
        # (lang, text) -> recorded file of the current set: found once per load (in the
        # watcher's thread), not stat-ed per call on the event loop
        self._recordings: dict[tuple[str, str], Path] = {}
        self._watcher = Watcher("flow", self.signature, self.load, kept="set")

    def signature(self) -> Signature:
        return signature([*self.dialplans.glob("*.yaml"), *self.prompts.glob("*.yaml"),
                          *self.prompts.glob("*/*.wav")])

    def recordings(self) -> dict[tuple[str, str], Path]:
        """(lang, prompt text) -> recorded file, for prompts with ``prompts/<lang>/<id>.wav``,
        as found at the last load (a new or removed ``.wav`` changes the watched files'
        signature, so it reloads). The same dict until then: ``PromptLibrary`` keeps its
        caches while it is."""
        return self._recordings

    def _find_recordings(self, flow_set: FlowSet) -> dict[tuple[str, str], Path]:
        found: dict[tuple[str, str], Path] = {}
        for lang, texts in flow_set.prompts.items():
            for prompt_id, text in texts.items():
                wav = self.prompts / lang / f"{prompt_id}.wav"
                if wav.exists():
                    found[(lang, text)] = wav
        return found

    def load(self) -> bool:
        """Validate the folders; replace the current set only if valid. True if replaced."""
        self._watcher.mark()
        if self.cache_dir is not None:
            from ivr.flows.flow_cache import cached_flow_set

            flow_set, found = cached_flow_set(self.dialplans, self.prompts, self.cache_dir)
        else:
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
        # a new dict on every load, even an equal one (a .wav rewritten in place): the
        # prompt caches start again with the new set
        self._recordings = self._find_recordings(flow_set)
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
