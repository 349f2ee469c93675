"""``ivr secrets``: the generated credentials in the state folder (``secrets.json``)."""

from __future__ import annotations

import click

from ivr.pbx import PbxError, PbxInstance
from ivr.settings import load_settings

KINDS = ("agi", "ami", "agents")


@click.group("secrets")
def secrets_group() -> None:
    """The generated credentials: FastAGI, AMI and the agents' SIP passwords."""


@secrets_group.command("rotate")
@click.argument("kinds", nargs=-1, type=click.Choice(KINDS))
def rotate(kinds: tuple[str, ...]) -> None:
    """Make new secrets (default: agi and ami) and reload the local Asterisk.

    The engine picks up a new FastAGI secret by itself at the next call; a new AMI
    secret needs the engine restarted; new agent passwords must be put on the handsets.
    """
    which = set(kinds or ("agi", "ami"))
    settings = load_settings()
    rotated = settings.secrets.rotated(which)
    rotated.save(settings.secrets_path)
    click.echo(f"rotated: {', '.join(sorted(which))} in {settings.secrets_path} (0600)")
    settings.__dict__.pop("secrets", None)  # the instance renders the new ones
    pbx = PbxInstance(settings)
    # keep the simulated patients' dialplan if the running instance has it (ivr pbx up)
    pbx.simulation = (pbx.host_dir / "etc" / "extensions_sim.conf").exists()
    if pbx.is_running():
        try:
            pbx.reload()
        except PbxError as exc:
            raise click.ClickException(f"secrets saved, but Asterisk did not reload: {exc}") \
                from exc
        click.echo("local Asterisk: config rendered and reloaded")
    else:
        click.echo("local Asterisk not running: `ivr pbx up` renders the new secrets")
    if "agi" in which:
        click.echo("FastAGI: running engines read the new secret at the next call; engines "
                   "on other hosts need this secrets.json copied to them first")
    if "ami" in which:
        click.echo("AMI: restart the engine (ivr serve) so it logs in with the new secret")
    if "agents" in which:
        click.echo(f"agents: put the new passwords ({settings.secrets_path}) on the handsets")
