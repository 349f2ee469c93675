"""Secrets rotate without a restart of the FastAGI side: ``ivr secrets rotate`` writes
new ones (0600), and a running engine's check reads the new FastAGI secret when a
token made with it arrives."""

import json
import stat

from click.testing import CliRunner

from ivr.cli.main import cli
from ivr.settings import Settings
from ivr.telephony.agi_auth import AgiAuth, Refused, agi_token


def env(uniqueid: str, secret: str) -> dict[str, str]:
    return {"agi_uniqueid": uniqueid, "agi_arg_1": agi_token(secret, uniqueid)}


def test_rotate_makes_new_agi_and_ami_secrets_and_keeps_agent_passwords(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("IVR_STATE_DIR", str(state))
    monkeypatch.setenv("IVR_PBX__INSTANCE", "rotate-test")
    monkeypatch.setenv("IVR_PBX__USE_SYSTEM", "true")  # nothing runs: no root needed
    before = Settings(state_dir=state).secrets
    result = CliRunner().invoke(cli, ["secrets", "rotate"])
    assert result.exit_code == 0, result.output
    after = Settings(state_dir=state).secrets
    assert after.agi_secret != before.agi_secret and after.ami_secret != before.ami_secret
    assert after.agent_passwords == before.agent_passwords  # handsets keep working
    assert "not running" in result.output
    assert before.agi_secret not in result.output and after.agi_secret not in result.output
    path = state / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(json.loads(path.read_text())) == {"ami_secret", "agent_passwords", "agi_secret"}
    again = CliRunner().invoke(cli, ["secrets", "rotate", "agents"])
    assert again.exit_code == 0, again.output
    assert Settings(state_dir=state).secrets.agent_passwords != before.agent_passwords


def test_a_running_check_picks_up_a_rotated_secret(tmp_path):
    settings = Settings(state_dir=tmp_path / "state")
    old = settings.secrets.agi_secret
    auth = AgiAuth.build(old, ["127.0.0.1"], reread=settings.current_agi_secret)
    peer = ("127.0.0.1", 40000)
    auth.check(peer, env("1700000000.1", old))
    settings.secrets.rotated({"agi"}).save(settings.secrets_path)
    new = settings.current_agi_secret()
    auth.check(peer, env("1700000000.2", new))  # the dialplan reloaded with the new one
    try:
        auth.check(peer, env("1700000000.3", old))
    except Refused:
        pass
    else:
        raise AssertionError("a token of the old secret must be refused after the rotation")


def test_forgeries_do_not_reread_the_secret_more_than_once_a_second(tmp_path):
    reads = []

    def reread() -> str:
        reads.append(1)
        return "s" * 64

    auth = AgiAuth.build("s" * 64, ["127.0.0.1"], reread=reread)
    for n in range(100):
        try:
            auth.check(("127.0.0.1", 1), {"agi_uniqueid": f"1700000000.{n}",
                                          "agi_arg_1": "0" * 40})
        except Refused:
            pass
    assert len(reads) == 1
