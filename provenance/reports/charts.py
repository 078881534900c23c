"""Chart pieces several reports share: a note where a chart has nothing to show, ranked bars."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from provenance.reports.model import Chart

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


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
    """Horizontal bars, the first label on top; `empty` is shown (and said) when there are none."""

    def draw(figure: Figure) -> None:
        axes = chart_axes(figure, labels.empty, empty)
        if axes is None:
            return
        axes.barh(labels.iloc[::-1].astype(str), values.iloc[::-1], color=colour)
        axes.set_xlabel(unit)

    alt = ", ".join(f"{label}: {value:,}" for label, value in zip(labels, values, strict=True))
    return Chart(name, title, draw, alt or empty)
