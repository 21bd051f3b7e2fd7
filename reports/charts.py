"""Charts as inline SVG strings, drawn by matplotlib offline (the Agg/SVG backends, no
display, no network). Text stays text (``svg.fonttype = 'none'``): small files, selectable
labels, drawn by the browser. Labels are measured with Noto Sans CJK SC (Debian's
fonts-noto-cjk), which has both the Chinese and the Latin glyphs, and the SVG names it, so the
browser draws the text in the font it was laid out with. Ids are made unique per chart, so
several charts can live in one HTML page, and nothing in the SVG refers outside it.
"""
from __future__ import annotations

import io
import itertools
import math
import re
import subprocess
from datetime import date
from typing import Callable, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from etl.i18n import DEFAULT_LOCALE, normalize  # noqa: E402
from etl.privacy import mask_text  # noqa: E402

CJK_FONT = "Noto Sans CJK SC"

# Colour-blind-safe (Okabe–Ito), in a fixed order so a channel keeps its colour on a page.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999", "#000000")
LONG_COLOUR, SHORT_COLOUR = "#0072B2", "#D55E00"
BUCKET_COLOURS = ("#9ecae1", "#6baed6", "#3182bd", "#e6550d", "#a63603")

_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "topup-recon",
    "font.family": "sans-serif",
    "font.sans-serif": [CJK_FONT, "DejaVu Sans", "Liberation Sans", "Arial"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#e5e5e5",
    "axes.axisbelow": True,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "text.parse_math": False,  # labels come from input data: a "$" is a dollar, not TeX
}
_counter = itertools.count(1)
_ID = re.compile(r'\bid="([^"]+)"')


# How an axis reads its numbers. Decimals follow the tick step, so ticks never repeat a label.
count_axis, money_axis, pct_axis, plain_axis = "count", "money", "pct", "plain"
# Finance reads amounts whole (¥300,000, never ¥30万 or ¥300k): its charts' axes are not shortened.
money_exact_axis = "money_exact"


def _decimals(values: Sequence[float]) -> int:
    """The fewest decimals that write every tick exactly (ticks are round numbers: at most 4)."""
    for decimals in range(5):
        if all(abs(v - round(v, decimals)) < 1e-9 * max(1.0, abs(v)) for v in values):
            return decimals
    return 4


def require_cjk_font() -> str:
    """The path of the font Chinese labels are measured with; a clear error where it is missing
    (matplotlib would otherwise draw boxes and lay the labels out too narrow)."""
    from matplotlib import font_manager

    wanted = font_manager.FontProperties(family=CJK_FONT)
    try:
        return font_manager.findfont(wanted, fallback_to_default=False)
    except ValueError:
        pass
    # installed after matplotlib cached its font list: ask fontconfig where it is
    try:
        found = subprocess.run(["fc-list", f":family={CJK_FONT}", "file"], capture_output=True, text=True,
                               timeout=30, check=False).stdout
    except OSError:
        found = ""
    for line in found.splitlines():
        path = line.split(":", 1)[0].strip()
        if path:
            font_manager.fontManager.addfont(path)
    try:
        return font_manager.findfont(wanted, fallback_to_default=False)
    except ValueError:
        raise RuntimeError(f"the font {CJK_FONT!r} is not installed: Chinese chart labels need it "
                           "(Debian: apt-get install fonts-noto-cjk; bin/setup installs it)") from None


def _scale(kind: str, top: float, locale: str) -> tuple[float, str]:
    """How large ticks are shortened: k and M in English, 万 and 亿 in Chinese."""
    if normalize(locale) == "zh_CN":
        return (1e8, "亿") if top >= 1e8 else (1e4, "万") if top >= 1e5 and kind != "plain" else (1.0, "")
    return (1e6, "M") if top >= 1e6 else (1e3, "k") if top >= 1e4 and kind != "plain" else (1.0, "")


def tick_labeller(kind: str, ticks: Sequence[float], locale: str = DEFAULT_LOCALE) -> Callable[[float, object], str]:
    """A formatter for ``ticks``: large numbers shortened where that reads better."""
    finite = sorted(t for t in ticks if math.isfinite(t))
    top = max((abs(t) for t in finite), default=0.0)
    if kind == "pct":
        decimals = _decimals([t * 100 for t in finite])
        return lambda v, _p=None: f"{v * 100:.{decimals}f}%"
    scale, suffix = (1.0, "") if kind == money_exact_axis else _scale(kind, top, locale)
    decimals = _decimals([t / scale for t in finite])
    prefix = "¥" if kind in (money_axis, money_exact_axis) else ""

    def label(v: float, _p: object = None) -> str:
        sign = "-" if v < 0 else ""
        return f"{sign}{prefix}{abs(v) / scale:,.{decimals}f}{suffix}"

    return label


def _format_axis(ax: plt.Axes, kind: str, which: str = "y", locale: str = DEFAULT_LOCALE) -> None:
    axis = ax.yaxis if which == "y" else ax.xaxis
    if axis.get_scale() == "log":
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _p=None: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
        return
    axis.set_major_locator(MaxNLocator(5))
    axis.set_major_formatter(FuncFormatter(tick_labeller(kind, axis.get_majorticklocs(), locale)))


def _to_svg(fig: Figure, title: str) -> str:
    buffer = io.StringIO()
    # Cropped to what is drawn, as bbox_inches="tight" would, but measured without drawing:
    # "tight" draws the whole figure once to measure it and again to write it.
    crop = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.05)
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches=crop)
    plt.close(fig)
    return inline_svg(buffer.getvalue(), title)


def inline_svg(svg: str, title: str) -> str:
    """A standalone SVG document made fit for inlining: no XML prolog, DOCTYPE or metadata,
    ids unique to this chart, sized by the page (viewBox kept), labelled for screen readers."""
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    # matplotlib's "*{stroke-linejoin…}" would apply to the whole page: the page CSS has it
    svg = re.sub(r"<defs>\s*<style[^>]*>.*?</style>\s*</defs>\s*", "", svg, flags=re.S)
    prefix = f"c{next(_counter)}-"
    for old in sorted(set(_ID.findall(svg)), key=len, reverse=True):
        new = prefix + old
        svg = svg.replace(f'id="{old}"', f'id="{new}"')
        svg = svg.replace(f"#{old})", f"#{new})").replace(f'"#{old}"', f'"#{new}"')
    from markupsafe import escape

    # keep the natural size (the page caps it at its column's width, height follows the viewBox)
    svg = re.sub(r"<svg ", lambda m: f'<svg class="chart" role="img" aria-label="{escape(title)}" ', svg, count=1)
    return svg.strip()


def _label(text: object) -> str:
    """Chart labels come from input data: phone numbers masked like everywhere else."""
    return mask_text(str(text))


def _figure(width: float = 7.2, height: float = 2.6) -> tuple[Figure, plt.Axes]:
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax


def _legend_on_top(ax: plt.Axes, n: int) -> None:
    """The legend in one row between the title and the plot."""
    ax.set_title(ax.get_title(loc="left"), loc="left", pad=20)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=n, borderaxespad=0.2, handlelength=1.4,
              columnspacing=1.0)


def line_chart(days: Sequence[date], series: dict[str, Sequence[float | None]], title: str,
               axis: str = count_axis, highlight_last: bool = True,
               colours: Sequence[str] = PALETTE, width: float = 7.2, height: float = 2.4, log: bool = False,
               locale: str = DEFAULT_LOCALE) -> str:
    """One line per series over days (None leaves a gap)."""
    with plt.rc_context(_STYLE):
        fig, ax = _figure(width, height)
        for (name, values), colour in zip(series.items(), itertools.cycle(colours)):
            ys = [float("nan") if v is None else float(v) for v in values]
            ax.plot(list(days), ys, label=_label(name), color=colour, linewidth=1.6, marker="o", markersize=2.5)
            if highlight_last and ys and ys[-1] == ys[-1]:
                ax.plot([days[-1]], [ys[-1]], marker="o", markersize=5, color=colour)
        ax.set_title(title)
        if log:
            ax.set_yscale("log")
        _format_axis(ax, axis, locale=locale)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: matplotlib.dates.num2date(v).strftime("%m-%d")))
        ax.xaxis.set_major_locator(MaxNLocator(8, integer=True))
        if len(series) > 1:
            _legend_on_top(ax, len(series))
        return _to_svg(fig, title)


def stacked_bars(categories: Sequence[object], stacks: dict[str, Sequence[float]], title: str,
                 axis: str = count_axis, colours: Sequence[str] = PALETTE, horizontal: bool = False,
                 width: float = 7.2, height: float = 2.6, rotate: int = 0,
                 reference: tuple[float, str] | None = None, locale: str = DEFAULT_LOCALE) -> str:
    """Bars per category, one segment per stack (positive values)."""
    with plt.rc_context(_STYLE):
        fig, ax = _figure(width, height)
        labels = [_label(c) for c in categories]
        positions = list(range(len(labels)))
        bottom = [0.0] * len(labels)
        for (name, values), colour in zip(stacks.items(), itertools.cycle(colours)):
            vals = [float(v or 0) for v in values]
            if horizontal:
                ax.barh(positions, vals, left=bottom, label=_label(name), color=colour, height=0.7)
            else:
                ax.bar(positions, vals, bottom=bottom, label=_label(name), color=colour, width=0.75)
            bottom = [b + v for b, v in zip(bottom, vals)]
        if horizontal:
            ax.set_yticks(positions, labels)
            ax.invert_yaxis()
            _format_axis(ax, axis, "x", locale)
            ax.grid(axis="x")
            ax.grid(axis="y", visible=False)
        else:
            ax.set_xticks(positions, labels, rotation=rotate, ha="right" if rotate else "center")
            _format_axis(ax, axis, locale=locale)
        if reference is not None:
            where, text = reference
            ax.axvline(where, color="#D55E00", linestyle="--", linewidth=1)
            ax.text(where, ax.get_ylim()[1], " " + text, color="#D55E00", va="top", ha="left", fontsize=8)
        ax.set_title(title)
        if len(stacks) > 1:
            if len(stacks) <= 5:
                _legend_on_top(ax, len(stacks))
            else:
                ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _to_svg(fig, title)


def diverging_bars(days: Sequence[date], long: Sequence[float], short: Sequence[float], title: str,
                   legend: tuple[str, str], locale: str = DEFAULT_LOCALE, axis: str = money_axis) -> str:
    """Per day, 长款 (long: money held) above the axis and 短款 (short: money missing) below it;
    ``legend`` names the two sides in the page's language."""
    with plt.rc_context(_STYLE):
        fig, ax = _figure(7.2, 2.4)
        xs = list(range(len(days)))
        ax.bar(xs, [float(v or 0) for v in long], color=LONG_COLOUR, label=legend[0])
        ax.bar(xs, [float(v or 0) for v in short], color=SHORT_COLOUR, label=legend[1])
        ax.axhline(0, color="#444444", linewidth=0.8)
        step = max(1, len(days) // 10)
        ax.set_xticks(xs[::step], [d.strftime("%m-%d") for d in days][::step])
        _format_axis(ax, axis, locale=locale)
        ax.set_title(title)
        _legend_on_top(ax, 2)
        return _to_svg(fig, title)
