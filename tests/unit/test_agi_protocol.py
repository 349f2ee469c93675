"""AGI wire parsing, on literal lines as Asterisk sends them."""

import pytest

from ivr.telephony.agi_protocol import command, parse_env, parse_reply, quote, split_script


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
