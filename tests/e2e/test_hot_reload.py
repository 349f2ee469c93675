"""Hot reload through the real Asterisk: a call in progress keeps its version, the
next call gets the new one, and an invalid edit changes nothing."""

import asyncio

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def wait_until(predicate, timeout=10.0):
    for _ in range(int(timeout * 20)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_edit_during_a_call_applies_to_the_next_call_only(lab):
    medication = lab.settings.engine.dialplans / "medication.yaml"
    original = medication.read_text()
    store = lab.engine.flows
    old_version = store.current.version
    try:
        first = await lab.place("press2", "13800138001")
        await wait_until(lambda: first in lab.engine.active)  # the call is in the flow
        medication.write_text(original.replace("priority: 2\n", "priority: 4\n", 1))
        await wait_until(lambda: store.current.version != old_version)
        new_version = store.current.version
        record_a = await lab.wait(first)
        record_b = await lab.call("press2", "13800138002")
        assert (record_a.flow_version, record_a.queue_priority) == (old_version, 2)
        assert (record_b.flow_version, record_b.queue_priority) == (new_version, 4)

        # an invalid edit is rejected; the last good version keeps serving
        medication.write_text(original.replace("goto: to_pharmacy}", "goto: to_farmacy}", 1))
        await wait_until(lambda: store.last_errors)
        assert store.current.version == new_version
        assert any(d.code == "IVR104" and "to_farmacy" in d.message for d in store.last_errors)
        record_c = await lab.call("press2", "13800138003")
        assert (record_c.flow_version, record_c.queue_priority) == (new_version, 4)
    finally:
        medication.write_text(original)
        await wait_until(lambda: store.current.version == old_version)
