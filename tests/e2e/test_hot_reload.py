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


async def test_an_invalid_rules_edit_is_rejected_and_calls_go_on(lab, tmp_path):
    """triage_rules.yaml follows the same law: a broken edit is refused with its
    file:line:col findings, the last good rules keep deciding, calls are answered."""
    store = lab.engine.rules
    original_path, good_triager, good_digest = store.path, store.current, store.digest
    copy = tmp_path / "triage_rules.yaml"
    copy.write_text(original_path.read_text(encoding="utf-8"), encoding="utf-8")
    errors_before = list(store.last_errors)
    store.path = copy  # the engine now watches a copy the test may break
    try:
        text = copy.read_text(encoding="utf-8")
        copy.write_text(text + "\nthis is: [not, valid\n", encoding="utf-8")
        await wait_until(lambda: store.last_errors != errors_before, timeout=15)
        assert store.current is good_triager and store.digest == good_digest
        assert any(str(copy) in str(d.file) and d.line > 0 for d in store.last_errors)
        record = await lab.call("press2", "13800138004")
        assert (record.outcome, record.queue) == ("answered", "pharmacy")
        assert store.current is good_triager
    finally:
        store.path = original_path
