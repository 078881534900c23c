"""Site-level monitoring checks: terminal digits, site mean and spread outliers, AE funnel."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trials.monitoring.findings import subject_days, subjects
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
from trials.monitoring.tails import t_two_sided


@dataclass(frozen=True)
class Funnel:
    """The AE funnel: the ranked site table, the trial rate and the between-site variance."""

    table: pd.DataFrame
    target: float
    tau2: float
    unit: str  # what the rate is per: "visit" or "subject"


# --- 1. terminal digits ------------------------------------------------------------------------


def column_digits(data: TrialData) -> pd.DataFrame:
    """Unranked terminal digits of each numeric measurement column of the datasets that are not
    findings (those are compared per test code, see digits.py): DM.AGE in the demo.

    A site that rounds or invents values prefers some final digits (Kirkwood et al. 2013; the
    trial's own distribution is the reference, since e.g. ages are not uniform in their last
    digit). p is a permutation p of the 2 x 10 chi-square (see site_vs_rest_chi2).
    """
    parts = []
    for domain in sorted(data.datasets):
        raw = data.datasets[domain]
        if any(str(c).endswith("TESTCD") for c in raw.columns):
            continue
        frame = records(data, domain)
        for column in measurement_columns(raw):
            last = frame[column].dropna().astype(str).str[-1]
            digit = last[last.str.isdigit()].astype(int)
            counts = pd.crosstab(frame.loc[digit.index, "site"], digit)
            counts_10 = counts.reindex(columns=range(10), fill_value=0).to_numpy()
            table = site_vs_rest_chi2(counts_10)
            n = counts_10.sum(axis=1)
            table.insert(0, "variable", f"{domain}.{column}")
            table.insert(1, "site", counts.index.astype(str))
            table.insert(2, "n", n)
            table["eligible"] = n >= MIN_VALUES
            table["share0"] = counts_10[:, 0] / n
            table["share05"] = (counts_10[:, 0] + counts_10[:, 5]) / n
            table[[f"d{d}" for d in range(10)]] = counts_10
            parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def terminal_digits(data: TrialData) -> pd.DataFrame:
    """`column_digits` ranked by effect (Cohen's w less its chance level), with BH q."""
    table = column_digits(data)
    if table.empty:
        extras = ["tvd", "share0", "share05", *(f"d{d}" for d in range(10))]
        return empty_sites(["variable"], extras)
    return rank_sites(table, table["effect"], ascending=False, by=["variable"])


# --- 2. site means and spreads -----------------------------------------------------------------


def subject_aggregates(data: TrialData) -> pd.DataFrame:
    """One row per enrolled subject: site, visit count (when SV was submitted), and each
    measurement column of a one-row-per-subject dataset (e.g. DM.AGE).

    AE counts are left to the AE rate check, which accounts for each subject's time in the
    trial and for over-dispersion: the spread of Poisson counts grows with their mean, so a
    spread test on raw counts flags every site whose AE rate merely differs."""
    out = subjects(data)
    for domain, label in (("SV", "visits"),):
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
    """AEs per site against the trial rate per subject-day (DM RFSTDTC to RFENDTC, else the
    span of each subject's dated records), per subject-visit without those, per subject last.

    Funnel z-scores on the square-root scale with Spiegelhalter's (2005) additive
    over-dispersion adjustment: sites genuinely differ in case mix and follow-up, and without
    it a large trial pushes most sites outside plain Poisson limits. Each site's expected count
    and between-site variance come from the other sites only, so one site far off the rest (36
    of 141 AEs at one of 17 sites) neither raises the trial rate nor widens its own limits; p
    is from Student's t with (other sites - 1) df, for a variance estimated from few sites.
    Ranked by |z|; p is two-sided: too many AEs at a site is as worth a look as too few.
    """
    if "AE" not in data.datasets:
        return Funnel(
            empty_sites([], ["exposure", "expected", "z_unadjusted"]), 0.0, 0.0, "subject"
        )
    roster = subjects(data)
    per_site = roster["site"].value_counts()
    days = subject_days(data)
    if "SV" in data.datasets and not (
        "DM" in data.datasets and "RFSTDTC" in data.datasets["DM"].columns
    ):
        unit, exposure = "visit", records(data, "SV")["site"].value_counts()
    elif len(days):
        unit = "subject-day"
        exposure = days.groupby(roster.set_index("subject")["site"].reindex(days.index)).sum()
    else:
        unit, exposure = "subject", per_site
    events = records(data, "AE")["site"].value_counts()
    sites = per_site.index.union(exposure.index).union(events.index)
    n = per_site.reindex(sites, fill_value=0).to_numpy()
    size = exposure.reindex(sites, fill_value=0).to_numpy(dtype=np.float64)
    observed = events.reindex(sites, fill_value=0).to_numpy(dtype=np.float64)
    target = float(observed.sum() / size.sum()) if size.sum() > 0 else 0.0
    eligible = (n >= MIN_SUBJECTS) & (size > 0)
    scores, tau2 = funnel(observed, size, target, "poisson", eligible)
    z = scores["z"].to_numpy().copy()
    p = 2 * normal_sf(np.abs(z))
    for i in np.flatnonzero(eligible):
        # Each site against the others alone: their rate and their between-site variance, so
        # a far-off site neither drags the trial rate nor widens its own limits; Student's t
        # with (other sites - 1) df then allows for estimating that variance from few sites.
        others = eligible.copy()
        others[i] = False
        if others.sum() < 3 or size[others].sum() == 0 or observed[others].sum() == 0:
            continue
        rest_target = float(observed[others].sum() / size[others].sum())
        _, rest_tau2 = funnel(observed[others], size[others], rest_target, "poisson", True)
        expected = rest_target * size[i]
        z[i] = (math.sqrt(observed[i] / expected) - 1) / math.sqrt(1 / (4 * expected) + rest_tau2)
        p[i] = float(t_two_sided(z[i], int(others.sum()) - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = observed / scores["expected"].to_numpy()
    table = pd.DataFrame(
        {
            "site": sites.astype(str),
            "n": n,
            "statistic": observed.astype(int),
            "effect": ratio,
            "z": z,
            "p": p,
            "eligible": eligible,
            "exposure": size.astype(int),
            "expected": scores["expected"],
            "z_unadjusted": scores["z_raw"],
        }
    )
    return Funnel(rank_sites(table, table["z"].abs(), ascending=False), target, tau2, unit)
