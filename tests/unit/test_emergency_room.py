"""The emergency room's pure parts: UserEvents to Conference events, the record held open
while the caller is in the room, the console's Redirect, and the handset's RFC 4733 keys."""

import asyncio
import struct

import pytest

from ivr import events as ev
from ivr.emergency.conference import bring_emergency_team, room_exten, transfer_to_emergency
from ivr.emergency.rooms import EmergencyRooms, conference_event
from ivr.sim.handset_audio import rfc4733_packets, tone_frame, tone_level

ROOM = "6f1c2b1e-0000-4000-8000-000000000001"


def user_event(state, **more):
    return {"Event": "UserEvent", "UserEvent": "IVRConference", "Room": ROOM,
            "State": state, **more}


def test_user_event_becomes_a_conference_event_that_stores_and_decodes():
    conf = conference_event(user_event("team_joined", Member="PJSIP/1002-00000001"))
    assert conf == ev.Conference(state="team_joined", room=ROOM, member="PJSIP/1002-00000001")
    kind, _step, _text, detail = conf.stored()
    assert kind == "conference"
    assert detail == {"state": "team_joined", "room": ROOM, "member": "PJSIP/1002-00000001"}
    assert ev.decode(kind, "", "", detail) == conf


def test_other_user_events_are_not_conferences():
    assert conference_event({"UserEvent": "Other", "Room": ROOM}) is None
    assert conference_event({"UserEvent": "IVRConference", "Room": ""}) is None


@pytest.mark.parametrize("room", ["", "a,b", "x@y", "a b", "a/b"])
def test_room_names_that_would_break_the_dialplan_are_refused(room):
    with pytest.raises(ValueError, match="bad room name"):
        room_exten("caller", room)


class FakeAmi:
    def __init__(self):
        self.sent = []

    async def action(self, action):
        self.sent.append(action)
        return {"Response": "Success"}


async def test_console_conference_is_one_redirect_of_both_channels():
    ami = FakeAmi()
    await bring_emergency_team(ami, "PJSIP/trunk-1", "PJSIP/1001-2", ROOM)
    announce, redirect = ami.sent
    assert announce["Action"] == "UserEvent" and announce["By"] == "console"
    assert redirect == {
        "Action": "Redirect", "Channel": "PJSIP/trunk-1", "Context": "ivr-emergency-room",
        "Exten": f"caller-{ROOM}", "Priority": "1", "ExtraChannel": "PJSIP/1001-2",
        "ExtraContext": "ivr-emergency-room", "ExtraExten": f"staff-{ROOM}",
        "ExtraPriority": "1"}


async def test_console_transfer_moves_only_the_caller():
    ami = FakeAmi()
    await transfer_to_emergency(ami, "PJSIP/trunk-1", ROOM)
    assert ami.sent[-1]["Exten"] == f"caller-{ROOM}" and "ExtraChannel" not in ami.sent[-1]


async def test_the_record_stays_open_until_the_caller_leaves_the_room():
    recorded, moves = [], []

    async def record(call_id, event):
        recorded.append((call_id, event.state))

    async def alive(_channel):
        return True

    async def move(caller, agent, room):
        moves.append((caller, agent, room))

    rooms = EmergencyRooms(record, alive, is_open=lambda _c: True, move=move)
    assert not await rooms.was_moved("another-call")  # a real hang-up: within the grace
    rooms.on_user_event(None, user_event("requested", By="handset", Mode="conference",
                                         Agent="PJSIP/1001-2", Caller="PJSIP/trunk-1"))
    assert await rooms.was_moved(ROOM)
    waiting = asyncio.ensure_future(rooms.handed_off(ROOM))
    for state in ("caller_joined", "team_joined"):
        rooms.on_user_event(None, user_event(state))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    rooms.on_user_event(None, user_event("ended"))
    await asyncio.wait_for(waiting, 1)
    assert [s for _c, s in recorded] == ["requested", "caller_joined", "team_joined", "ended"]
    assert moves == [("PJSIP/trunk-1", "PJSIP/1001-2", ROOM)]  # *9: the engine moves both


async def test_a_caller_gone_without_a_word_closes_the_record(monkeypatch):
    monkeypatch.setattr("ivr.emergency.rooms.LIVENESS_POLL", 0.05)

    async def record(_call_id, _event):
        pass

    async def alive(_channel):
        return False

    rooms = EmergencyRooms(record, alive, is_open=lambda _c: True)
    rooms.on_user_event(None, user_event("caller_joined", Caller="PJSIP/trunk-1"))
    await asyncio.sleep(0)
    await asyncio.wait_for(rooms.handed_off(ROOM), 1)


def test_a_key_press_is_telephone_events_ending_three_times():
    packets = rfc4733_packets("*", ssrc=7, sequence=65534, timestamp=1000, duration_ms=60)
    assert len(packets) == 6
    first = struct.unpack("!BBHIIBBH", packets[0])
    assert first[1] == 0x80 | 101 and first[2] == 65534 and first[5] == 10  # marker, '*'
    last = struct.unpack("!BBHIIBBH", packets[-1])
    assert last[2] == 3 and last[6] & 0x80 and last[7] == 480  # wraps; end bit; 60 ms
    assert {struct.unpack("!I", p[4:8])[0] for p in packets} == {1000}


def test_tone_level_tells_whose_tone_it_is():
    frames = [tone_frame(600, i) for i in range(50)]
    assert tone_level(frames, 600) > 0.8
    assert tone_level(frames, 1000) < 0.01
    assert tone_level([bytes([128]) * 160] * 10, 600) == 0.0
