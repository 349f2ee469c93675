"""``verify``: the caller proves they are the patient before anything personal is read."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import ConfigDict, Field

from ivr import events as ev
from ivr.flows.listening import Listen, Reply, collect
from ivr.flows.steps.base import Edge, PromptId, Result, Seconds, StepBase, StepId

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Check that the caller is the patient (date of birth by keypad, for the number they
    call from) before anything personal is read out."""

    type: Literal["verify"]
    prompt: PromptId = Field(description="Asks for the date of birth as 8 digits.")
    retry_prompt: PromptId | None = None
    retries: int | None = Field(None, ge=0, le=5)
    timeout: Seconds | None = None
    verified: StepId
    failed: StepId
    model_config = ConfigDict(title="Verify")
    prompt_fields: ClassVar[tuple[str, ...]] = ("prompt", "retry_prompt")
    drawn_as: ClassVar[str] = "decision"

    def exits(self) -> list[Edge]:
        return [Edge("verified", self.verified, ("verified",)),
                Edge("failed", self.failed, ("failed",))]

    async def run(self, ctx: StepContext) -> Result:
        attempts = 0

        async def check(reply: Reply) -> str | None:
            nonlocal attempts
            attempts += 1
            if len(reply.key) == 8:  # an in-memory database (the simulator): one connection
                await ctx.recorder.flush()
            ok = len(reply.key) == 8 and await asyncio.to_thread(
                ctx.recorder.verify_patient, ctx.channel.caller_number, reply.key)
            await ctx.record(ev.Verify(step=ctx.sid, verified=ok, attempt=attempts))
            return reply.key if ok else None  # the date of birth, to find the patient

        # A key pressed during an earlier prompt is not a date of birth: dropped.
        listen = Listen(self.prompt, retry_prompt=self.retry_prompt, timeout=self.timeout,
                        keys_only=True, max_digits=8, pending="drop")
        got = await collect(ctx, listen, check, retries=ctx.state.retries(self.retries))
        if got.diverted:
            return got.diverted
        if got.value:
            ctx.vars["caller.verified"] = True
            # which patient (a phone may be a family's): steps that read their own
            # records (results_status) look them up by this row, never by the phone
            await ctx.recorder.flush()
            ctx.vars["caller.patient"] = await asyncio.to_thread(
                ctx.recorder.verified_patient, ctx.channel.caller_number, got.value)
            return self.verified, None
        return self.failed, None
