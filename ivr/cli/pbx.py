"""``ivr pbx``: the local Asterisk the engine talks to."""

from __future__ import annotations

import os

import click

from ivr.pbx import PbxError, PbxInstance
from ivr.pbx.debian_root import RootBuildError
from ivr.pbx.eagi import EagiInstallError, eagi_paths
from ivr.settings import load_settings


def _instance(simulation: bool = True) -> PbxInstance:
    return PbxInstance(load_settings(), simulation=simulation)


@click.group()
def pbx() -> None:
    """Install, start, stop and inspect the local Asterisk."""


@pbx.command()
@click.option("--eagi", is_flag=True,
              help="Also make `ivr-eagi` runnable by this Asterisk: in a chroot, Python "
                   "and the project inside the root (/opt/ivr/venv).")
def install(eagi: bool) -> None:
    """Make Asterisk available (builds a Debian sid root when the system has none)."""
    inst = _instance()
    try:
        where = inst.install()
        click.echo(f"Asterisk ready: {where}")
        if eagi:
            report = inst.install_eagi(log=lambda step: click.echo(f"ivr-eagi: {step}..."))
            click.echo(f"ivr-eagi ready: {eagi_paths(inst).script} ({report.summary()})")
    except (RootBuildError, EagiInstallError) as exc:
        raise click.ClickException(str(exc)) from exc


@pbx.command()
@click.option("--no-sim", is_flag=True, help="Leave out the simulated-patient dialplan.")
def up(no_sim: bool) -> None:
    """Render asterisk_conf/ and start Asterisk (reloads it if already running)."""
    inst = _instance(simulation=not no_sim)
    try:
        inst.up()
    except (PbxError, RootBuildError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Asterisk up: AMI {inst.settings.pbx.host}:{inst.settings.pbx.ami_port}, "
               f"SIP {inst.settings.pbx.host}:{inst.settings.pbx.sip_port}; log {inst.log_file}")


@pbx.command()
def down() -> None:
    """Stop Asterisk."""
    click.echo("stopped" if _instance().down() else "was not running")


@pbx.command()
def status() -> None:
    """Show whether Asterisk runs, where, and on which ports."""
    for key, value in _instance().status().items():
        click.echo(f"{key:>9}: {value}")


@pbx.command()
def reload() -> None:
    """Re-render asterisk_conf/ and reload the running Asterisk."""
    try:
        _instance().reload()
    except PbxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("reloaded")


@pbx.command(context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1)
def cli(command: tuple[str, ...]) -> None:
    """Asterisk's console, or run one CLI COMMAND (e.g. `ivr pbx cli queue show`)."""
    inst = _instance()
    if not inst.is_running():
        raise click.ClickException("Asterisk is not running: `ivr pbx up` first")
    if command:
        click.echo(inst.cli(" ".join(command)), nl=False)
        return
    argv = inst.interactive_argv()
    os.execvp(argv[0], argv)
