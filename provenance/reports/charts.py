"""Chart pieces several reports share: a note where a chart has nothing to show, ranked bars,
and a log scale where values span orders of magnitude."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import pandas as pd

from provenance.reports.model import Chart

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Largest over smallest positive value from which a linear axis hides the small ones: at 100,
#: a bar of 1 beside one of 100 is a hair's width.
LOG_SPAN = 100


def spans_orders(values: Iterable[float]) -> bool:
    """Whether the positive values span LOG_SPAN or more (so a linear axis would hide some)."""
    positive = [float(v) for v in values if float(v) > 0]
    return bool(positive) and max(positive) / min(positive) >= LOG_SPAN


def value_scale(axes: Axes, values: Iterable[float], axis: Literal["x", "y"] = "x") -> bool:
    """Put the value axis on a log scale when the values span orders of magnitude; says whether
    it did (zero values then draw no bar, which a caller's bar labels still name)."""
    values = [float(v) for v in values]
    if not spans_orders(values):
        return False
    # Half the smallest value below it, so a bar of that value still has a length.
    low = min(float(v) for v in values if float(v) > 0) / 2
    if axis == "x":
        axes.set_xscale("log")
        axes.set_xlim(left=low)
    else:
        axes.set_yscale("log")
        axes.set_ylim(bottom=low)
    return True


def chart_axes(figure: Figure, empty: bool, text: str) -> Axes | None:
    """The chart's axes, or None after writing `text` in place of a chart with no data."""
    axes = figure.add_subplot()
    if empty:
        axes.text(0.5, 0.5, text, ha="center", va="center")
        axes.set_axis_off()
        return None
    return axes


def ranked_bars(
    name: str,
    title: str,
    labels: pd.Series,
    values: pd.Series,
    unit: str,
    *,
    colour: str,
    empty: str,
) -> Chart:
    """Horizontal bars, the first label on top, each with its value written beside it; on a log
    scale when the values span orders of magnitude, so the smallest bar still shows. `empty` is
    shown (and said) when there are none."""

    def draw(figure: Figure) -> None:
        axes = chart_axes(figure, labels.empty, empty)
        if axes is None:
            return
        bars = axes.barh(labels.iloc[::-1].astype(str), values.iloc[::-1], color=colour)
        logarithmic = value_scale(axes, values)
        axes.bar_label(bars, labels=[f"{v:,}" for v in values.iloc[::-1]], padding=2, fontsize=8)
        axes.set_xlabel(f"{unit} (log scale)" if logarithmic else unit)
        axes.margins(x=0.12)
        if len(labels) > 12:
            axes.tick_params(axis="y", labelsize="small")

    alt = ", ".join(f"{label}: {value:,}" for label, value in zip(labels, values, strict=True))
    return Chart(name, title, draw, alt or empty)
