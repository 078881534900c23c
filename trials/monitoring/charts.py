"""Charts of the monitoring report: site ranking, terminal digits, AE funnel and entry lag."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from provenance.reports.charts import chart_axes
from provenance.reports.model import Chart
from trials.monitoring.data import Analysis
from trials.monitoring.score import ALPHA
from trials.monitoring.stats import Z95, Z998

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Sites drawn in each chart; the tables hold every site.
CHART_SITES = 12
ChartMaker = Callable[[str, str, Analysis], Chart]
RED, BLUE, GREY, TEAL = "#dc2626", "#2563eb", "#9ca3af", "#0f766e"


def per_trial(runs: dict[str, Analysis], base: str, draw: ChartMaker) -> list[Chart]:
    """One chart per trial; names get a number only when there are several trials."""
    named = [(base if len(runs) == 1 else f"{base}_{i + 1}", t) for i, t in enumerate(runs)]
    return [draw(name, t, runs[t]) for name, t in named]


def _colours(table: pd.DataFrame) -> list[str]:
    pairs = zip(table["flagged"], table["eligible"], strict=True)
    return [RED if f else (BLUE if e else GREY) for f, e in pairs]


def _top(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["eligible"].astype(bool)].head(CHART_SITES) if len(table) else table


def ranking_chart(name: str, trial: str, a: Analysis) -> Chart:
    top = a.tables["sites"].head(CHART_SITES)
    labels = [
        f"site {s} ({c or 'no check below its share of alpha'})"
        for s, c in zip(top["site"], top["checks"], strict=True)
    ]
    strength = [float(v) for v in top["score"]]

    def draw(figure: Figure) -> None:
        axes = chart_axes(figure, top.empty, "no site to rank")
        if axes is None:
            return
        colours = [RED if f else BLUE for f in top["flagged"]]
        axes.barh(labels[::-1], strength[::-1], color=colours[::-1])
        axes.axvline(-math.log10(ALPHA), color=RED, linewidth=1, linestyle="--")
        axes.set_xlabel("combined score, -log10 p plus red KRIs (dashed: flag threshold)")
        axes.tick_params(axis="y", labelsize="small")

    alt = "; ".join(
        f"{label}: combined p {p:.3g}" for label, p in zip(labels, top["p"], strict=True)
    )
    return Chart(name, f"{trial}: sites ranked by the combined score", draw, alt or "none")


def digits_chart(name: str, trial: str, a: Analysis) -> Chart:
    digits = a.tables["digits"]
    top = _top(digits)
    gap = np.zeros((0, 10))
    if len(top):
        columns = [f"d{d}" for d in range(10)]
        site = top[columns].to_numpy(dtype=float)
        totals = digits.groupby("variable")[columns].sum().loc[top["variable"]]
        rest = totals.to_numpy(dtype=float) - site
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = site / site.sum(1, keepdims=True) - rest / rest.sum(1, keepdims=True)
    rows = zip(top["site"], top["variable"], top["flagged"], strict=True)
    labels = [f"site {s} {v}{' *' if f else ''}" for s, v, f in rows]

    def draw(figure: Figure) -> None:
        axes = chart_axes(figure, top.empty, "no site has enough values")
        if axes is None:
            return
        bound = max(0.05, float(np.nanmax(np.abs(gap))))
        image = axes.imshow(gap, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
        axes.set_xticks(range(10), [str(d) for d in range(10)])
        axes.set_yticks(range(len(labels)), labels, fontsize="small")
        axes.set_xlabel("last digit: site share minus rest-of-trial share (* flagged)")
        figure.colorbar(image, ax=axes)

    alt = "; ".join(
        f"{label}: digit {int(np.nanargmax(row))} most over-used (+{np.nanmax(row):.2f})"
        for label, row in zip(labels, gap, strict=True)
    )
    title = f"{trial}: terminal digits of the top-ranked sites"
    return Chart(name, title, draw, alt or "no site has enough values")


def funnel_chart(name: str, trial: str, a: Analysis) -> Chart:
    result = a.funnel
    table = result.table[result.table["expected"] > 0] if result else pd.DataFrame()
    tau2 = result.tau2 if result else 0.0

    def draw(figure: Figure) -> None:
        axes = chart_axes(figure, table.empty, "no AEs or no exposure")
        if axes is None:
            return
        axes.scatter(table["expected"], table["effect"], s=16, c=_colours(table))
        low = max(0.5, float(table["expected"].min()))
        grid = np.geomspace(low, max(low * 2, float(table["expected"].max())), 200)
        for z, style in ((Z95, ":"), (Z998, "--")):
            sd = np.sqrt(1 / (4 * grid) + tau2)  # the limits on the square-root scale, squared
            for limit in ((1 + z * sd) ** 2, np.clip(1 - z * sd, 0, None) ** 2):
                axes.plot(grid, limit, color=TEAL, linestyle=style, linewidth=1)
        axes.axhline(1.0, color="#475569", linewidth=1)
        axes.set_xscale("log")
        axes.set_xlabel("expected AEs at the trial rate (limits: 95% dotted, 99.8% dashed)")
        axes.set_ylabel("observed / expected AEs")

    flagged = table["site"][table["flagged"].astype(bool)].tolist() if len(table) else []
    alt = f"{len(table)} sites; limits widened by tau2 {tau2:.4f}; flagged as under-reporting: " + (
        ", ".join(flagged) or "none"
    )
    return Chart(name, f"{trial}: AE funnel plot", draw, alt)


def lag_chart(name: str, trial: str, a: Analysis) -> Chart:
    sites = _top(a.tables["lag"])["site"].tolist()
    lags = a.lags
    groups = lags.groupby(lags["site"].astype(str))["lag"] if len(lags) else None
    samples = [groups.get_group(s).to_numpy() for s in sites] if groups is not None else []
    samples.append(lags["lag"].to_numpy() if len(lags) else np.array([]))
    labels = [f"site {s}" for s in sites] + ["all sites"]

    def draw(figure: Figure) -> None:
        axes = chart_axes(figure, lags.empty, "no dated visit pages")
        if axes is None:
            return
        axes.boxplot(
            samples[::-1],
            orientation="horizontal",
            tick_labels=labels[::-1],
            whis=(5, 95),
            showfliers=False,
        )
        axes.axvline(0, color="#475569", linewidth=1)
        axes.set_xlabel("days from visit to page created (whiskers: 5th-95th percentile)")
        axes.tick_params(axis="y", labelsize="small")

    alt = "; ".join(
        f"{label}: median {np.median(s):g} days"
        for label, s in zip(labels, samples, strict=True)
        if len(s)
    )
    return Chart(name, f"{trial}: data-entry lag of the top-ranked sites", draw, alt or "none")
