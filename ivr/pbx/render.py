"""Render ``asterisk_conf/`` (Jinja2 templates) into an instance's etc folder.

The templates are the files a telephony engineer would install on their own PBX;
``{{ ... }}`` marks the few site values (ports, secrets, agents). StrictUndefined
turns a missing value into an error instead of a silently broken config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from ivr.departments import DEPARTMENTS, SPECIAL_QUEUES

CONF_DIR = Path(__file__).resolve().parents[2] / "asterisk_conf"
SIMULATION_ONLY = {"extensions_sim.conf"}


@dataclass
class ConfValues:
    """Everything the templates may refer to."""

    inst: str  # the instance folder as Asterisk sees it
    moddir: str
    host: str
    ami_port: int
    ami_user: str
    ami_secret: str
    sip_port: int
    rtp_start: int
    rtp_end: int
    engine_host: str
    agi_port: int
    fallback_queue: str
    agents: dict[str, str]
    simulation: bool = False
    # The engines' FastAGI addresses, host:port (extensions.conf, [ivr-agi]); none given:
    # the one engine at engine_host:agi_port.
    engines: list[str] = field(default_factory=list)
    # The PJSIP endpoint follow-up calls leave through (extensions.conf, ivr-outbound-dial).
    outbound_trunk: str = "hospital-trunk"
    # The classic EAGI path (extensions.conf, hospital-inbound-eagi), as Asterisk sees it:
    # the script, its settings file and the prompt cache (see ivr.pbx.eagi).
    eagi_script: str = "/opt/ivr/venv/bin/ivr-eagi"
    eagi_settings: str = "/etc/ivr/ivr-eagi.toml"
    sounds: str = "/var/lib/ivr/sounds"
    department_queues: list[str] = field(
        default_factory=lambda: [d for d in DEPARTMENTS if d not in SPECIAL_QUEUES]
    )


def render_conf(values: ConfValues, etc_dir: Path, conf_dir: Path = CONF_DIR) -> list[Path]:
    """Write every ``*.conf`` template into ``etc_dir``; returns the files written."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(conf_dir),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    etc_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for template in sorted(conf_dir.glob("*.conf")):
        if template.name in SIMULATION_ONLY and not values.simulation:
            continue
        text = env.get_template(template.name).render(vars(values))
        out = etc_dir / template.name
        out.write_text(text)
        if "secret" in text or "password" in text:
            out.chmod(0o600)
        written.append(out)
    return written
