"""The report's charts: one function per chart, ``Figures`` in, PNG bytes out.

Matplotlib's Agg canvas, no display and no pyplot: each chart is its own ``Figure`` on
its own ``FigureCanvasAgg`` (the global backend is left alone), so charts can be
drawn from any thread and need no ``$DISPLAY``. Labels mix Mandarin and
English, so a CJK font is used when one is installed (``scripts/setup`` installs
fonts-wqy-zenhei); without one the charts still render, with boxes for the
Mandarin glyphs. Every chart has a fixed pixel size (``SIZES``) and draws a
"no data" note rather than an empty frame.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ivr.reports.figures import Figures
from ivr.reports.labels import URGENCY_NAMES

DPI = 100
# chart name -> (width, height) in pixels
SIZES: dict[str, tuple[int, int]] = {
    "hourly_volume": (800, 300),
    "daily_volume": (800, 300),
    "urgency_levels": (800, 300),
    "departments": (800, 440),
    "symptom_trend": (800, 340),
    "hold_times": (800, 300),
    "survey_scores": (800, 280),
    "feedback_themes": (800, 300),
}
# font files tried in order (Debian paths); the first that exists is used
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
URGENCY_COLOURS = {"1": "#c62828", "2": "#ef6c00", "3": "#f9a825", "4": "#2e7d32",
                   "none": "#9e9e9e"}
SCORE_COLOURS = ("#c62828", "#ef6c00", "#fdd835", "#9ccc65", "#2e7d32")
BAR = "#1565c0"
ALERT = "#c62828"


class _NoWeightNotice(logging.Filter):
    """WenQuanYi Zen Hei comes in one weight (medium); matplotlib logs a warning each
    time it uses it for 'normal' text. That is expected here: drop the notice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("findfont: Failed to find font weight")


@cache
def cjk_font() -> str | None:
    """The family name of an installed CJK font, registered with matplotlib, or None."""
    for path in CJK_FONT_FILES:
        if not Path(path).exists():
            continue
        try:
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
        logging.getLogger("matplotlib.font_manager").addFilter(_NoWeightNotice())
        return name
    return None


@contextmanager
def _style() -> Iterator[None]:
    cjk = cjk_font()
    family = [cjk, "DejaVu Sans"] if cjk else ["DejaVu Sans"]
    rc = {"font.family": "sans-serif", "font.sans-serif": family, "font.size": 9,
          "axes.unicode_minus": False, "axes.spines.top": False, "axes.spines.right": False}
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        if cjk is None:  # quietly draw boxes for glyphs no font has
            warnings.filterwarnings("ignore", message="Glyph .* missing")
        yield


def _chart(name: str, draw: Callable[[Axes], None]) -> bytes:
    width, height = SIZES[name]
    with _style():
        fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        draw(ax)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _no_data(ax: Axes, title: str) -> None:
    ax.set_title(title, loc="left")
    ax.text(0.5, 0.5, "no data in this period  本期无数据", ha="center", va="center",
            transform=ax.transAxes, color="#616161", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])


def _barh(ax: Axes, labels: Sequence[str], values: Sequence[float], title: str,
          colour: str | Sequence[str] = BAR) -> None:
    positions = range(len(labels))
    ax.barh(positions, values, color=colour)
    ax.set_yticks(list(positions), labels)
    ax.invert_yaxis()
    ax.set_title(title, loc="left")
    for y, value in zip(positions, values, strict=True):
        ax.text(value, y, f" {value:g}", va="center", fontsize=8)
    ax.margins(x=0.08)


def hourly_volume(f: Figures) -> bytes:
    title = f"Calls by hour of day 每小时来电 ({f.period.timezone})"

    def draw(ax: Axes) -> None:
        if not f.volume.total:
            return _no_data(ax, title)
        ax.bar(range(24), f.volume.by_hour, color=BAR)
        ax.set_xticks(range(0, 24, 2), [f"{h:02d}h" for h in range(0, 24, 2)])
        ax.set_ylabel("calls")
        ax.set_title(title, loc="left")
        return None

    return _chart("hourly_volume", draw)


def daily_volume(f: Figures) -> bytes:
    title = "Calls per day 每日来电"

    def draw(ax: Axes) -> None:
        if not f.volume.total:
            return _no_data(ax, title)
        days = [date.fromisoformat(d) for d in f.period.days]
        labels = [f"{d:%m-%d}\n{d:%a}" for d in days]
        ax.bar(range(len(days)), f.volume.by_day, color=BAR)
        step = max(1, len(days) // 14)
        ax.set_xticks(range(0, len(days), step), labels[::step])
        ax.set_ylabel("calls")
        ax.set_title(title, loc="left")
        return None

    return _chart("daily_volume", draw)


def urgency_levels(f: Figures) -> bytes:
    title = "Calls by triage level 分诊级别"

    def draw(ax: Axes) -> None:
        if not f.volume.total:
            return _no_data(ax, title)
        keys = list(f.triage.by_urgency)
        _barh(ax, [URGENCY_NAMES.get(k, k) for k in keys],
              [f.triage.by_urgency[k] for k in keys], title,
              [URGENCY_COLOURS.get(k, BAR) for k in keys])
        return None

    return _chart("urgency_levels", draw)


def departments(f: Figures, top: int = 15) -> bytes:
    title = "Calls by department 各科室来电"

    def draw(ax: Axes) -> None:
        items = [(d, n) for d, n in f.triage.by_department.items() if d != "none"][:top]
        if not items:
            return _no_data(ax, title)
        _barh(ax, [f.triage.department_labels.get(d, d) for d, _ in items],
              [n for _, n in items], title)
        return None

    return _chart("departments", draw)


def symptom_trend(f: Figures, top: int = 6) -> bytes:
    title = "Top symptoms per day 主要症状趋势 (red: rise flagged 红色: 异常上升)"
    flagged = {a.symptom for a in f.alerts}

    def draw(ax: Axes) -> None:
        rows = f.symptoms[:top]
        rows += [s for s in f.symptoms[top:] if s.symptom in flagged]
        if not rows or len(f.period.days) < 1:
            return _no_data(ax, title)
        x = range(len(f.period.days))
        for row in rows:
            alert = row.symptom in flagged
            ax.plot(x, row.by_day, marker="o", markersize=3, label=row.label,
                    linewidth=2.6 if alert else 1.3, color=ALERT if alert else None)
        days = [date.fromisoformat(d) for d in f.period.days]
        step = max(1, len(days) // 14)
        ax.set_xticks(range(0, len(days), step), [f"{d:%m-%d}" for d in days][::step])
        ax.set_ylabel("calls")
        ax.set_title(title, loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        return None

    return _chart("symptom_trend", draw)


def hold_times(f: Figures) -> bytes:
    title = "Queue hold time per call 排队等待时间"

    def draw(ax: Axes) -> None:
        bins = f.waits.hold_histogram
        if not any(b["calls"] for b in bins):
            return _no_data(ax, title)
        ax.bar(range(len(bins)), [b["calls"] for b in bins], color=BAR)
        ax.set_xticks(range(len(bins)), [b["label"] for b in bins])
        ax.set_ylabel("calls")
        w = f.waits
        rate = "-" if w.abandonment_rate is None else f"{w.abandonment_rate:.1%}"
        ax.set_title(f"{title}: p50 {w.hold_p50:g} s, p90 {w.hold_p90:g} s, "
                     f"abandoned 放弃 {rate}", loc="left")
        return None

    return _chart("hold_times", draw)


def survey_scores(f: Figures) -> bytes:
    title = "Survey scores 满意度评分 (share of answers per score)"

    def draw(ax: Axes) -> None:
        dims = [d for d in f.survey if d.n]
        if not dims:
            return _no_data(ax, title)
        scale = max(d.scale for d in dims)
        left = [0.0] * len(dims)
        for score in range(1, scale + 1):
            shares = [d.distribution.get(str(score), 0) / d.n for d in dims]
            colour = SCORE_COLOURS[min(len(SCORE_COLOURS) - 1,
                                       round((score - 1) * 4 / max(1, scale - 1)))]
            ax.barh(range(len(dims)), shares, left=left, color=colour, label=str(score))
            left = [a + b for a, b in zip(left, shares, strict=True)]
        ax.set_yticks(range(len(dims)), [f"{d.dimension} (mean {d.mean:g}, n={d.n})"
                                         for d in dims])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
        ax.legend(title="score", loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
                  frameon=False)
        ax.set_title(title, loc="left")
        return None

    return _chart("survey_scores", draw)


def feedback_themes(f: Figures) -> bytes:
    title = "Negative feedback themes 负面反馈主题 (comments and complaints)"

    def draw(ax: Axes) -> None:
        themes = f.feedback.themes
        if not any(t["total"] for t in themes):
            return _no_data(ax, title)
        positions = range(len(themes))
        zh = [t["zh"] for t in themes]
        en = [t["en"] + t["other"] for t in themes]
        ax.barh(positions, zh, color="#6a1b9a", label="Mandarin 中文")
        ax.barh(positions, en, left=zh, color="#26a69a", label="English / other")
        ax.set_yticks(list(positions), [f"{t['label']} {t['label_zh']}" for t in themes])
        ax.invert_yaxis()
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        ax.set_title(title, loc="left")
        return None

    return _chart("feedback_themes", draw)


CHARTS: dict[str, Callable[[Figures], bytes]] = {
    "hourly_volume": hourly_volume,
    "daily_volume": daily_volume,
    "urgency_levels": urgency_levels,
    "departments": departments,
    "symptom_trend": symptom_trend,
    "hold_times": hold_times,
    "survey_scores": survey_scores,
    "feedback_themes": feedback_themes,
}


def render_all(f: Figures) -> dict[str, bytes]:
    """Every chart, in report order: ``{name: PNG bytes}``."""
    return {name: chart(f) for name, chart in CHARTS.items()}
