"""ChanSpy for supervisors: the Originate :func:`ivr.telephony.spy.spy` sends, and the
requests it refuses (the e2e in tests/e2e/test_ops.py checks the audio)."""

import pytest

from ivr.telephony.errors import AmiError
from ivr.telephony.spy import SpyError, spy, spy_originate


@pytest.mark.parametrize(("mode", "options"), [("listen", "qE"), ("whisper", "qwE"),
                                               ("barge", "qBE")])
def test_modes(mode, options):
    action = spy_originate("1003", "PJSIP/1001-0000000b", mode, "spy-x")
    assert action["Channel"] == "PJSIP/1003"
    assert action["Application"] == "ChanSpy"
    assert action["Data"] == f"PJSIP/1001-0000000b,{options}"
    assert action["ChannelId"] == "spy-x"


@pytest.mark.parametrize(("ext", "channel", "mode", "why"), [
    ("1003", "PJSIP/1001-0b", "shout", "spy mode must be one of listen, whisper, barge"),
    ("1003,x", "PJSIP/1001-0b", "listen", "not a handset extension"),
    ("1003", "PJSIP/1001-0b,qB", "listen", "not an Asterisk channel name"),
    ("1003", "1001", "listen", "not an Asterisk channel name"),
])
def test_bad_requests_are_refused(ext, channel, mode, why):
    with pytest.raises(SpyError, match=why):
        spy_originate(ext, channel, mode, "spy-x")


class RefusingAmi:
    async def action(self, action):
        raise AmiError("Originate failed: Extension does not exist.")


async def test_asterisk_refusal_names_the_target():
    with pytest.raises(AmiError, match="spy on PJSIP/1001-0b for 1003"):
        await spy(RefusingAmi(), "1003", "PJSIP/1001-0b", "listen")
