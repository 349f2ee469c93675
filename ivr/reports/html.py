"""The report as one self-contained HTML file: tables, charts as PNG data URIs.

No external files, scripts or fonts: it can be mailed or archived as it is.
Only what ``Figures`` holds goes in (aggregates, rule ids, theme counts), so the
page carries no caller number, name or call id; the template is autoescaped.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ivr.reports.figures import Figures
from ivr.reports.labels import URGENCY_NAMES, department_label, symptom_label

TEMPLATE = "report.html.j2"
WEEKDAYS = ("Mon 周一", "Tue 周二", "Wed 周三", "Thu 周四", "Fri 周五", "Sat 周六", "Sun 周日")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int | None = None) -> str:
    if value is None:
        return "-"
    return f"{value if digits is None else round(value, digits):g}"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("ivr.reports", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    return env


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_html(figures: Figures, charts: Mapping[str, bytes] | None = None) -> str:
    """The page for ``figures``; ``charts`` (name -> PNG) default to ``plots.render_all``."""
    if charts is None:
        from ivr.reports.plots import render_all  # matplotlib only when charts are drawn

        charts = render_all(figures)
    return _environment().get_template(TEMPLATE).render(
        f=figures,
        charts={name: data_uri(png) for name, png in charts.items()},
        urgency_names=URGENCY_NAMES,
        weekdays=WEEKDAYS,
        department_label=department_label,
        symptom_label=symptom_label,
    )
