"""``ivr``: the command line. Each command lives in its own module; expected
errors print ``Error: message`` and exit non-zero, without a traceback."""

from __future__ import annotations

import logging

import click

from ivr.cli.agents import agents
from ivr.cli.db import db
from ivr.cli.demo import demo
from ivr.cli.drill import drill
from ivr.cli.followups import followups
from ivr.cli.graph import graph
from ivr.cli.intent import intent
from ivr.cli.kb import kb
from ivr.cli.models import models
from ivr.cli.override import override
from ivr.cli.pbx import pbx
from ivr.cli.prompts import prompts
from ivr.cli.records import COMMANDS as RECORD_COMMANDS
from ivr.cli.report import report
from ivr.cli.results import results
from ivr.cli.schedule import schedule
from ivr.cli.secrets import secrets_group
from ivr.cli.serve import serve
from ivr.cli.simulate import simulate_cmd
from ivr.cli.test import test_command
from ivr.cli.triage import triage
from ivr.cli.urgency import urgency
from ivr.cli.validate import validate
from ivr.privacy import install_log_masking


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Voice IVR engine for hospital phone lines (Asterisk + Python)."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()  # no phone number or ID reaches a log line in clear


cli.add_command(agents)
cli.add_command(db)
cli.add_command(demo)
cli.add_command(drill)
cli.add_command(followups)
cli.add_command(intent)
cli.add_command(kb)
cli.add_command(graph)
cli.add_command(models)
cli.add_command(override)
cli.add_command(pbx)
cli.add_command(prompts)
cli.add_command(report)
cli.add_command(schedule)
cli.add_command(results)
cli.add_command(secrets_group)
cli.add_command(serve)
cli.add_command(validate)
cli.add_command(triage)
cli.add_command(urgency)
cli.add_command(simulate_cmd, name="simulate")
cli.add_command(test_command, name="test")
for command in RECORD_COMMANDS:
    cli.add_command(command)


if __name__ == "__main__":
    cli()
