"""Typed events keep the stored form of the untyped protocol they replace."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ivr import events as ev
from ivr.store.recorder import CallRecorder
from ivr.triage.decision import TriageDecision

# (event, stored form exactly as today's producers write it, simulate's line)
CASES: list[tuple[ev.Event, tuple[str, str, str, dict[str, Any]], str | None]] = [
    (ev.Start(channel="PJSIP/x"), ("start", "", "", {"channel": "PJSIP/x"}), None),
    (ev.End(outcome="answered", seconds=12.5),
     ("end", "", "", {"outcome": "answered", "seconds": 12.5}), None),
    (ev.End(outcome="goodbye"), ("end", "", "", {"outcome": "goodbye", "seconds": None}), None),
    (ev.Hangup(text="caller hung up"), ("hangup", "", "caller hung up", {}), None),
    (ev.RedFlag(step="menu", text="he is not breathing", lane="emergency",
                reasons=["red flag not_breathing: 'not breathing'"]),
     ("red_flag", "menu", "he is not breathing",
      {"lane": "emergency", "reasons": ["red flag not_breathing: 'not breathing'"]}),
     "    RED FLAG heard, to the emergency team: red flag not_breathing: 'not breathing'"),
    (ev.Override(text="emergency override active"),
     ("override", "", "emergency override active", {}), None),
    (ev.Error(step="s", text="RuntimeError('x')"), ("error", "s", "RuntimeError('x')", {}),
     "    ERROR: RuntimeError('x')"),
    (ev.History(step="h", calls=2, open_followups=1),
     ("history", "h", "", {"calls": 2, "open_followups": 1}), None),
    (ev.History(calls=1, open_followups=0, summary="1 call(s)"),
     ("history", "", "", {"calls": 1, "open_followups": 0, "summary": "1 call(s)"}), None),
    (ev.Profile(applied=["profile 1 (caller.age_group)"], speech_rate="elderly", timeout=8.0),
     ("profile", "", "", {"applied": ["profile 1 (caller.age_group)"],
                          "speech_rate": "elderly", "timeout": 8.0}),
     "    caller profile: ['profile 1 (caller.age_group)']"),
    (ev.Step(step="welcome", type="say", flow="main"),
     ("step", "welcome", "", {"type": "say", "flow": "main"}), "[main] welcome (say)"),
    (ev.Prompt(step="m", text="Hello", prompt="welcome", lang="en"),
     ("prompt", "m", "Hello", {"prompt": "welcome", "lang": "en"}), "    says: Hello"),
    (ev.Prompt(step="a", text="Hello", prompt="q"), ("prompt", "a", "Hello", {"prompt": "q"}),
     "    says: Hello"),
    (ev.Prompt(step="h", text="Item", lang="zh"), ("prompt", "h", "Item", {"lang": "zh"}),
     "    says: Item"),
    (ev.Prompt(step="p", sound="beep"), ("prompt", "p", "", {"sound": "beep"}),
     "    says: <sound beep>"),
    (ev.Input(step="m", dtmf="9", emergency_key=True),
     ("input", "m", "", {"dtmf": "9", "emergency_key": True}), "    caller pressed 9"),
    (ev.Input(step="m", dtmf="", said="pharmacy", barge_in=False, goto="rx"),
     ("input", "m", "", {"dtmf": "", "said": "pharmacy", "barge_in": False, "goto": "rx"}),
     "    caller pressed "),
    (ev.Input(step="a", dtmf="1"), ("input", "a", "", {"dtmf": "1"}), "    caller pressed 1"),
    (ev.Turn(step="a", text="chest pain", confidence=0.91, barged_in=True, speech_ms=1200),
     ("turn", "a", "chest pain", {"confidence": 0.91, "barged_in": True, "speech_ms": 1200}),
     "    caller said: 'chest pain'"),
    (ev.Turn(step="a", text="help", confidence=1.0, barged_in=False, speech_ms=400,
             acoustic=0.7, acoustic_drivers=["pitch"]),
     ("turn", "a", "help", {"confidence": 1.0, "barged_in": False, "speech_ms": 400,
                            "acoustic": 0.7, "acoustic_drivers": ["pitch"]}),
     "    caller said: 'help'"),
    (ev.NoInput(step="m", dtmf="", attempt=1),
     ("no_input", "m", "", {"attempt": 1, "dtmf": ""}), "    no input (attempt 1)"),
    (ev.NoInput(step="a", attempt=2), ("no_input", "a", "", {"attempt": 2}),
     "    no input (attempt 2)"),
    (ev.NoMatch(step="m", dtmf="7", attempt=1),
     ("no_match", "m", "", {"attempt": 1, "dtmf": "7"}), "    no match (attempt 1)"),
    (ev.Triage.from_decision("t", "chest pain", "en", TriageDecision(
        1, "emergency", 10, ["red flag: chest pain"], rules_version=3, symptoms=["chest_pain"])),
     ("triage", "t", "chest pain", {
         "lang": "en", "urgency": 1, "department": "emergency", "queue_priority": 10,
         "reasons": ["red flag: chest pain"], "crisis": False, "ask_safety": False,
         "rules_version": 3, "symptoms": ["chest_pain"]}),
     "    triage: urgency 1, emergency, priority 10: red flag: chest pain"),
    (ev.ProtocolAnswer(step="triage", text="yes", protocol="chest_discomfort", version=1,
                       question="spreading", answer="yes", raised_to=1),
     ("protocol_answer", "triage", "yes", {"protocol": "chest_discomfort", "version": 1,
                                          "question": "spreading", "answer": "yes",
                                          "raised_to": 1}),
     "    protocol chest_discomfort spreading: yes: raised to 1"),
    (ev.ProtocolAnswer(step="triage", protocol="child_fever", version=1, question="floppy",
                       answer="no", dtmf="2"),
     ("protocol_answer", "triage", "", {"protocol": "child_fever", "version": 1,
                                       "question": "floppy", "answer": "no",
                                       "raised_to": None, "dtmf": "2"}),
     "    protocol child_fever floppy: no"),
    (ev.Answer(step="general_question", text="where can I park", outcome="spoken",
               entry="parking@1", score=0.81),
     ("answer", "general_question", "where can I park",
      {"entry": "parking@1", "outcome": "spoken", "score": 0.81}),
     "    knowledge base: spoken parking@1"),
    (ev.Answer(step="general_question", text="a sick note", outcome="no_entry"),
     ("answer", "general_question", "a sick note", {"entry": "", "outcome": "no_entry"}),
     "    knowledge base: no_entry"),
    (ev.Booking(step="book", outcome="booked", department="gastroenterology", booking_id=7,
                slot_id=3, starts_at="2026-12-03T01:00:00+00:00"),
     ("booking", "book", "", {"outcome": "booked", "department": "gastroenterology",
                              "booking_id": 7, "slot_id": 3,
                              "starts_at": "2026-12-03T01:00:00+00:00"}),
     "    appointment: booked gastroenterology booking 7"),
    (ev.Booking(step="book", outcome="none_free", department="cardiology"),
     ("booking", "book", "", {"outcome": "none_free", "department": "cardiology"}),
     "    appointment: none_free cardiology"),
    (ev.Route(step="pharmacy", queue="pharmacy", priority=3, summary="Rx", escalation=False),
     ("route", "pharmacy", "", {"queue": "pharmacy", "priority": 3, "summary": "Rx",
                                "escalation": False}),
     "    -> queue pharmacy priority 3: Rx"),
    (ev.Route(extension="1001", summary="Rx"),
     ("route", "", "", {"extension": "1001", "summary": "Rx"}),
     "    -> queue None priority None: Rx"),
    (ev.QueueResult(step="pharmacy", queue="pharmacy", priority=3, status="answered",
                    agent="PJSIP/1001"),
     ("queue", "pharmacy", "", {"queue": "pharmacy", "priority": 3, "status": "answered",
                                "agent": "PJSIP/1001"}),
     "    queue result: answered PJSIP/1001"),
    (ev.QueueResult(step="x", queue="x", priority=1, status="unavailable"),
     ("queue", "x", "", {"queue": "x", "priority": 1, "status": "unavailable", "agent": None}),
     "    queue result: unavailable"),
    (ev.Callback(step="c", accepted=False, dtmf="2"),
     ("callback", "c", "", {"accepted": False, "dtmf": "2"}), "    call-back declined"),
    (ev.Callback(step="c", accepted=True, queue="callbacks", number="138******01"),
     ("callback", "c", "", {"accepted": True, "queue": "callbacks", "number": "138******01"}),
     "    call-back accepted"),
    (ev.Survey(step="s", answers={"q1": 5, "q2": None}, modes={"q1": "dtmf", "q2": "speech"},
               scales={"q1": 5, "q2": 10}),
     ("survey", "s", "", {"answers": {"q1": 5, "q2": None},
                          "modes": {"q1": "dtmf", "q2": "speech"}, "scales": {"q1": 5, "q2": 10}}),
     "    survey answers: {'q1': 5, 'q2': None}"),
    (ev.Schedule(step="hours", open=True, at="2024-01-02T09:00:00+08:00"),
     ("schedule", "hours", "", {"open": True, "at": "2024-01-02T09:00:00+08:00"}),
     "    open at 2024-01-02T09:00:00+08:00"),
    (ev.Subflow(step="go", flow="pharmacy", version="abc"),
     ("subflow", "go", "", {"flow": "pharmacy", "version": "abc"}),
     "    continues in flow pharmacy"),
    (ev.SetVars(step="m", values={"choice": "rx", "triage_x": 1}),
     ("set", "m", "", {"choice": "rx", "triage_x": 1}), "    set choice=rx, triage_x=1"),
    (ev.Verify(step="v", verified=True, attempt=1),
     ("verify", "v", "", {"verified": True, "attempt": 1}), None),
    (ev.ResultsRead(step="status", read=["blood@2026-11-28:ready"], outcome="read"),
     ("results_status", "status", "", {"read": ["blood@2026-11-28:ready"], "outcome": "read"}),
     "    results status: read blood@2026-11-28:ready"),
    (ev.NoticesTold(step="notices", told=["cancelled:12"]),
     ("notices", "notices", "", {"told": ["cancelled:12"]}), "    notices told: cancelled:12"),
    (ev.FollowUpBooked(step="f", matter="results", after="2d", flow="results", followup_id="u1"),
     ("followup", "f", "", {"matter": "results", "after": "2d", "flow": "results",
                            "followup_id": "u1"}), None),
    (ev.FollowUpCall(followup_id="u1", followup_kind="results", attempt=2, flow="results"),
     ("followup", "", "", {"followup_id": "u1", "followup_kind": "results", "attempt": 2,
                           "flow": "results", "direction": "outbound"}), None),
    (ev.AgentCalled(queue="q", interface="PJSIP/1001", member="Agent 1001"),
     ("ami:AgentCalled", "", "", {"queue": "q", "interface": "PJSIP/1001",
                                  "member": "Agent 1001"}), None),
    (ev.AgentConnect(queue="q", interface="PJSIP/1001", member="Agent 1001", holdtime="3"),
     ("ami:AgentConnect", "", "", {"queue": "q", "interface": "PJSIP/1001",
                                   "member": "Agent 1001", "holdtime": "3"}), None),
    (ev.AgentComplete(queue="q"), ("ami:AgentComplete", "", "", {"queue": "q"}), None),
    (ev.QueueCallerAbandon(queue="q"), ("ami:QueueCallerAbandon", "", "", {"queue": "q"}), None),
    (ev.QueueCallerJoin(queue="q"), ("ami:QueueCallerJoin", "", "", {"queue": "q"}), None),
    (ev.Conference(state="team_joined", room="c1", member="PJSIP/1002-00000001"),
     ("conference", "", "", {"state": "team_joined", "room": "c1",
                             "member": "PJSIP/1002-00000001"}),
     "    emergency room: team_joined"),
    (ev.VoiceCue(score=0.55, baseline=0.04, rising=True, drivers=["pitch"]),
     ("voice_cue", "", "", {"score": 0.55, "baseline": 0.04, "rising": True,
                            "drivers": ["pitch"]}),
     "    voice cue: rising, score 0.55 (baseline 0.04)"),
]


@pytest.mark.parametrize(("event", "stored", "line"), CASES,
                         ids=[f"{c[1][0]}-{i}" for i, c in enumerate(CASES)])
def test_stored_form_round_trip(event: ev.Event, stored: tuple[str, str, str, dict[str, Any]],
                                line: str | None) -> None:
    assert event.stored() == stored
    assert list(event.stored().detail) == list(stored[3])  # key order as producers wrote it
    back = ev.decode(*stored)
    assert type(back) is type(event) and back == event
    assert back.stored() == stored
    assert back.describe() == line


def test_every_kind_has_a_case() -> None:
    assert set(ev.KINDS) <= {c[1][0] for c in CASES}


def test_set_vars_names_dots_as_underscores() -> None:
    assert ev.SetVars(step="s", values={"triage.urgency": 2}).stored().detail == {
        "triage_urgency": 2}


def test_unknown_kind_is_other_and_stores_back() -> None:
    stored = ("ami:QueueMemberPause", "q", "why", {"a": 1, "b": [2]})
    e = ev.decode(*stored)
    assert isinstance(e, ev.Other) and e.kind == "ami:QueueMemberPause"
    assert e.detail == {"a": 1, "b": [2]} and e.describe() is None
    assert e.stored() == stored
    assert ev.ami_event("Nope", queue=None).stored() == ("ami:Nope", "", "", {})


def test_missing_keys_take_defaults_and_unknown_keys_are_kept() -> None:
    e = ev.decode("turn", "a", "hi", {})
    assert isinstance(e, ev.Turn)
    assert (e.confidence, e.barged_in, e.speech_ms, e.listen_ms) == (None, False, None, None)
    q = ev.decode("queue", "x", "", {"status": "answered", "new_key": 1})
    assert isinstance(q, ev.QueueResult) and q.queue == "" and q.agent is None
    assert q.stored().detail["new_key"] == 1
    t = ev.decode("triage", "t", "", None)  # type: ignore[arg-type]
    assert isinstance(t, ev.Triage) and t.reasons == [] and t.rules_version is None
    assert ev.decode("turn", "a", "hi", {"listen_ms": 900}).listen_ms == 900  # type: ignore[attr-defined]


def test_followup_shape_decides_the_class() -> None:
    assert isinstance(ev.decode("followup", "", "", {"followup_kind": "x"}), ev.FollowUpCall)
    assert isinstance(ev.decode("followup", "f", "", {"matter": "x"}), ev.FollowUpBooked)


def test_decode_flat_reads_the_old_listener_dict() -> None:
    e = ev.decode_flat({"kind": "prompt", "step": "m", "text": "Hi", "prompt": "p"})
    assert e == ev.Prompt(step="m", text="Hi", prompt="p")


def test_recorder_stores_typed_events_and_tells_listeners_them() -> None:
    async def run() -> tuple[list[Any], list[tuple[str, str, str, dict[str, Any]]]]:
        rec = CallRecorder("sqlite://")
        typed: list[Any] = []
        rec.listeners.append(lambda uid, cid, e: typed.append(e))
        call_id = await rec.start("u1", "PJSIP/x", "13800138000", "main", "v1")
        await rec.record(call_id, ev.Prompt(step="m", text="Hello", prompt="p", lang="en"))
        await rec.record(call_id, ev.Input(step="m", dtmf="1", said="", barge_in=False,
                                           goto="x"))
        await rec.event(call_id, "turn", "m", "rx please", confidence=0.9, barged_in=False,
                        speech_ms=300)  # the stored-columns form, read as typed
        await rec.finish(call_id, "goodbye")
        record = await asyncio.to_thread(rec.get, call_id)
        rec.close()
        assert record is not None
        rows = [(e.kind, e.step, e.text, e.detail) for e in record.events]
        return typed, rows

    typed, rows = asyncio.run(run())
    assert [type(e) for e in typed] == [ev.Start, ev.Prompt, ev.Input, ev.Turn, ev.End]
    assert rows[1] == ("prompt", "m", "Hello", {"prompt": "p", "lang": "en"})
    assert rows[2] == ("input", "m", "", {"dtmf": "1", "said": "", "barge_in": False,
                                          "goto": "x"})
    assert [ev.decode(*r) for r in rows[1:4]] == typed[1:4]
    assert ev.decode_flat(typed[1].flat()) == typed[1]
