"""``ivr override``: the global emergency switch (a mass-casualty event, a line outage):
while on, every new call goes straight to the emergency team, skipping all menus."""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path

import click

from ivr.pbx.eagi import emergency_flags
from ivr.settings import Settings, load_settings


@click.command()
@click.argument("state", type=click.Choice(["on", "off", "status"]), default="status")
@click.option("--reason", default="", help="Why (kept with the switch, shown in status).")
def override(state: str, reason: str) -> None:
    """Turn the emergency override on or off, or show it. Takes effect on the next call."""
    settings = load_settings()
    # The engine's switch, and a copy for each ivr-eagi inside the Asterisk root.
    flags = emergency_flags(settings)
    flag = flags[0]
    if state in ("on", "off"):  # every engine on the records database, within a second
        _switch_database(settings, state == "on", reason)
    if state == "on":
        for each in flags:
            each.parent.mkdir(parents=True, exist_ok=True)
            each.write_text(f"{dt.datetime.now(dt.UTC).isoformat()} {reason}\n")
        click.echo("emergency override ON: every new call goes to the emergency team")
    elif state == "off":
        for each in flags:
            each.unlink(missing_ok=True)
        click.echo("emergency override off: calls follow the flows")
    elif flag.exists():
        click.echo(f"emergency override ON since {flag.read_text().strip()}")
    else:
        click.echo("emergency override off")


def _switch_database(settings: Settings, on: bool, reason: str) -> bool:
    """The line's switch in the records database (``ivr.store.switches``): engines on
    other machines follow it too. False, with a warning, if the database is not there."""
    from ivr.store import switches
    from ivr.store.database import make_engine

    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return False  # no records yet on this machine: the files are the whole line
    try:
        engine = make_engine(url)
        try:
            switches.write(engine, on, reason, by=getpass.getuser())
        finally:
            engine.dispose()
    except Exception as exc:
        click.echo(f"warning: the records database was not switched ({type(exc).__name__}); "
                   "engines on other machines keep their state: switch them there", err=True)
        return False
    return True
