"""asterisk_conf/ renders with site values, and carries no secret of its own."""

from pathlib import Path

import jinja2
import pytest

from ivr.pbx.render import CONF_DIR, ConfValues, render_conf


def values(**over):
    base = dict(inst="/ivr/t", moddir="/mods", host="127.0.0.1", ami_port=15038,
                ami_user="ivr", ami_secret="s3cret-generated", sip_port=15060, rtp_start=11000,
                rtp_end=11100, engine_host="127.0.0.1", agi_port=14573,
                fallback_queue="operator", agents={"1001": "pw1"}, agi_secret="agi-s3cret")
    base.update(over)
    return ConfValues(**base)


def test_render_fills_ports_secrets_and_queues(tmp_path):
    written = {p.name: p.read_text() for p in render_conf(values(), tmp_path)}
    assert "IVR_ENGINES = 127.0.0.1:14573\n" in written["extensions.conf"]  # the one engine
    assert "bind = 127.0.0.1:15060" in written["pjsip.conf"]
    assert "secret = s3cret-generated" in written["manager.conf"]
    assert "[cardiology](department)" in written["queues.conf"]
    assert "[emergency](department)" in written["queues.conf"]
    assert "extensions_sim.conf" not in written  # simulation only on request
    assert (tmp_path / "manager.conf").stat().st_mode & 0o077 == 0


def test_simulation_dialplan_is_included_on_request(tmp_path):
    written = {p.name: p.read_text() for p in render_conf(values(simulation=True), tmp_path)}
    assert "#include extensions_sim.conf" in written["extensions.conf"]
    assert "[sim-patient]" in written["extensions_sim.conf"]


def test_missing_value_is_an_error_not_a_blank(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "x.conf").write_text("port = {{ nope }}\n")
    with pytest.raises(jinja2.UndefinedError):
        render_conf(values(), tmp_path / "out", conf_dir=conf)


def test_templates_hold_no_literal_secret():
    for template in Path(CONF_DIR).glob("*.conf"):
        for line in template.read_text().splitlines():
            if line.strip().startswith(("secret", "password")):
                assert "{{" in line, f"{template.name}: {line}"


def test_follow_up_calls_go_out_through_the_configured_trunk(tmp_path, monkeypatch):
    from ivr.pbx import PbxInstance
    from ivr.settings import load_settings

    monkeypatch.setenv("IVR_PBX__OUTBOUND_TRUNK", "carrier-x")
    monkeypatch.setattr("ivr.pbx.instance.root_is_ready", lambda root: True)
    settings = load_settings(state_dir=tmp_path, pbx={"root": tmp_path / "root",
                                                      "use_system": False})
    PbxInstance(settings).render()
    conf = next((tmp_path / "root").rglob("extensions.conf")).read_text()
    assert "Dial(PJSIP/${FOLLOWUP_NUMBER}@carrier-x,60)" in conf


def test_several_engines_are_listed_for_the_dialplan_to_balance(tmp_path):
    written = {p.name: p.read_text()
               for p in render_conf(values(engines=["10.0.0.7:4573", "10.0.0.8:4573"]),
                                    tmp_path)}
    conf = written["extensions.conf"]
    assert "IVR_ENGINES = 10.0.0.7:4573|10.0.0.8:4573\n" in conf
    assert "Gosub(ivr-agi,s,1(inbound" in conf
    assert "Gosub(ivr-agi,s,1(outbound?followup=${FOLLOWUP_ID}" in conf
    assert "AGI(agi://${peer}/${ARG1}" in conf
