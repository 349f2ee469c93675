"""``ivr drill``: simulated emergency and crisis calls through the live line.

    ivr drill                          both scenarios, one after the other
    ivr drill --scenario crisis        one
    ivr drill --timeout 90 --talk 3    give up after 90 s without a person; talk 3 s

Uses the settings' running Asterisk (AMI) and engine: each call enters hospital-inbound
like a patient's, says its words, and must be heard as a red flag, routed to its team
and answered by a person. Prints one line per drill (PASS/FAIL, time to human, each
step held or failed), stores each result (table ``drills``: ``ivr report`` shows them
and leaves drill calls out of the patients' figures), and exits 1 on any FAIL.
"""

from __future__ import annotations

import asyncio

import click

from ivr.drill.scenarios import chosen
from ivr.drill.steps import DrillResult, failures, line
from ivr.settings import Settings, load_settings
from ivr.telephony.errors import AmiError


@click.command("drill")
@click.option("--scenario", type=click.Choice(["emergency", "crisis", "all"]), default="all",
              show_default=True, help="Which drill caller(s) to place.")
@click.option("--timeout", type=click.FloatRange(5, 900), default=120.0, show_default=True,
              help="Seconds a drill waits for a person before it fails.")
@click.option("--talk", type=click.FloatRange(0, 60), default=3.0, show_default=True,
              help="Seconds the person who answered stays with the drill caller.")
def drill(scenario: str, timeout: float, talk: float) -> None:
    """Place drill calls through the live line; PASS/FAIL and time to a human for each."""
    settings = load_settings()
    try:
        results = asyncio.run(_drills(settings, scenario, timeout, talk))
    except (OSError, RuntimeError, AmiError) as exc:  # AMI unreachable, espeak-ng missing...
        raise click.ClickException(str(exc)) from None
    if not all(r.passed for r in results):
        raise SystemExit(1)


async def _drills(settings: Settings, scenario: str, timeout: float,
                  talk: float) -> list[DrillResult]:
    from ivr.drill.run import Watch, run_drill
    from ivr.drill.store import save
    from ivr.pbx import PbxInstance
    from ivr.store.database import make_engine, migrate
    from ivr.telephony.ami import AmiClient

    db = make_engine(settings.database_url)
    migrate(db)
    pbx = settings.pbx
    ami = AmiClient(pbx.host, pbx.ami_port, pbx.ami_user, settings.secrets.ami_secret)
    results = []
    try:
        await ami.connect()
        watch = Watch(ami)
        sounds = PbxInstance(settings).sounds_dir[0] / "drill"
        for each in chosen(scenario):
            result = await run_drill(ami, watch, db, sounds, each, timeout=timeout,
                                     talk=talk)
            await asyncio.to_thread(save, db, result)
            click.echo(line(result))
            for problem in failures(result):
                click.echo(problem)
            results.append(result)
    finally:
        ami.close()
        db.dispose()
    return results
