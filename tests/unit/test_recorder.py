"""Call records: written step by step, masked, closed exactly once."""

from ivr.store.recorder import CallRecorder, mask_number


def test_mask_number():
    assert mask_number("+86 138-0013-8000") == "861********00"
    assert mask_number("1234") == "****"
    assert mask_number("") == "unknown"


async def test_events_are_visible_before_the_call_ends(tmp_path):
    rec = CallRecorder(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    seen = []
    rec.listeners.append(lambda uid, cid, kind, step, d: seen.append((uid, kind)))
    call_id = await rec.start("1700.1", "PJSIP/t-1", "13800138000", "main", "abc")
    await rec.event(call_id, "step", "welcome", type="say")
    # a second reader (another process, a report) sees it mid-call
    other = CallRecorder(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    mid = other.get(call_id)
    assert mid.ended_at is None and [e.kind for e in mid.events] == ["start", "step"]
    assert mid.caller_masked == "138******00"
    await rec.update(call_id, outcome="answered", agent="PJSIP/1001")
    await rec.finish(call_id, "caller_hangup")
    done = other.get(call_id)
    assert done.outcome == "answered"  # a later hangup does not erase who answered
    assert done.ended_at is not None and done.duration_seconds >= 0
    assert [e.seq for e in done.events] == [1, 2, 3]
    assert seen[0] == ("1700.1", "start") and seen[-1] == ("1700.1", "end")
    rec.close()
    other.close()
