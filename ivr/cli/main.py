"""``ivr``: the command line. Each command lives in its own module; expected
errors print ``Error: message`` and exit non-zero, without a traceback."""

from __future__ import annotations

import logging

import click

from ivr.cli.demo import demo
from ivr.cli.graph import graph
from ivr.cli.models import models
from ivr.cli.override import override
from ivr.cli.pbx import pbx
from ivr.cli.prompts import prompts
from ivr.cli.serve import serve
from ivr.cli.simulate import simulate_cmd
from ivr.cli.triage import triage
from ivr.cli.urgency import urgency
from ivr.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Voice IVR engine for hospital phone lines (Asterisk + Python)."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


cli.add_command(demo)
cli.add_command(graph)
cli.add_command(models)
cli.add_command(override)
cli.add_command(pbx)
cli.add_command(prompts)
cli.add_command(serve)
cli.add_command(validate)
cli.add_command(triage)
cli.add_command(urgency)
cli.add_command(simulate_cmd, name="simulate")


if __name__ == "__main__":
    cli()
