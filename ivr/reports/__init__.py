"""Management reports over the call records (``ivr report``).

    figures  = compute_figures(engine, since, until, tz="Asia/Shanghai")
    figures.to_dict()            # the JSON of ``ivr report --json``
    render_html(figures)         # one self-contained page, charts included

Modules, one job each: ``period`` (what people type for a period), ``figures``
(the numbers, from the database), ``trends`` (the symptom rise rule),
``themes`` (negative-feedback phrases), ``labels`` (display names), ``plots``
(one PNG per chart; matplotlib is imported only there) and ``html``.
"""

from ivr.reports.figures import Figures, compute_figures
from ivr.reports.html import render_html
from ivr.reports.trends import Rise, RiseRule, check_rise, find_rises

__all__ = ["Figures", "Rise", "RiseRule", "check_rise", "compute_figures", "find_rises",
           "render_html"]
