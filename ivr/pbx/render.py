"""Render ``asterisk_conf/`` (Jinja2 templates) into an instance's etc folder.

The templates are the files a telephony engineer would install on their own PBX;
``{{ ... }}`` marks the few site values (ports, secrets, agents). StrictUndefined
turns a missing value into an error instead of a silently broken config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from ivr.departments import DEPARTMENTS, SPECIAL_QUEUES
from ivr.privacy._files import private_dir, write_private
from ivr.telephony.skills import QueueMember

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
    agents: dict[str, str]  # extension -> SIP password: the endpoints in pjsip.conf
    simulation: bool = False
    # extension -> name shown as the endpoint's caller-ID (agents.yaml); else "Agent <ext>"
    agent_names: dict[str, str] = field(default_factory=dict)
    # queue -> its static members (agents.yaml, agents.members = static), see
    # ivr.telephony.skills.queue_members; empty: agents log in over AMI.
    queue_members: dict[str, list[QueueMember]] = field(default_factory=dict)
    # queuerules.conf, ivr-prefer: how long a call rings only its best-fitting agents
    prefer_seconds: int = 12
    # Proves FastAGI sessions come from this Asterisk (extensions.conf, ivr-agi-token).
    agi_secret: str = ""
    # asterisk.conf: refuse new calls above this load average (see default_maxload).
    maxload: float = field(default_factory=lambda: default_maxload())
    # The engines' FastAGI addresses, host:port (extensions.conf, [ivr-agi]); none given:
    # the one engine at engine_host:agi_port.
    engines: list[str] = field(default_factory=list)
    # The PJSIP endpoint follow-up calls leave through (extensions.conf, ivr-outbound-dial).
    outbound_trunk: str = "hospital-trunk"
    # Dial() arguments of the last resort after operator and emergency ([ivr-fallback]).
    last_resort: str = "PJSIP/1001&PJSIP/1002&PJSIP/1003&PJSIP/1004,45"
    # The classic EAGI path (extensions.conf, hospital-inbound-eagi), as Asterisk sees it:
    # the script, its settings file and the prompt cache (see ivr.pbx.eagi).
    eagi_script: str = "/opt/ivr/venv/bin/ivr-eagi"
    eagi_settings: str = "/etc/ivr/ivr-eagi.toml"
    sounds: str = "/var/lib/ivr/sounds"
    department_queues: list[str] = field(
        default_factory=lambda: [d for d in DEPARTMENTS if d not in SPECIAL_QUEUES]
    )


def default_maxload(cores: int | None = None) -> float:
    """Three runnable tasks per core: a busy line (prompt synthesis, recognisers and
    Asterisk's own threads share the cores) stays well under it, while a machine that
    is truly thrashing refuses new calls - they then reach the trunk's overflow instead
    of silence. A fixed 4.0 refused calls on a 2-core box under ordinary load.

    >>> default_maxload(2), default_maxload(16)
    (6.0, 48.0)
    """
    return 3.0 * (cores or os.cpu_count() or 1)


def render_conf(values: ConfValues, etc_dir: Path, conf_dir: Path = CONF_DIR) -> list[Path]:
    """Write every ``*.conf`` template into ``etc_dir``; returns the files written.

    The folder is 0700 and every file 0600: they hold the AMI and FastAGI secrets and
    the agents' SIP passwords (Asterisk runs as the same user and needs no more).
    """
    if not values.agi_secret:
        raise ValueError("render_conf: agi_secret is empty (Settings.secrets.agi_secret)")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(conf_dir),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    private_dir(etc_dir, tighten=True)
    written = []
    for template in sorted(conf_dir.glob("*.conf")):
        if template.name in SIMULATION_ONLY and not values.simulation:
            continue
        text = env.get_template(template.name).render(vars(values))
        out = etc_dir / template.name
        write_private(out, text.encode())
        written.append(out)
    return written
