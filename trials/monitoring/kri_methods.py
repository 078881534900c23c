"""KRI scoring as in gsm: Transform → Analyze (normal, Poisson, Fisher, identity) → Flag.

Each function takes and returns a table with one row per group (site or country) and the columns
``group``, ``numerator``, ``denominator`` (and, after `transform`, ``metric``). The formulas are
those of gsm 2.2.3 (``R/Transform_Rate.R``, ``R/Analyze_*.R``, ``R/Flag.R``, ``R/Summarize.R``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: gsm's default thresholds per method: normal approximation ±2 amber, ±3 red (adjusted z);
#: Poisson ±5 amber, ±7 red (deviance residual); Fisher p < 0.05 amber, p < 0.01 red.
DEFAULT_THRESHOLDS: dict[str, tuple[float, ...]] = {
    "normal": (-3.0, -2.0, 2.0, 3.0),
    "poisson": (-7.0, -5.0, 5.0, 7.0),
    "fisher": (0.01, 0.05),
}
FLAGS = (-2, -1, 0, 1, 2)
#: R's fisher.test counts tables as extreme as the observed one up to this relative tolerance.
_FISHER_TOLERANCE = 1 + 1e-7


def transform(counts: pd.DataFrame) -> pd.DataFrame:
    """Sum numerator and denominator per group; metric = numerator / denominator.

    Groups with a zero denominator are dropped, as gsm does (their rate is NaN or infinite).
    """
    out = counts.groupby("group", as_index=False, sort=True)[["numerator", "denominator"]].sum()
    out = out[out["denominator"] > 0].reset_index(drop=True)
    return out.assign(metric=out["numerator"] / out["denominator"])


def analyze_normal(table: pd.DataFrame, kind: str = "binary") -> pd.DataFrame:
    """Adjusted z-score with multiplicative over-dispersion (gsm ``Analyze_NormalApprox``).

    With overall rate mu = Σnum / Σden and variance v = mu(1 - mu) (binary) or mu (rate),
    z0 = (metric - mu) / sqrt(v / den), phi = mean(z0²) and score = (metric - mu) /
    sqrt(phi v / den). A degenerate mu (0, or 1 for binary) or phi = 0 scores 0.
    """
    if kind not in ("binary", "rate"):
        raise ValueError(f"kind must be 'binary' or 'rate', not {kind!r}")
    den = table["denominator"].astype(float)
    total = float(den.sum())
    mu = float(table["numerator"].sum()) / total if total else 0.0
    degenerate = mu == 0 or (kind == "binary" and mu == 1)
    variance = mu * (1 - mu) if kind == "binary" else mu
    # A "binary" KRI whose numerators exceed its denominators (mu > 1) has a negative variance:
    # gsm then scores NaN, and so do we, rather than raising.
    with np.errstate(invalid="ignore"):
        if degenerate or not len(table):
            z0 = pd.Series(0.0, index=table.index)
        else:
            z0 = (table["metric"] - mu) / np.sqrt(variance / den)
        phi = float((z0**2).mean()) if len(table) else 0.0
        if degenerate or phi == 0:
            score = pd.Series(0.0, index=table.index)
        else:
            score = (table["metric"] - mu) / np.sqrt(phi * variance / den)
    return table.assign(overall=mu, factor=phi, score=score.astype(float))


def analyze_poisson(table: pd.DataFrame) -> pd.DataFrame:
    """Deviance residuals of the Poisson GLM numerator ~ offset(log denominator) (gsm
    ``Analyze_Poisson``).

    With only an intercept the GLM's fit is closed-form: every group's expected count is
    den × Σnum / Σden, so no iterative fitting is needed.
    """
    y = table["numerator"].astype(float).to_numpy()
    den = table["denominator"].astype(float).to_numpy()
    rate = y.sum() / den.sum() if den.sum() else 0.0
    fitted = den * rate
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(
            y > 0, y * np.log(np.where(y > 0, y, 1) / np.where(fitted > 0, fitted, 1)), 0
        )
    deviance = np.maximum(2 * (ylogy - (y - fitted)), 0)
    score = np.sign(y - fitted) * np.sqrt(deviance)
    return table.assign(overall=rate, predicted=fitted, score=score)


def fisher_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p of Fisher's exact test on [[a, b], [c, d]], as R's ``fisher.test``: the sum
    of the probabilities of all tables with these margins no more likely than the observed."""
    row, col, total = a + b, a + c, a + b + c + d
    low, high = max(0, row + col - total), min(row, col)

    def log_p(x: int) -> float:
        return _log_comb(col, x) + _log_comb(total - col, row - x) - _log_comb(total, row)

    observed = log_p(a)
    limit = observed + math.log(_FISHER_TOLERANCE)
    terms = [log_p(x) for x in range(low, high + 1)]
    kept = [t for t in terms if t <= limit]
    if not kept:
        return 1.0
    top = max(kept)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in kept))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def analyze_fisher(table: pd.DataFrame) -> pd.DataFrame:
    """Each group against all others in a 2×2 table (gsm ``Analyze_Fisher``): score is the
    two-sided p; prop and prop_other give the direction used when flagging."""
    num = table["numerator"].astype(int)
    den = table["denominator"].astype(int)
    num_other, den_other = int(num.sum()) - num, int(den.sum()) - den
    p = [
        fisher_p(int(o_den - o_num), int(o_num), int(s_den - s_num), int(s_num))
        for s_num, s_den, o_num, o_den in zip(num, den, num_other, den_other, strict=True)
    ]
    with np.errstate(divide="ignore", invalid="ignore"):
        prop_other = (num_other / den_other).astype(float)
    return table.assign(
        prop=num / den, prop_other=prop_other, overall=num.sum() / den.sum(), score=p
    )


def analyze_identity(table: pd.DataFrame, column: str = "metric") -> pd.DataFrame:
    """Score is the value itself (gsm ``Analyze_Identity``); thresholds are in its units."""
    return table.assign(score=table[column].astype(float))


def flag(scores: pd.Series, thresholds: Sequence[float]) -> pd.Series:
    """gsm ``Flag``: cut at the ascending thresholds, intervals closed on the left, so with
    (-3, -2, 2, 3) a score of exactly 2 is amber (1) and of exactly 3 red (2)."""
    cuts = [float(t) for t in thresholds]
    if len(cuts) != 4 or cuts != sorted(cuts):
        raise ValueError(f"need four ascending thresholds, not {list(thresholds)}")
    values = scores.astype(float).to_numpy()
    out = np.searchsorted(np.asarray(cuts), values, side="right") - 2
    return pd.Series(np.where(np.isnan(values), np.nan, out), index=scores.index, dtype=float)


def flag_fisher(table: pd.DataFrame, thresholds: Sequence[float]) -> pd.Series:
    """p below the red (first) or amber (second) threshold flags ±2 or ±1, signed by whether
    the group's proportion is above or below the other groups'."""
    red, amber = (float(t) for t in thresholds)
    p = table["score"].astype(float)
    size = np.where(p < red, 2, np.where(p < amber, 1, 0))
    sign = np.where(table["prop"] >= table["prop_other"], 1, -1)
    return pd.Series(np.where(p.isna(), np.nan, size * sign), index=table.index, dtype=float)


def summarize(table: pd.DataFrame, min_denominator: float | None) -> pd.DataFrame:
    """Blank score and flag of groups whose denominator is below the minimum (gsm
    ``Summarize``): too little exposure for the approximation to mean anything."""
    if min_denominator is None:
        return table
    small = table["denominator"] < min_denominator
    return table.assign(score=table["score"].where(~small), flag=table["flag"].where(~small))


def score_groups(
    counts: pd.DataFrame,
    method: str,
    kind: str = "binary",
    thresholds: Sequence[float] | None = None,
    min_denominator: float | None = None,
) -> pd.DataFrame:
    """The whole pipeline for one KRI at one group level: transform, analyse, flag, summarize."""
    table = transform(counts)
    cuts = tuple(thresholds) if thresholds is not None else DEFAULT_THRESHOLDS.get(method)
    if cuts is None:
        raise ValueError(f"method {method!r} has no default thresholds; give them")
    if method == "normal":
        table = analyze_normal(table, kind)
    elif method == "poisson":
        table = analyze_poisson(table)
    elif method == "fisher":
        table = analyze_fisher(table)
    elif method == "identity":
        table = analyze_identity(table)
    else:
        raise ValueError(f"unknown method {method!r}")
    flags = flag_fisher(table, cuts) if method == "fisher" else flag(table["score"], cuts)
    return summarize(table.assign(flag=flags), min_denominator)
