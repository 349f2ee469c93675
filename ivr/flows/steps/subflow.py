"""``subflow``: continue in another flow file (appointments, results...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field

from ivr import events as ev
from ivr.flows.steps.base import ID, Finding, Result, Scope, StepBase

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


def flow_exists(flow: str, scope: Scope) -> list[Finding]:
    """IVR109 when ``flow`` is not a flow of the set (shared with ``followup``)."""
    if flow in scope.flows:
        return []
    import difflib

    if flow in scope.broken:
        why = f"flow '{flow}' has errors (reported in its file)"
    else:
        close = difflib.get_close_matches(flow, sorted(scope.flows), n=1, cutoff=0.6)
        why = f"no flow named '{flow}'" + (f" (did you mean '{close[0]}'?)" if close else "")
    return [Finding(("flow",), "IVR109", why)]


class Step(StepBase):
    """Continue in another flow file (reuse: appointments, results...)."""

    type: Literal["subflow"]
    flow: str = Field(pattern=ID)
    model_config = ConfigDict(title="Subflow")
    drawn_as: ClassVar[str] = "subflow"

    def continues_in(self) -> str:
        return self.flow

    def check(self, scope: Scope) -> list[Finding]:
        return flow_exists(self.flow, scope)

    def label(self, prompts: Mapping[str, str]) -> str:
        return f"→ flow {self.flow}"

    async def run(self, ctx: StepContext) -> Result:
        state = ctx.state
        state.flow = state.flow_set.flows[self.flow]
        await ctx.record(ev.Subflow(step=ctx.sid, flow=self.flow, version=state.flow.version))
        return state.flow.start, None
