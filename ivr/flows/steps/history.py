"""``history``: read a verified caller's own recent calls and open follow-ups back."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field

from ivr import events as ev
from ivr.departments import department_name
from ivr.flows.context import fill
from ivr.flows.steps.base import Edge, PromptId, Result, StepBase, StepId

if TYPE_CHECKING:
    from ivr.flows.context import StepContext


class Step(StepBase):
    """Read the caller's own recent calls and open follow-ups back to them. Only reachable
    through a ``verify`` step's ``verified`` exit (checked: IVR204)."""

    type: Literal["history"]
    intro: PromptId
    item: PromptId = Field(description="Said per call; {date}, {topic}, {outcome} filled.")
    open_item: PromptId | None = Field(None, description="Said per open follow-up; {kind}, "
                                       "{due} filled.")
    none: PromptId
    max_items: int = Field(3, ge=1, le=10)
    next: StepId
    model_config = ConfigDict(title="History")
    prompt_fields: ClassVar[tuple[str, ...]] = ("intro", "item", "open_item", "none")

    def exits(self) -> list[Edge]:
        return [Edge("next", self.next, ("next",))]

    def label(self, prompts: Mapping[str, str]) -> str:
        return f"reads back up to {self.max_items} calls"

    async def run(self, ctx: StepContext) -> Result:
        state = ctx.state
        if not state.vars.get("caller.verified"):  # the validator forbids it; belt and braces
            raise RuntimeError("history step reached without verification")
        await ctx.recorder.flush()  # an in-memory database (the simulator) has one connection
        past = await asyncio.to_thread(ctx.recorder.history, state.channel.caller_number,
                                       state.call_id)
        await ctx.record(ev.History(step=ctx.sid, calls=len(past.calls),
                                    open_followups=len(past.open_followups)))
        if not past.calls and not past.open_followups:
            await ctx.speak(self.none)
            return self.next, None
        await ctx.speak(self.intro)
        for call in past.calls[:self.max_items]:
            await ctx.say_text(fill(ctx.text(self.item), {
                "date": spoken_date(call.started_at, ctx.lang),
                "topic": department_name(call.topic, ctx.lang),
                "outcome": outcome_words(call.outcome, ctx.lang)}))
        if self.open_item:
            for matter in past.open_followups[:self.max_items]:
                await ctx.say_text(fill(ctx.text(self.open_item), {
                    "kind": matter.kind.replace("_", " "),
                    "due": spoken_date(matter.due_at, ctx.lang)}))
        return self.next, None


def spoken_date(moment: dt.datetime, lang: str) -> str:
    local = moment.astimezone(ZoneInfo("Asia/Shanghai"))
    if lang == "zh-CN":
        return f"{local.month}月{local.day}日"
    return local.strftime("%d %B").lstrip("0")


OUTCOME_WORDS = {  # by the call's outcome, up to a colon ("unanswered:TIMEOUT")
    "en-US": {"answered": "you spoke with our staff", "goodbye": "the line answered you",
              "caller_hangup": "the call ended early",
              "routed": "the call ended while you waited for our staff",
              "unanswered": "our staff could not take the call",
              "other": "the call was recorded"},
    "zh-CN": {"answered": "工作人员接听了您的电话", "goodbye": "自助服务已处理",
              "caller_hangup": "通话提前结束", "routed": "您在等候转接时通话结束",
              "unanswered": "当时工作人员未能接听", "other": "通话已记录"},
}


def outcome_words(outcome: str | None, lang: str) -> str:
    words = OUTCOME_WORDS.get(lang, OUTCOME_WORDS["en-US"])
    return words.get((outcome or "").split(":")[0], words["other"])
