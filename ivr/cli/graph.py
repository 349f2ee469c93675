"""``ivr graph``: draw a call flow (emergency paths in red) for reviews and the wiki."""

from __future__ import annotations

import typing
from pathlib import Path

import click
import graphviz

from ivr.flows.graph import flow_to_dot
from ivr.flows.loader import PROMPTS_DIR, load_flow_set
from ivr.flows.model import Flow, FlowSet
from ivr.flows.schema import FlowHeader

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
# The languages a flow may be in: the Literal inside FlowHeader.languages: list[Literal[...]].
LANGUAGES: tuple[str, ...] = typing.get_args(
    typing.get_args(FlowHeader.model_fields["languages"].annotation)[0])


@click.command("graph")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False,
              path_type=Path), help="Picture to write: .svg, .png, .pdf or .dot.")
@click.option("--prompts", "prompts_dir", type=click.Path(path_type=Path), default=PROMPTS_DIR,
              show_default=True, help="Folder of <lang>.yaml prompt texts.")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="Language of the prompt texts shown (default: the flow's first).")
def graph(file: Path, out: Path, prompts_dir: Path, lang: str | None) -> None:
    """Draw the flow defined in FILE as a picture (Graphviz). Its whole folder is
    validated first, so subflows resolve; nothing is drawn if validation fails."""
    fmt = output_format(out)
    flow_set = _load(file, prompts_dir)
    flow = _flow_of(flow_set, file)
    try:
        dot = flow_to_dot(flow_set, flow.name, lang)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    render(dot, out, fmt)
    click.echo(str(out))


def output_format(out: Path) -> str:
    """The Graphviz format named by the output's suffix."""
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise click.BadParameter(f"'{out.name}': the name must end in one of "
                                 f"{', '.join(FORMATS)}", param_hint="'-o'")
    return fmt


def _load(file: Path, prompts_dir: Path) -> FlowSet:
    """The validated flow set of FILE's folder; on any error, print every finding."""
    flow_set, found = load_flow_set([file.parent], prompts_dir)
    for d in found:
        click.echo(str(d), err=True)
    if flow_set is None:
        errors = sum(d.severity == "error" for d in found)
        raise click.ClickException(f"{errors} error(s) in {file.parent}: nothing drawn")
    return flow_set


def _flow_of(flow_set: FlowSet, file: Path) -> Flow:
    for flow in flow_set.flows.values():
        if Path(flow.path).resolve() == file.resolve():
            return flow
    raise click.ClickException(f"{file} is not a flow of its folder (flow files end in .yaml)")


def render(dot: graphviz.Digraph, out: Path, fmt: str) -> None:
    """Write the picture; .dot needs no Graphviz, every other format needs `dot`."""
    try:
        data = dot.source.encode() if fmt == "dot" else dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise click.ClickException(
            "Graphviz's 'dot' program is not installed: run scripts/setup (or "
            "apt-get install graphviz), or write a .dot file instead") from None
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        raise click.ClickException(f"Graphviz failed: {stderr.strip() or exc}") from None
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from None
