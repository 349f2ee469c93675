"""JSON logs: one object a line, the call id on every record made during a call,
numbers masked."""

import asyncio
import io
import json
import logging

import pytest

from ivr.obs.logs import CallIdFilter, JsonFormatter, bind_call, use_log_format


@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.Logger("test-root")
    root.addHandler(handler)
    use_log_format("json", root)
    yield root, stream


def lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_records_in_a_call_carry_its_id_and_tasks_it_starts_too(json_log):
    log, stream = json_log

    async def call(call_id):
        bind_call(call_id)
        log.warning("in the call")
        await asyncio.ensure_future(asyncio.sleep(0))  # a task the call starts

        async def child():
            log.warning("in a task of the call")
        await asyncio.ensure_future(child())

    await asyncio.gather(call("call-a"), call("call-b"))
    log.warning("outside")
    got = lines(stream)
    assert sorted((r["message"], r.get("call_id")) for r in got) == [
        ("in a task of the call", "call-a"), ("in a task of the call", "call-b"),
        ("in the call", "call-a"), ("in the call", "call-b"), ("outside", None)]
    assert all(r["level"] == "WARNING" and r["at"].endswith("+00:00") for r in got)


def test_numbers_are_masked_even_without_log_masking(json_log):
    log, stream = json_log
    log.warning("caller %s rang", "13800138000")
    try:
        raise ValueError("bad number 13912345678")
    except ValueError:
        log.exception("failed")
    text = stream.getvalue()
    assert "13800138000" not in text and "13912345678" not in text
    assert lines(stream)[1]["exc"].startswith("Traceback")


def test_unknown_format_is_a_clear_error():
    with pytest.raises(ValueError, match="log format must be one of text, json"):
        use_log_format("xml")  # type: ignore[arg-type]


def test_text_format_keeps_its_formatter_and_gets_the_filter():
    root = logging.Logger("t2")
    handler = logging.StreamHandler(io.StringIO())
    fmt = logging.Formatter("%(message)s")
    handler.setFormatter(fmt)
    root.addHandler(handler)
    use_log_format("text", root)
    use_log_format("text", root)
    assert handler.formatter is fmt
    assert sum(isinstance(f, CallIdFilter) for f in handler.filters) == 1
    assert isinstance(JsonFormatter().format(logging.makeLogRecord({"msg": "x"})), str)
