"""Engine settings, layered: defaults < ``ivr.toml`` < environment (``IVR_SECTION__KEY``).

Every network listener defaults to 127.0.0.1: a hospital PBX exposes nothing by accident.
Secrets (the AMI password, agent SIP passwords) are never defaults: they are generated
on first use into the state folder, mode 0600, and never committed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ivr.file_lock import locked

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ivr.agents import AgentBook

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENGINE_ADDRESS = r"^[A-Za-z0-9_.:\[\]-]+:[0-9]{1,5}$"  # host:port, as a dialplan may hold it


class PbxSettings(BaseModel):
    """Where the local Asterisk lives and how it is reached."""

    instance: str = Field("main", description="Instance name: several can share one root.")
    host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "ivr"
    sip_port: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 10999
    outbound_trunk: str = Field(
        "hospital-trunk", pattern=r"^[A-Za-z0-9_.-]+$",
        description="PJSIP endpoint of the carrier that follow-up calls go out through.")
    # The last human safety net (extensions.conf, [ivr-fallback]): when the operator and
    # emergency queues have nobody free, Dial(<this>). Targets joined by '&', then the
    # ring time: a ring group of the emergency team's phones, or an external number
    # through the trunk (e.g. "PJSIP/0201234567@hospital-trunk,60").
    last_resort: str = Field(
        "PJSIP/1001&PJSIP/1002&PJSIP/1003&PJSIP/1004,45",  # every AGENT_EXTENSIONS phone
        pattern=r"^[A-Za-z0-9]+/[^,&\s${}\[\]()]+(&[A-Za-z0-9]+/[^,&\s${}\[\]()]+)*"
                r"(,[0-9]{1,4})?$",
        description="Dial() targets (and ring seconds) rung when no queue can take a caller.")
    # asterisk.conf maxload: above this load average Asterisk refuses new calls (they
    # reach the trunk's overflow, not silence).
    maxload: float | None = Field(None, gt=0, description=(
        "Load average above which Asterisk refuses new calls; empty: 3 per core."))
    mirror: str = "http://deb.debian.org/debian"
    suite: str = "sid"
    root: Path | None = Field(None, description="Debian root for a chrooted Asterisk.")
    use_system: bool | None = Field(
        None, description="Use the system's asterisk (auto: when one is on PATH)."
    )
    # Several engines behind this Asterisk (extensions.conf, [ivr-agi]): each call starts
    # at the next one in turn; one that refuses the connection is skipped for that call.
    engines: list[Annotated[str, Field(pattern=ENGINE_ADDRESS)]] = Field(
        default_factory=list, description=(
            "FastAGI addresses (host:port) of the engines the dialplan hands calls to, "
            "balanced per call and failed over at connect; empty: engine.host:agi_port."))


class EngineSettings(BaseModel):
    """The Python side: FastAGI and AudioSocket listeners."""

    host: str = "127.0.0.1"
    agi_port: int = 4573
    audiosocket_port: int = 4575
    database_url: str | None = None
    dialplans: Path = PROJECT_ROOT / "dialplans"
    prompts: Path = PROJECT_ROOT / "prompts"
    # The line's clinician-owned answers (ivr/kb/): one entry per YAML file.
    knowledge: Path = PROJECT_ROOT / "knowledge" / "answers"
    # Queue used when anything fails: a human always picks up.
    fallback_queue: str = "operator"
    tts_cache: Path | None = Field(None, description=(
        "A folder of rendered prompts shared by every engine on this host (file names "
        "are content hashes): a new instance copies instead of synthesizing again; "
        "empty: each instance renders its own."))
    # Who may open FastAGI / AudioSocket sessions (addresses or networks, e.g.
    # "10.0.0.5" or "10.0.0.0/24"); empty: the PBX host (pbx.host) and loopback.
    # Every FastAGI session must also carry the per-call token (SECURITY.md).
    peers: list[str] = Field(default_factory=list, description=(
        "Addresses/networks allowed to connect to FastAGI and AudioSocket; "
        "empty: pbx.host and loopback."))


class FollowupSettings(BaseModel):
    """Outbound follow-up calls (``ivr/followups/``): when the line may call patients,
    how many at once, and how it tries again."""

    enabled: bool = Field(True, description="Call due follow-ups (needs AMI).")
    poll_seconds: float = Field(30.0, gt=0, description="How often due follow-ups are looked up.")
    max_concurrent: int = Field(2, ge=1, description="Outbound calls at the same time, at most.")
    ring_seconds: float = Field(45.0, gt=0, description="How long the patient's phone rings.")
    caller_id: str = Field("", description="What the patient's phone shows, e.g. "
                           "'\"City Hospital\" <02012345678>'; empty: the trunk's default.")
    timezone: str = "Asia/Shanghai"
    # The calling window, in the notation of a flow's schedule step; no calls on holidays.
    hours: dict[str, list[str]] = Field(default_factory=lambda: {"mon-sun": ["09:00-20:00"]})
    holidays: list[str] = Field(default_factory=list, description="YYYY-MM-DD")
    # Wait before the 2nd, 3rd... attempt after no answer (the last value repeats).
    retry_after: list[str] = Field(default_factory=lambda: ["30m", "2h"], min_length=1)
    # A call still marked as in progress after this is taken as lost (an engine died).
    call_lease: str = "2h"

    @model_validator(mode="after")
    def _valid(self) -> FollowupSettings:
        from ivr.followups.window import CallingWindow, span

        problems = []
        for check, args in [(CallingWindow.build, (self.timezone, self.hours, self.holidays)),
                            *((span, (value,)) for value in [*self.retry_after, self.call_lease])]:
            try:
                check(*args)  # type: ignore[operator]
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        return self


class WebSettings(BaseModel):
    """The staff web side (agent console, wallboard): served by the engine itself.

    Off by default and on loopback: put it behind the site's TLS reverse proxy (then set
    ``secure_cookie``). Staff sign in with an Argon2id password (``ivr staff set-password``)
    or, when ``proxy_user_header`` is set, the proxy's identity header, trusted only from
    ``trusted_proxies``.
    """

    enabled: bool = Field(False, description="Serve the staff web pages (ivr serve).")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    session_idle_minutes: float = Field(30.0, gt=0, description="Signed out after this idle.")
    session_max_hours: float = Field(12.0, gt=0, description="Signed out after this, always.")
    secure_cookie: bool = Field(False, description="Cookie only over HTTPS (behind TLS).")
    # extra origins a state-changing request may come from (the proxy's public address)
    allowed_origins: list[str] = Field(default_factory=list)
    login_max_failures: int = Field(5, ge=1, description="Failed sign-ins before a pause.")
    login_lockout_seconds: float = Field(300.0, gt=0)
    proxy_user_header: str = Field("", description="e.g. X-Remote-User; empty: off.")
    trusted_proxies: list[str] = Field(default_factory=list, description=(
        "Addresses/networks whose proxy_user_header is believed."))
    # staff login -> handset extension, until/unless agents.yaml names the user
    agent_extensions: dict[str, str] = Field(default_factory=dict)
    knowledge: Path = Field(PROJECT_ROOT / "knowledge" / "drugs_guidelines.yaml",
                            description="The clinician-owned drug/guideline file.")


class OpsSettings(BaseModel):
    """Operations (``ivr/obs/``): log format, who may read ``/metrics`` and ``/healthz``."""

    log_format: Literal["text", "json"] = Field(
        "text", description="json: one JSON object a line, with the call id (ivr serve).")
    # /metrics and /healthz carry no patient data but say how busy the line is: loopback
    # (a local Prometheus or node agent) unless listed here.
    metrics_peers: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1"],
        description="Addresses/networks allowed to read /metrics and /healthz.")


class VoiceCueSettings(BaseModel):
    """Voice cues during the agent's call (``ivr/triage/voice_watch.py``): a listen-only
    leg on the caller's audio after the bridge, scored against the caller's own start.
    Shown to the agent, never acted on."""

    enabled: bool = Field(True, description="Open the listen-only leg after AgentConnect.")
    baseline_seconds: float = Field(6.0, gt=0, description="Audio after the bridge taken "
                                    "as the caller's own calm baseline.")
    window_seconds: float = Field(5.0, gt=0, description="Audio scored at a time.")
    rise: float = Field(0.25, gt=0, le=1, description="Score above the baseline's that "
                        "counts as rising.")
    min_score: float = Field(0.5, ge=0, le=1, description="A rising window scores at "
                             "least this.")


class WallboardSettings(BaseModel):
    """The supervisor wallboard (``ivr/web/wallboard.py``): today's figures."""

    service_level_seconds: int = Field(20, ge=1, le=3600, description=(
        "A caller answered within this many seconds of being handed to a queue is in the "
        "service level."))
    timezone: str = Field("Asia/Shanghai", description="The line's day for today's figures.")
    figures_seconds: float = Field(10.0, ge=1, description="How often today's figures are "
                                   "read from the records again.")

    @model_validator(mode="after")
    def _known_zone(self) -> WallboardSettings:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        return self


class AgentsSettings(BaseModel):
    """The agents list and how calls choose among them (:mod:`ivr.agents`,
    :mod:`ivr.telephony.skills`)."""

    file: Path = Field(PROJECT_ROOT / "agents.yaml", description=(
        "agents.yaml: handsets, languages, skills, queues (ivr agents validate)."))
    # static: queues.conf lists each agent in its queues (a shift = pause/unpause);
    # login: no member lines, handsets log in over AMI (QueueAdd) with the same penalties.
    members: Literal["static", "login"] = Field(
        "static", description="Queue membership from the file (static) or AMI log-in only.")
    prefer_seconds: int = Field(12, ge=1, le=120, description=(
        "How long a call rings only the free agent who fits it best (language, skill) "
        "before every member of the queue may take it."))
    whisper: bool = Field(False, description=(
        "Speak the call's context to the agent before the bridge (urgency, complaint, "
        "a repeat call today); a route step's whisper option overrides it."))


class Settings(BaseSettings):
    """All settings; see README "Configuration"."""

    model_config = SettingsConfigDict(
        env_prefix="IVR_",
        env_nested_delimiter="__",
        toml_file=os.environ.get("IVR_CONFIG", "ivr.toml"),
        extra="forbid",
    )

    state_dir: Path = PROJECT_ROOT / ".pbx"
    pbx: PbxSettings = PbxSettings()
    engine: EngineSettings = EngineSettings()
    followups: FollowupSettings = FollowupSettings()
    agents: AgentsSettings = AgentsSettings()
    ops: OpsSettings = OpsSettings()
    voice_cues: VoiceCueSettings = VoiceCueSettings()
    web: WebSettings = WebSettings()
    wallboard: WallboardSettings = WallboardSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def pbx_root(self) -> Path:
        return self.pbx.root or self.state_dir / "root"

    @property
    def pbx_maxload(self) -> float:
        """``pbx.maxload``, or three runnable tasks per core (see default_maxload)."""
        from ivr.pbx.render import default_maxload

        return self.pbx.maxload or default_maxload()

    @property
    def database_url(self) -> str:
        return self.engine.database_url or f"sqlite:///{self.state_dir / 'ivr.sqlite3'}"

    @property
    def allowed_peers(self) -> list[str]:
        """The FastAGI/AudioSocket peer allowlist (``engine.peers`` or its default)."""
        return self.engine.peers or [self.pbx.host, "127.0.0.0/8", "::1"]

    @property
    def secrets_path(self) -> Path:
        return self.state_dir / "secrets.json"

    @cached_property
    def secrets(self) -> Secrets:
        """The generated credentials, with a SIP password for every handset in the
        agents list (a phone added to agents.yaml gets one on first use)."""
        from ivr.agents import AgentsError

        try:
            extensions: tuple[str, ...] | None = self.agent_book().extensions
        except AgentsError as exc:  # `ivr pbx up` refuses it; an engine still starts
            logging.getLogger(__name__).warning("agents list unusable, no new SIP "
                                                "passwords: %s", exc)
            extensions = None
        return Secrets.load_or_create(self.secrets_path, extensions)

    def agent_book(self) -> AgentBook:
        """The agents list (``agents.file``), read now; AgentsError when it is invalid."""
        from ivr.agents import load_agents

        return load_agents(self.agents.file)

    def current_agi_secret(self) -> str:
        """The FastAGI secret as the file has it now (after ``ivr secrets rotate``)."""
        return Secrets.load_or_create(self.secrets_path).agi_secret


class Secrets(BaseModel):
    """Generated credentials: kept out of git, readable by the owner only.

    ``agi_secret`` proves a FastAGI session comes from our Asterisk: the dialplan sends
    a per-call token made from it (:mod:`ivr.telephony.agi_auth`), never the secret.
    A file from before a field existed gets that field generated (and saved) on load.
    """

    ami_secret: str
    agent_passwords: dict[str, str]
    agi_secret: str = Field(default_factory=lambda: new_agi_secret())

    @classmethod
    def generate(cls, extensions: Iterable[str] | None = None) -> Secrets:
        return cls(ami_secret=secrets.token_urlsafe(24),
                   agent_passwords={ext: secrets.token_urlsafe(12)
                                    for ext in extensions or AGENT_EXTENSIONS})

    @classmethod
    def load_or_create(cls, path: Path, extensions: Iterable[str] | None = None) -> Secrets:
        """Read ``path`` (completing and saving it if a field is new, or a handset in
        ``extensions`` has no password yet), or create it 0600. Passwords of handsets no
        longer listed are kept (a phone put back works again). Several processes may
        start at once (the engine, ``ivr pbx up``): one lock."""
        from ivr.privacy._files import private_dir, write_private

        wanted = list(extensions or AGENT_EXTENSIONS)
        private_dir(path.parent, tighten=True)
        with locked(path.with_name(f".{path.name}.lock")):
            if path.exists():
                raw = json.loads(path.read_text())
                made = cls.model_validate(raw)
                missing = [ext for ext in wanted if ext not in made.agent_passwords]
                if set(made.model_dump()) == set(raw) and not missing:
                    return made
                made.agent_passwords.update(
                    {ext: secrets.token_urlsafe(12) for ext in missing})
            else:
                made = cls.generate(wanted)
            write_private(path, json.dumps(made.model_dump(), indent=2).encode())
            return made

    def rotated(self, which: set[str]) -> Secrets:
        """These secrets with fresh values for ``which`` (``ami``, ``agi``, ``agents``)."""
        fresh = Secrets.generate(self.agent_passwords)
        return Secrets(
            ami_secret=fresh.ami_secret if "ami" in which else self.ami_secret,
            agent_passwords=fresh.agent_passwords if "agents" in which
            else self.agent_passwords,
            agi_secret=new_agi_secret() if "agi" in which else self.agi_secret)

    def save(self, path: Path) -> None:
        from ivr.privacy._files import write_private

        with locked(path.with_name(f".{path.name}.lock")):
            write_private(path, json.dumps(self.model_dump(), indent=2).encode())


def new_agi_secret() -> str:
    """64 hex digits: safe inside a dialplan expression (no ``,$[]{}`` to escape)."""
    return secrets.token_hex(32)


# The four handsets shipped in agents.yaml: secrets made without an agents list (the
# list itself decides which phones pjsip.conf provisions: Settings.agent_book).
AGENT_EXTENSIONS = ("1001", "1002", "1003", "1004")


def load_settings(**overrides: object) -> Settings:
    """Settings from file and environment, with explicit overrides on top (tests, CLI)."""
    return Settings(**overrides)  # type: ignore[arg-type]
