"""The call-path half of skills routing, without Asterisk: the variables and rule of a
Queue() attempt, members read through dialplan functions, the handset's display name
as pyVoIP parses it, and the handoff the route step gives each queue attempt."""

from __future__ import annotations

from types import SimpleNamespace

from ivr.agents import Agent, AgentBook
from ivr.flows.people import agent_handoff
from ivr.sim.handset import from_display
from ivr.telephony.agi_protocol import AgiReply, command
from ivr.telephony.channel import AgiCallControl
from ivr.telephony.skills import (
    FLAT_RULE,
    PREFER_RULE,
    MemberState,
    Routing,
    is_free,
    member_interfaces,
    member_state,
    plan_queue,
    queue_plan,
    read_members,
)

BOOK = AgentBook((
    Agent(extension="1001", name="Adults", languages=("en-US",), queues=("general_medicine",)),
    Agent(extension="1002", name="Kids", languages=("en-US",), skills=("pediatrics",),
          queues=("general_medicine",)),
))

ASTERISK = {  # what the dialplan functions return for general_medicine, both free
    "QUEUE_MEMBER_LIST(general_medicine)": "PJSIP/1001,PJSIP/1002",
    "QUEUE_MEMBER(general_medicine,penalty,PJSIP/1001)": "1",
    "QUEUE_MEMBER(general_medicine,penalty,PJSIP/1002)": "2",
    "QUEUE_MEMBER(general_medicine,paused,PJSIP/1001)": "0",
    "QUEUE_MEMBER(general_medicine,paused,PJSIP/1002)": "0",
    "DEVICE_STATE(PJSIP/1001)": "NOT_INUSE",
    "DEVICE_STATE(PJSIP/1002)": "NOT_INUSE",
}


def reader(values: dict[str, str]):
    asked: list[str] = []

    async def get(name: str) -> str | None:
        asked.append(name)
        return values.get(name)
    return get, asked


def test_plans_set_all_three_penalties_so_rules_apply():
    flat = queue_plan(None)
    assert flat.rule == FLAT_RULE
    assert flat.variables == {"QUEUE_MIN_PENALTY": "0", "QUEUE_MAX_PENALTY": "1000",
                              "QUEUE_RAISE_PENALTY": "0"}
    prefer = queue_plan((2, 2))
    assert prefer.rule == PREFER_RULE
    assert prefer.variables == {"QUEUE_MIN_PENALTY": "2", "QUEUE_MAX_PENALTY": "2",
                                "QUEUE_RAISE_PENALTY": "0"}


def test_member_parsing():
    assert member_interfaces(" PJSIP/1001 ,,PJSIP/1002") == ["PJSIP/1001", "PJSIP/1002"]
    assert member_interfaces("") == []
    assert not is_free("RINGING", "0") and not is_free(None, None)
    assert member_state("PJSIP/1001", "3", "NOT_INUSE", "0") == MemberState(
        "PJSIP/1001", 3, True)
    assert member_state("PJSIP/1001", None, "NOT_INUSE", "0") is None  # unreadable: left out


async def test_read_members_through_dialplan_functions():
    get, asked = reader(ASTERISK)
    got = await read_members(get, "general_medicine")
    assert got == [MemberState("PJSIP/1001", 1, True), MemberState("PJSIP/1002", 2, True)]
    assert asked[0] == "QUEUE_MEMBER_LIST(general_medicine)"


async def test_child_call_prefers_the_paediatric_nurse_while_free():
    routing = Routing(BOOK)
    get, _ = reader(ASTERISK)
    child = {"caller.age_group": "child"}
    plan = await plan_queue(routing, get, "general_medicine", "en-US", child)
    assert (plan.rule, plan.variables["QUEUE_MIN_PENALTY"],
            plan.variables["QUEUE_MAX_PENALTY"]) == (PREFER_RULE, "2", "2")
    busy, _ = reader({**ASTERISK, "DEVICE_STATE(PJSIP/1002)": "INUSE"})
    assert (await plan_queue(routing, busy, "general_medicine", "en-US", child)).rule == (
        FLAT_RULE)  # nobody waits for a busy preferred agent
    adult, _ = reader(ASTERISK)
    assert (await plan_queue(routing, adult, "general_medicine", "en-US", {})).rule == (
        FLAT_RULE)


async def test_no_routing_or_emergency_reads_nothing():
    get, asked = reader(ASTERISK)
    assert (await plan_queue(None, get, "general_medicine", "en-US", {})).rule == FLAT_RULE
    assert (await plan_queue(Routing(BOOK), get, "emergency", "en-US",
                             {"caller.age_group": "child"})).rule == FLAT_RULE
    assert asked == []


def test_display_name_as_pyvoip_parses_a_quoted_from():
    assert from_display({"caller": '"U2 fever 139**07" '}) == "U2 fever 139**07"
    assert from_display({"caller": "Agent 1001"}) == "Agent 1001"
    assert from_display({"caller": ""}) == "" and from_display("x") == ""


def test_each_queue_attempt_gets_its_own_handoff():
    variables = {"caller.number": "13900139007", "triage.urgency": 2,
                 "triage.symptoms": "fever", "caller.age_group": "child"}
    got = agent_handoff(variables, "general_medicine", "en-US")
    assert got.display == "U2 fever 139**07"
    assert got.whisper == "urgent, fever"
    assert got.language == "en-US" and got.variables["caller.age_group"] == "child"
    plain = agent_handoff({"caller.number": "13900139007"}, "operator", "en-US")
    assert plain.display.endswith("139**07")


class ScriptedAgi(AgiCallControl):
    """The AGI commands transfer_to_queue sends, against canned dialplan answers."""

    def __init__(self, values: dict[str, str], routing: Routing | None) -> None:
        self.values = values
        self.routing = routing
        self.sent: list[str] = []
        self.prompts = SimpleNamespace(sound_for=self._sound)  # type: ignore[assignment]

    async def _sound(self, text: str, lang: str, profile: str) -> str:
        return f"/ivr/t/sounds/tts-{len(text)}"

    async def command(self, line: str, *, on_dead_channel: bool = False) -> AgiReply:
        self.sent.append(line)
        if line.startswith("GET VARIABLE"):
            name = line.split('"')[1]
            value = self.values.get(name)
            return AgiReply(200, "1" if value is not None else "0", value)
        return AgiReply(200, "1")

    def _mark_gone(self) -> None:
        pass


async def test_transfer_to_queue_sets_window_name_and_whisper_then_unsets():
    handoff = agent_handoff({"caller.number": "13900139007", "triage.urgency": 2,
                             "triage.symptoms": "fever", "caller.age_group": "child"},
                            "general_medicine", "en-US")
    agi = ScriptedAgi(ASTERISK, Routing(BOOK, whisper=True))
    await agi.transfer_to_queue("general_medicine", 3, handoff=handoff)
    queue = next(i for i, c in enumerate(agi.sent) if c.startswith('EXEC "Queue"'))
    before, after = agi.sent[:queue], agi.sent[queue + 1:]
    assert 'SET VARIABLE "__IVR_AGENT_DISPLAY" "U2 fever 139**07"' in before
    assert 'SET VARIABLE "QUEUE_MIN_PENALTY" "2"' in before
    assert 'SET VARIABLE "QUEUE_MAX_PENALTY" "2"' in before
    assert 'SET VARIABLE "QUEUE_RAISE_PENALTY" "0"' in before
    assert agi.sent[queue] == command(
        "EXEC", "Queue", "general_medicine,b(ivr-agent-predial^s^1),,"
        "/ivr/t/sounds/tts-13,,,,ivr-prefer")  # "urgent, fever" as the announcement
    for name in ("QUEUE_MIN_PENALTY", "QUEUE_MAX_PENALTY", "QUEUE_RAISE_PENALTY"):
        assert f'SET VARIABLE "{name}" ""' in after  # the fallback's Queue() sees all


async def test_whisper_off_and_unreadable_members_still_queue():
    handoff = agent_handoff({"caller.age_group": "child"}, "general_medicine", "en-US")
    agi = ScriptedAgi({}, Routing(BOOK, whisper=False))
    await agi.transfer_to_queue("general_medicine", 3, handoff=handoff)
    assert command("EXEC", "Queue", "general_medicine,b(ivr-agent-predial^s^1),,,,,,"
                   "ivr-flat") in agi.sent
