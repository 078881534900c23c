"""Site-level monitoring checks: terminal digits, site mean and spread outliers, AE funnel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trials.monitoring.frames import (
    MIN_SUBJECTS,
    MIN_VALUES,
    TrialData,
    empty_sites,
    measurement_columns,
    records,
)
from trials.monitoring.stats import (
    funnel,
    normal_sf,
    rank_sites,
    robust_rescale,
    site_moments,
    site_vs_rest_chi2,
)


@dataclass(frozen=True)
class Funnel:
    """The AE funnel: the ranked site table, the trial rate and the between-site variance."""

    table: pd.DataFrame
    target: float
    tau2: float
    unit: str  # what the rate is per: "visit" or "subject"


# --- 1. terminal digits ------------------------------------------------------------------------


def terminal_digits(data: TrialData) -> pd.DataFrame:
    """Each site's last-digit distribution against the rest of its trial, per measurement column.

    A site that rounds or invents values prefers some final digits (Kirkwood et al. 2013; the
    trial's own distribution is the reference, since e.g. ages are not uniform in their last
    digit). Ranked by effect, Cohen's w less its chance level; p is a permutation p of the
    2 x 10 chi-square (see site_vs_rest_chi2). d0..d9 are the site's counts.
    """
    parts = []
    for domain in sorted(data.datasets):
        frame = records(data, domain)
        for column in measurement_columns(data.datasets[domain]):
            last = frame[column].dropna().astype(str).str[-1]
            digit = last[last.str.isdigit()].astype(int)
            counts = pd.crosstab(frame.loc[digit.index, "site"], digit)
            raw = counts.reindex(columns=range(10), fill_value=0).to_numpy()
            table = site_vs_rest_chi2(raw)
            n = raw.sum(axis=1)
            table.insert(0, "variable", f"{domain}.{column}")
            table.insert(1, "site", counts.index.astype(str))
            table.insert(2, "n", n)
            table["eligible"] = n >= MIN_VALUES
            table["share05"] = (raw[:, 0] + raw[:, 5]) / n
            table[[f"d{d}" for d in range(10)]] = raw
            parts.append(table)
    if not parts:
        extras = ["tvd", "share05", *(f"d{d}" for d in range(10))]
        return empty_sites(["variable"], extras)
    table = pd.concat(parts, ignore_index=True)
    return rank_sites(table, table["effect"], ascending=False, by=["variable"])


# --- 2. site means and spreads -----------------------------------------------------------------


def subject_aggregates(data: TrialData) -> pd.DataFrame:
    """One row per enrolled subject: site, AE count and visit count (when AE and SV were
    submitted), and each measurement column of a one-row-per-subject dataset (e.g. DM.AGE)."""
    out = data.roster[["subject", "site"]].drop_duplicates("subject").astype({"site": str})
    for domain, label in (("AE", "AE count"), ("SV", "visits")):
        if domain in data.datasets:
            per_subject = records(data, domain).groupby("subject").size()
            out[label] = out["subject"].map(per_subject).fillna(0).astype(float)
    for domain in sorted(data.datasets):
        frame = records(data, domain)
        if frame["subject"].duplicated().any():
            continue
        for column in measurement_columns(data.datasets[domain]):
            numbers = pd.to_numeric(frame.set_index("subject")[column], errors="coerce")
            out[f"{domain}.{column}"] = out["subject"].map(numbers).astype(float)
    return out.reset_index(drop=True)


def site_outliers(subjects: pd.DataFrame) -> pd.DataFrame:
    """Site mean and spread of each subject-level aggregate against all other sites' subjects.

    Mean: z = (site mean - others' mean) / (others' SD x sqrt(1/n + 1/n_others)); effect the
    standardised difference. Spread: the same z on Brown-Forsythe absolute deviations from the
    site median (robust to skew), scaled by sqrt(n/(n-1)) so small sites do not look uniform
    (Keyes and Levy 1997); effect the variance ratio. Each set of z is then re-centred and
    scaled robustly (median, MAD) across eligible sites, because sites also differ for benign
    reasons (Venet et al. 2012). Ranked by |z|, two-sided.
    """
    parts = []
    for variable in [c for c in subjects.columns if c not in ("subject", "site")]:
        frame = subjects[["site", variable]].dropna()
        x, site = frame[variable].astype(float), frame["site"]
        size = site.map(site.value_counts()).astype(float)
        deviation = (x - x.groupby(site).transform("median")).abs()
        level = site_moments(x, site)
        scatter = site_moments(deviation * np.sqrt(size / (size - 1).clip(lower=1)), site)
        for test, moments, statistic, effect in (
            ("mean", level, level["mean"], level["smd"]),
            ("spread", scatter, np.sqrt(level["var"]), level["var"] / level["rest_var"]),
        ):
            eligible = (moments["n"] >= MIN_SUBJECTS).to_numpy()
            z, _ = robust_rescale(moments["z"], eligible)
            table = pd.DataFrame(
                {
                    "site": moments.index.astype(str),
                    "n": moments["n"].to_numpy(),
                    "statistic": statistic.to_numpy(),
                    "effect": effect.to_numpy(),
                    "z": z,
                    "p": 2 * normal_sf(np.abs(z)),
                    "eligible": eligible,
                }
            )
            parts.append(table.assign(variable=variable, test=test))
    if not parts:
        return empty_sites(["variable", "test"], [])
    table = pd.concat(parts, ignore_index=True)
    return rank_sites(table, table["z"].abs(), ascending=False, by=["variable", "test"])


# --- 3. AE under-reporting ---------------------------------------------------------------------


def ae_funnel(data: TrialData) -> Funnel:
    """AEs per site against the trial rate per subject-visit (per subject without SV).

    Funnel z-scores on the square-root scale with Spiegelhalter's (2005) additive
    over-dispersion adjustment: sites genuinely differ in case mix and follow-up, and without
    it a large trial pushes most sites outside plain Poisson limits. Lowest z (fewest AEs for
    the exposure) ranks first; p is the lower tail, so only under-reporting is flagged.
    """
    if "AE" not in data.datasets:
        return Funnel(
            empty_sites([], ["exposure", "expected", "z_unadjusted"]), 0.0, 0.0, "subject"
        )
    subjects = data.roster.drop_duplicates("subject")["site"].astype(str).value_counts()
    unit = "visit" if "SV" in data.datasets else "subject"
    exposure = records(data, "SV")["site"].value_counts() if unit == "visit" else subjects
    events = records(data, "AE")["site"].value_counts()
    sites = subjects.index.union(exposure.index).union(events.index)
    n = subjects.reindex(sites, fill_value=0).to_numpy()
    size = exposure.reindex(sites, fill_value=0).to_numpy(dtype=np.float64)
    observed = events.reindex(sites, fill_value=0).to_numpy(dtype=np.float64)
    target = float(observed.sum() / size.sum()) if size.sum() > 0 else 0.0
    eligible = (n >= MIN_SUBJECTS) & (size > 0)
    scores, tau2 = funnel(observed, size, target, "poisson", eligible)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = observed / scores["expected"].to_numpy()
    table = pd.DataFrame(
        {
            "site": sites.astype(str),
            "n": n,
            "statistic": observed.astype(int),
            "effect": ratio,
            "z": scores["z"],
            "p": normal_sf(-scores["z"].to_numpy()),
            "eligible": eligible,
            "exposure": size.astype(int),
            "expected": scores["expected"],
            "z_unadjusted": scores["z_raw"],
        }
    )
    return Funnel(rank_sites(table, table["z"], ascending=True), target, tau2, unit)
