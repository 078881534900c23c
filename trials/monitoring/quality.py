"""Missing results and categorical distributions per site against the rest of the trial."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trials.monitoring.findings import findings, findings_domains
from trials.monitoring.frames import (
    MIN_RECORDS,
    SITE_NAMES,
    SUBJECT_NAMES,
    TrialData,
    empty_sites,
    records,
)
from trials.monitoring.stats import count_frame, funnel, normal_sf, rank_sites

#: Categorical columns: at most this many distinct values, and not keys, dates or visit labels.
MAX_CATEGORIES = 8
#: Site attributes or design, not what a site records: a site sits in one country, its
#: patients' race follows its catchment, and arms are randomised within it.
_DESIGN = ("COUNTRY", "RACE", "ETHNIC", "ARM", "ARMCD", "ACTARM", "ACTARMCD", "REGION")
_SKIP = ("DTC", "SEQ", "DY", "ID", "NUM", "TESTCD", "TEST", "DOMAIN", "VISIT", "ORRESU", "STRESU")
#: A category needs this many records trial-wide (and a site this many records of the
#: variable) before its share is compared: rare categories are for listings, not funnels.
MIN_CATEGORY = 10


def share_scores(size: pd.Series, count: pd.Series, min_n: int) -> pd.DataFrame:
    """Counts out of `size` per site on a binomial funnel, two-sided: Anscombe's arcsine
    y = asin(sqrt((x + 3/8) / (n + 3/4))), whose variance 1/(4n) holds down to x = 0 (the plain
    arcsine calls 0 of 28 at a 13 % rate p = 0.0001, where the exact chance is 0.02), with
    Spiegelhalter's additive over-dispersion from the eligible sites."""
    n = size.to_numpy(dtype=np.float64)
    x = count.reindex(size.index, fill_value=0).to_numpy(dtype=np.float64)
    target = float(x.sum() / n.sum()) if n.sum() > 0 else 0.0
    frame, _ = funnel(x + 3 / 8, n + 3 / 4, target, "binomial", n >= min_n)
    z = frame["z"].to_numpy()
    return count_frame(size, x, z, 2 * normal_sf(np.abs(z)), n >= min_n, target)


def missingness(data: TrialData) -> pd.DataFrame:
    """Per test code: each site's share of records with no result (or --STAT NOT DONE) on a
    binomial funnel with Spiegelhalter's over-dispersion, two-sided: too many gaps is poor
    data, none at all where other sites have some can be invented data."""
    values = findings(data)
    parts = []
    for test, frame in values.groupby("test", sort=True):
        size = frame["site"].value_counts()
        count = frame.loc[frame["missing"].astype(bool), "site"].value_counts()
        if count.sum() == 0:
            continue
        parts.append(share_scores(size, count, MIN_RECORDS).assign(variable=str(test)))
    if not parts:
        return empty_sites(["variable"], ["trial_rate"])
    table = pd.concat(parts, ignore_index=True)
    return rank_sites(table, table["z"].abs(), ascending=False, by=["variable"])


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    keys = {SUBJECT_NAMES[i] for i in range(len(SUBJECT_NAMES))} | set(SITE_NAMES)
    out = []
    for column in map(str, frame.columns):
        skip = column.endswith(_SKIP) or column.startswith(("RF", "STUDY")) or column in _DESIGN
        if column in keys or skip:
            continue
        values = frame[column].dropna()
        if 2 <= values.nunique() <= MAX_CATEGORIES:
            out.append(column)
    return out


def categorical_shares(data: TrialData) -> pd.DataFrame:
    """Per categorical column of the non-findings datasets (AESEV, AESER, DM.SEX) and each
    findings test with text results (urine protein): every category's share per site on a
    binomial funnel with over-dispersion, two-sided."""
    parts = []
    findings_set = set(findings_domains(data))
    for domain in sorted(data.datasets):
        if domain in findings_set:
            continue
        frame = records(data, domain)
        for column in categorical_columns(data.datasets[domain]):
            parts += _shares(frame["site"], frame[column], f"{domain}.{column}")
    values = findings(data)
    text = values[values["value"].isna() & ~values["missing"].astype(bool)]
    for test, frame in text.groupby("test", sort=True):
        parts += _shares(frame["site"], frame["result"], str(test))
    if not parts:
        return empty_sites(["variable", "category"], ["trial_rate"])
    table = pd.concat(parts, ignore_index=True)
    return rank_sites(table, table["z"].abs(), ascending=False, by=["variable", "category"])


def _shares(site: pd.Series, value: pd.Series, variable: str) -> list[pd.DataFrame]:
    known = value.notna() & (value.astype(str) != "")
    if value[known].nunique() < 2:
        return []
    table = pd.crosstab(site[known], value[known].astype(str))
    size = table.sum(axis=1)
    out = []
    for category in table.columns:
        total = int(table[category].sum())
        if total < MIN_CATEGORY or total == int(size.sum()):
            continue
        scores = share_scores(size, table[category], MIN_CATEGORY)
        out.append(scores.assign(variable=variable, category=str(category)))
    return out


def category_count(table: pd.DataFrame) -> int:
    return int(np.unique(table["variable"]).size) if len(table) else 0
