"""The live board from literal inputs: recorder events as the engine records them and
AMI events as Asterisk 22 sends them (header names and values as on the wire)."""

import asyncio
from datetime import UTC, datetime, timedelta

from ivr import events as ev
from ivr.live.board import CallState, LiveBoard
from ivr.live.members import AgentState, extension_of, member_state

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def mask(number: str) -> str:
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


def board() -> tuple[LiveBoard, Clock]:
    clock = Clock()
    return LiveBoard(mask, clock=clock), clock


def join(uniqueid: str, queue: str, position: int, count: int, number: str = "13800138003",
         **more: str) -> dict[str, str]:
    return {"Event": "QueueCallerJoin", "Privilege": "agent,all",
            "Channel": f"Local/quiet@sim-patient-0000000{uniqueid[-1]};2",
            "ChannelState": "6", "ChannelStateDesc": "Up", "CallerIDNum": number,
            "CallerIDName": "Patient", "Uniqueid": uniqueid, "Linkedid": uniqueid,
            "Queue": queue, "Position": str(position), "Count": str(count), **more}


def member(interface: str, queue: str, status: str, paused: str = "0", reason: str = "",
           in_call: str = "0", event: str = "QueueMemberStatus") -> dict[str, str]:
    return {"Event": event, "Privilege": "agent,all", "Queue": queue,
            "MemberName": f"Agent {interface[-4:]}", "Interface": interface,
            "StateInterface": interface, "Membership": "dynamic", "Penalty": "0",
            "CallsTaken": "0", "LastCall": "0", "LastPause": "0", "LoginTime": "1764666000",
            "InCall": in_call, "Status": status, "Paused": paused, "PausedReason": reason,
            "Ringinuse": "0", "Wrapuptime": "0"}


def agent_event(name: str, uniqueid: str, interface: str, queue: str = "emergency",
                **more: str) -> dict[str, str]:
    return {"Event": name, "Privilege": "agent,all", "Channel": "Local/x@sim-patient;2",
            "Uniqueid": uniqueid, "DestChannel": f"{interface}-00000007",
            "DestUniqueid": "1764666100.20", "Queue": queue, "MemberName": "Agent",
            "Interface": interface, **more}


def engine_call(b: LiveBoard, uniqueid: str, call_id: str, *events: ev.Event) -> None:
    for e in (ev.Start(channel="Local/x;2", caller_masked="138****03", flow="main",
                       language="en-US"), *events):
        b.on_event(uniqueid, call_id, e)


def test_an_engine_call_from_start_to_end():
    b, clock = board()
    engine_call(b, "1764666000.1", "c1",
                ev.Prompt(step="ask", text="What is the matter?", lang="en-US"),
                ev.Turn(step="ask", text="my chest hurts", confidence=0.9),
                ev.Triage(step="triage", text="my chest hurts", lang="en-US", urgency=1,
                          department="cardiology", queue_priority=10,
                          reasons=["chest pain"], symptoms=["chest_pain"]),
                ev.Route(step="emergency", queue="emergency", priority=10,
                         summary="U1 chest pain"))
    call = b.call("c1")
    assert call is not None and call.state == CallState.IN_FLOW
    assert (call.caller_masked, call.flow, call.language) == ("138****03", "main", "en-US")
    assert [t["who"] for t in call.transcript] == ["line", "caller"]
    assert (call.urgency, call.department, call.queue, call.priority) == (
        1, "cardiology", "emergency", 10)
    assert call.reasons == ["chest pain"] and call.summary == "U1 chest pain"

    clock.tick(1)
    b.take_ami(join("1764666000.1", "emergency", 1, 1))
    assert call.state == CallState.WAITING and call.waiting_since == clock.now
    clock.tick(4)
    assert b.snapshot()["waiting"][0]["wait_seconds"] == 4.0
    b.take_ami(member("PJSIP/1002", "emergency", "1"))
    b.take_ami(agent_event("AgentCalled", "1764666000.1", "PJSIP/1002"))
    assert call.state == CallState.RINGING and call.agent_extension == "1002"
    assert b.agents()[0].state == AgentState.RINGING
    b.take_ami(agent_event("AgentConnect", "1764666000.1", "PJSIP/1002", HoldTime="5",
                           RingTime="2"))
    b.take_ami({"Event": "QueueCallerLeave", "Uniqueid": "1764666000.1",
                "Queue": "emergency", "Position": "1", "Count": "0"})
    assert call.state == CallState.TALKING and call.agent_channel == "PJSIP/1002-00000007"
    assert b.call_for_agent("1002") is call and b.waiting() == []
    assert b.agents()[0].state == AgentState.IN_CALL
    b.take_ami(agent_event("AgentComplete", "1764666000.1", "PJSIP/1002", TalkTime="30",
                           Reason="agent"))
    b.on_event("1764666000.1", "c1", ev.QueueResult(queue="emergency", priority=10,
                                                    status="ANSWERED", agent="PJSIP/1002"))
    b.on_event("1764666000.1", "c1", ev.End(outcome="answered", seconds=40.0))
    assert call.state == CallState.ENDED and call.outcome == "answered"
    assert b.agents()[0].state == AgentState.REGISTERED
    assert b.call_for_agent("1002") is None
    clock.tick(601)
    assert b.calls() == [] and b.call("c1") is None  # kept for wrap-up, then let go


def test_waiting_callers_emergency_first_then_longest_wait():
    b, clock = board()
    for i, prio in [(1, 1), (2, 1), (3, 10)]:
        engine_call(b, f"1764666000.{i}", f"c{i}",
                    ev.Route(step="emergency", queue="emergency", priority=prio))
        b.take_ami(join(f"1764666000.{i}", "emergency", i, i))
        clock.tick(3)
    assert [c.call_id for c in b.waiting()] == ["c3", "c1", "c2"]
    assert [c.call_id for c in b.waiting("operator")] == []


def test_an_unanswered_ring_puts_the_caller_back_to_waiting():
    b, _ = board()
    engine_call(b, "1.1", "c1", ev.Route(queue="results", priority=1))
    b.take_ami(join("1.1", "results", 1, 1))
    b.take_ami(member("PJSIP/1003", "results", "1"))
    b.take_ami(agent_event("AgentCalled", "1.1", "PJSIP/1003", queue="results"))
    b.take_ami(agent_event("AgentRingNoAnswer", "1.1", "PJSIP/1003", queue="results",
                           RingTime="15"))
    assert b.call("c1").state == CallState.WAITING and b.call("c1").agent_extension is None
    assert b.agents()[0].state == AgentState.REGISTERED
    # the queue gives up: the engine tries the operator next
    b.take_ami({"Event": "QueueCallerLeave", "Uniqueid": "1.1", "Queue": "results",
                "Position": "1", "Count": "0"})
    b.on_event("1.1", "c1", ev.QueueResult(queue="results", status="TIMEOUT"))
    b.on_event("1.1", "c1", ev.Route(step="operator", queue="operator", priority=3,
                                     escalation=True))
    assert b.call("c1").state == CallState.IN_FLOW
    assert (b.call("c1").queue, b.call("c1").department) == ("operator", "operator")


def test_a_red_flag_is_the_top_urgency_and_a_crisis_is_marked():
    b, _ = board()
    engine_call(b, "1.1", "c1", ev.RedFlag(step="ask", text="seizure", lane="emergency",
                                           reasons=["seizure"]))
    engine_call(b, "1.2", "c2", ev.RedFlag(step="ask", lane="crisis", reasons=["self harm"]))
    assert (b.call("c1").urgency, b.call("c1").red_flag) == (1, True)
    assert b.call("c2").crisis and b.call("c2").urgency is None


def test_another_engines_caller_shows_masked_from_ami_alone():
    b, _ = board()
    b.take_ami(join("9.9", "operator", 1, 1, number="13800138003"))
    (call,) = b.waiting()
    assert call.call_id is None and call.caller_masked == "138******03"
    assert "13800138003" not in str(b.snapshot())
    b.take_ami({"Event": "QueueCallerAbandon", "Uniqueid": "9.9", "Queue": "operator",
                "Position": "1", "OriginalPosition": "1", "HoldTime": "12"})
    assert call.state == CallState.ENDED and call.outcome == "abandoned"


def test_members_paused_with_reason_unregistered_and_removed():
    b, _ = board()
    b.take_ami(member("PJSIP/1001", "pharmacy", "1", event="QueueMemberAdded"))
    b.take_ami(member("PJSIP/1001", "appointments", "1", event="QueueMemberAdded"))
    b.take_ami(member("PJSIP/1002", "emergency", "5"))
    b.take_ami(member("PJSIP/1001", "pharmacy", "1", paused="1", reason="lunch",
                      event="QueueMemberPause"))
    one, two = b.agents()
    assert (one.state, one.pause_reason, one.queues) == (
        AgentState.PAUSED, "lunch", {"pharmacy", "appointments"})
    assert two.state == AgentState.UNAVAILABLE
    b.take_ami(member("PJSIP/1001", "pharmacy", "1", event="QueueMemberRemoved"))
    assert b.agents()[0].queues == {"appointments"}
    b.take_ami(member("PJSIP/1001", "appointments", "1", event="QueueMemberRemoved"))
    assert [a.extension for a in b.agents()] == ["1002"]


def test_member_state_from_device_numbers():
    assert member_state({"Status": "1"}) == AgentState.REGISTERED
    assert member_state({"Status": "6"}) == AgentState.RINGING
    assert member_state({"Status": "2"}) == AgentState.IN_CALL
    assert member_state({"Status": "1", "InCall": "1"}) == AgentState.IN_CALL
    assert member_state({"Status": "4"}) == AgentState.UNAVAILABLE
    assert member_state({"Status": "1", "Paused": "1"}) == AgentState.PAUSED
    assert member_state({"Status": "2", "Paused": "1"}) == AgentState.IN_CALL
    assert member_state({}) == AgentState.UNAVAILABLE
    assert extension_of("PJSIP/1002") == "1002"
    assert extension_of("PJSIP/1002-0000000a") == "1002"


def test_startup_sync_from_a_queue_status_answer():
    """A board started mid-shift: QueueStatus as Asterisk answers it."""
    b, clock = board()
    engine_call(b, "1.5", "c5", ev.Route(queue="cardiology", priority=2))
    b.take_ami(join("1.5", "cardiology", 1, 1))  # left while AMI was down: not in the list
    b.load_status([
        {"Event": "QueueParams", "Queue": "emergency", "Max": "0", "Strategy": "ringall",
         "Calls": "1", "Holdtime": "0", "TalkTime": "0", "Completed": "0",
         "Abandoned": "0", "ServiceLevel": "0", "ServicelevelPerf": "0.0", "Weight": "100"},
        {"Event": "QueueMember", "Queue": "emergency", "Name": "Agent 1002",
         "Location": "PJSIP/1002", "StateInterface": "PJSIP/1002", "Membership": "dynamic",
         "Penalty": "0", "CallsTaken": "3", "LastCall": "0", "LastPause": "0",
         "LoginTime": "1764666000", "InCall": "0", "Status": "6", "Paused": "0",
         "PausedReason": "", "Wrapuptime": "0"},
        {"Event": "QueueEntry", "Queue": "emergency", "Position": "1",
         "Channel": "PJSIP/trunk-00000002", "Uniqueid": "1.7", "CallerIDNum": "13912345678",
         "CallerIDName": "unknown", "ConnectedLineNum": "unknown",
         "ConnectedLineName": "unknown", "Priority": "10", "Wait": "42"},
        {"Event": "QueueStatusComplete", "EventList": "Complete", "ListItems": "3"},
    ])
    (agent,) = b.agents()
    assert (agent.extension, agent.state, agent.calls_taken) == ("1002", AgentState.RINGING, 3)
    (waiting,) = b.waiting()
    assert (waiting.uniqueid, waiting.priority, waiting.caller_masked) == (
        "1.7", 10, "139******78")
    assert waiting.waiting_since == clock.now - timedelta(seconds=42)
    assert b.call("c5").state == CallState.IN_FLOW


def test_voice_cue_and_conference_events_typed_later():
    """D's VoiceCue and B's Conference: read by kind, typed or not yet."""
    b, _ = board()
    engine_call(b, "1.1", "c1", ev.Other(kind="voice_cue", detail={
        "score": 0.8, "baseline": 0.4, "rising": True}))
    engine_call(b, "1.1", "c1", ev.Other(kind="conference", detail={"state": "joined"}))
    assert b.call("c1").voice_cue["rising"] is True
    assert b.call("c1").conference["state"] == "joined"


def test_a_bad_event_never_breaks_the_call_feeding_it():
    b, _ = board()
    b.on_ami(None, {"Event": "QueueCallerJoin", "Uniqueid": "1.1", "Position": object()})
    b.on_event("1.1", "c1", ev.Triage(urgency="x"))  # type: ignore[arg-type]


async def test_subscribers_get_updates_and_a_resync_when_behind():
    b, _ = board()
    updates = b.subscribe()
    first = asyncio.ensure_future(anext(updates))
    await asyncio.sleep(0)
    engine_call(b, "1.1", "c1")
    got = await asyncio.wait_for(first, 1)
    assert got["kind"] == "call" and got["call"]["call_id"] == "c1"
    for i in range(300):
        b.take_ami(member("PJSIP/1001", "pharmacy", str(i % 2)))
    assert (await asyncio.wait_for(anext(updates), 1))["kind"] == "resync"
    await updates.aclose()
    assert not b._subscribers
