"""The combined site score: each check's tests of a site combined, then the checks, one rule."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from trials.monitoring.stats import bh

#: A site is flagged when the Benjamini-Hochberg q of its combined p across the trial's sites
#: is below this: in a trial without anomalies no site is flagged with probability 1 - ALPHA.
ALPHA = 0.05
COLUMNS = ["site", "score", "p", "q", "flagged", "checks", "check_p", "kri_red", "rank"]


def simes(p: np.ndarray) -> float:
    """Simes' combination of one site's p-values within a check: min over i of m p_(i) / i.
    Valid for independent or positively dependent tests, and stronger than Bonferroni when
    several tests of the site move together (a shifted laboratory moves every test)."""
    values = np.sort(p[np.isfinite(p)])
    if values.size == 0:
        return np.nan
    return float(min(1.0, np.min(values.size * values / np.arange(1, values.size + 1))))


def check_p(table: pd.DataFrame) -> pd.Series:
    """Per site, the Simes p of its eligible tests in one check's table."""
    if table.empty or "p" not in table:
        return pd.Series(dtype=float)
    usable = table[table["eligible"].astype(bool) & table["p"].notna()]
    return usable.groupby(usable["site"].astype(str))["p"].agg(
        lambda p: simes(p.to_numpy(dtype=np.float64))
    )


def site_scores(
    checks: Mapping[str, pd.DataFrame], kri_red: pd.Series | None = None
) -> pd.DataFrame:
    """Per site: p = min(1, K x the smallest check p), K the checks that assessed the site
    (Bonferroni across checks, whatever their dependence); q = Benjamini-Hochberg of p across
    the sites; flagged when q < ALPHA; score =
    -log10 p plus one per red KRI. Ranked by score, then by the sum of -log10 of the check p
    (several moderate signals before one), then by site. `checks` names the checks whose
    p drove the score (those with p < ALPHA / K)."""
    per_check = pd.DataFrame({name: check_p(t) for name, t in checks.items() if len(t)})
    red = kri_red if kri_red is not None else pd.Series(dtype=float)
    sites = per_check.index.union(red.index.astype(str)) if len(red) else per_check.index
    if len(sites) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    per_check = per_check.reindex(sites)
    k = per_check.notna().sum(axis=1).clip(lower=1)
    p = (per_check.min(axis=1).fillna(1.0) * k).clip(upper=1.0)
    strength = -np.log10(per_check.clip(lower=1e-300)).sum(axis=1)
    red_count = red.reindex(sites).fillna(0).astype(int) if len(red) else pd.Series(0, sites)
    limits = (ALPHA / k).to_numpy()
    filled = per_check.fillna(1.0).to_numpy()
    driving = [
        ", ".join(str(c) for c, v in zip(per_check.columns, row, strict=True) if v < limit)
        for row, limit in zip(filled, limits, strict=True)
    ]
    detail = [
        "; ".join(f"{c} {row[c]:.2g}" for c in per_check.columns if np.isfinite(row[c]))
        for _, row in per_check.iterrows()
    ]
    out = pd.DataFrame(
        {
            "site": sites.astype(str),
            "score": -np.log10(p.clip(lower=1e-300).to_numpy()) + red_count.to_numpy(),
            "p": p.to_numpy(),
            "q": bh(p.to_numpy()),
            "flagged": bh(p.to_numpy()) < ALPHA,
            "checks": driving,
            "check_p": detail,
            "kri_red": red_count.to_numpy(),
            "_strength": strength.to_numpy(),
        }
    )
    out = out.sort_values(["score", "_strength", "site"], ascending=[False, False, True])
    out["rank"] = np.arange(1, len(out) + 1)
    return out[COLUMNS].reset_index(drop=True)
