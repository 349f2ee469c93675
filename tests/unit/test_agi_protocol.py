"""AGI wire parsing, on literal lines as Asterisk sends them."""

import pytest

from ivr.telephony.agi_protocol import (
    AgiReply,
    ReplyReader,
    check_reply,
    command,
    parse_env,
    parse_reply,
    quote,
    split_script,
)
from ivr.telephony.errors import AgiCommandError, AgiProtocolError, CallerHangup


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "extra"),
    [
        ("200 result=1", 200, "1", None, {}),
        ("200 result=0 endpos=12640", 200, "0", None, {"endpos": "12640"}),
        ("200 result= (timeout)", 200, "", "timeout", {}),
        ("200 result=42 (timeout)", 200, "42", "timeout", {}),
        ("200 result=1 (pharmacy)", 200, "1", "pharmacy", {}),
        ("200 result=-1", 200, "-1", None, {}),
        ("200 result=50 endpos=8000\r", 200, "50", None, {"endpos": "8000"}),
    ],
)
def test_parse_200_replies(line, code, result, data, extra):
    reply = parse_reply(line)
    assert (reply.code, reply.result, reply.data, reply.extra) == (code, result, data, extra)


def test_digit_from_stream_file_result():
    assert parse_reply("200 result=50 endpos=8000").digit == "2"
    assert parse_reply("200 result=35").digit == "#"
    assert parse_reply("200 result=0 endpos=8000").digit is None
    assert parse_reply("200 result=-1").value == -1


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("510 Invalid or unknown command", 510),
        ("511 Command Not Permitted on a dead channel or intercept routine", 511),
        ("100 result=0 Trying...", 100),
    ],
)
def test_parse_other_codes(line, code):
    assert parse_reply(line).code == code


@pytest.mark.parametrize("line", ["HANGUP", "", "hello", "20 result=1"])
def test_non_replies_are_rejected(line):
    with pytest.raises(ValueError):
        parse_reply(line)


def test_parse_env_block():
    block = (b"agi_network: yes\nagi_network_script: inbound?lang=zh\n"
             b"agi_uniqueid: 1700000000.12\nagi_callerid: 13800138000\n"
             b"agi_calleridname: Patient A\nnot a header\n\n")
    env = parse_env(block)
    assert env["agi_uniqueid"] == "1700000000.12"
    assert env["agi_calleridname"] == "Patient A"
    assert "not a header" not in env


def test_split_script_separates_route_and_query():
    assert split_script("inbound?lang=zh&line=2") == ("inbound", {"lang": "zh", "line": "2"})
    assert split_script("/inbound") == ("inbound", {})


def test_quote_escapes_quotes_and_backslashes():
    assert quote('say "hi"\\now') == '"say \\"hi\\"\\\\now"'
    assert command("GET DATA", "/x/menu", 5000, 1) == 'GET DATA "/x/menu" "5000" "1"'
    assert command("ANSWER") == "ANSWER"


def read(lines: list[str], sent: str = "GET DATA") -> tuple[AgiReply, ReplyReader]:
    """Feed ``lines`` as they come off the wire; the reply must complete on the last."""
    reader = ReplyReader(sent)
    *before, last = lines
    for line in before:
        assert reader.feed(line) is None, line
    reply = reader.feed(last)
    assert reply is not None, lines
    return reply, reader


def test_reader_returns_a_200_reply_at_once():
    reply, reader = read(["200 result=50 endpos=8000\r\n"])
    assert (reply.code, reply.digit, reply.extra) == (200, "2", {"endpos": "8000"})
    assert not reader.caller_gone


def test_reader_skips_100_trying_and_keeps_reading():
    reply, reader = read(["100 result=0 Trying...", "200 result=1 (yes)"], 'GET VARIABLE "X"')
    assert (reply.code, reply.data) == (200, "yes")
    assert not reader.caller_gone


@pytest.mark.parametrize("lines", [
    ["HANGUP", "200 result=-1"],
    ["HANGUP\n", "100 result=0 Trying...", "HANGUP", "200 result=-1"],
])
def test_reader_notes_hangup_lines_and_returns_the_real_reply(lines):
    reply, reader = read(lines)
    assert (reply.code, reply.value) == (200, -1)
    assert reader.caller_gone


def test_reader_511_is_a_reply_and_the_caller_gone():
    reply, reader = read(["511 Command Not Permitted on a dead channel or intercept routine"])
    assert reply.code == 511 and reader.caller_gone


def test_reader_510_keeps_its_text():
    reply, _ = read(["510 Invalid or unknown command"], "FROB")
    assert (reply.code, reply.text) == (510, "Invalid or unknown command")


def test_reader_consumes_multiline_520_to_its_end():
    reply, reader = read([
        "520-Invalid command syntax.  Proper usage follows:",
        " Usage: GET DATA <file to be streamed> [timeout] [maxdigits]",
        "  Stream the given file, and receive DTMF data.",
        "520 End of proper usage.",
    ])
    assert reply.code == 520
    assert reply.text.splitlines() == [
        "Invalid command syntax.  Proper usage follows:",
        " Usage: GET DATA <file to be streamed> [timeout] [maxdigits]",
        "  Stream the given file, and receive DTMF data.",
    ]
    assert not reader.caller_gone


def test_reader_hangup_inside_520_usage_is_noted_not_usage_text():
    reply, reader = read(["520-Invalid command syntax.  Proper usage follows:", "HANGUP",
                          " Usage: GET DATA <file>", "520 End of proper usage."])
    assert reply.code == 520 and "HANGUP" not in reply.text
    assert reader.caller_gone


def test_reader_one_line_520_is_complete():
    reply, _ = read(["520 Invalid command syntax.  Proper usage not available."])
    assert (reply.code, reply.text) == (520, "Invalid command syntax.  Proper usage not available.")


@pytest.mark.parametrize("line", ["", "hello", "20 result=1"])
def test_reader_garbage_is_a_protocol_error_naming_the_command(line):
    with pytest.raises(AgiProtocolError, match="after 'ANSWER'"):
        ReplyReader("ANSWER").feed(line)


def test_check_reply_passes_replies_of_a_live_call_through():
    for line in ("200 result=1", "200 result=-1", "200 result= (timeout)"):
        reply = parse_reply(line)
        assert check_reply("GET DATA", reply, gone=False) is reply


def test_check_reply_caller_gone():
    dead = parse_reply("511 Command Not Permitted on a dead channel or intercept routine")
    ok = parse_reply("200 result=1 (PJSIP/1001)")
    for on_dead_channel in (False, True):  # 511: even clean-up cannot run
        with pytest.raises(CallerHangup, match="PJSIP/trunk-1"):
            check_reply("GET VARIABLE", dead, gone=False, on_dead_channel=on_dead_channel,
                        channel="PJSIP/trunk-1")
    with pytest.raises(CallerHangup):
        check_reply("GET VARIABLE", ok, gone=True)
    assert check_reply("GET VARIABLE", ok, gone=True, on_dead_channel=True) is ok


@pytest.mark.parametrize("line", ["510 Invalid or unknown command",
                                  "520 Invalid command syntax.  Proper usage not available."])
def test_check_reply_refused_commands(line):
    with pytest.raises(AgiCommandError) as err:
        check_reply("FROB", parse_reply(line), gone=False)
    assert (err.value.command, err.value.code) == ("FROB", int(line[:3]))
