"""Central statistical monitoring: every check's public names, duplicate records, site summary."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from trials.monitoring.dates import date_anomalies, entry_lag, entry_lags, lag_overview
from trials.monitoring.duplicates import LIKELY_CHANCE, duplicate_records
from trials.monitoring.frames import (
    AE_START_NAMES,
    CREATED_NAMES,
    ID_SUFFIXES,
    MIN_DISTINCT,
    MIN_RECORDS,
    MIN_SUBJECTS,
    MIN_VALUES,
    SITE_NAMES,
    SUBJECT_NAMES,
    VISIT_DATE_NAMES,
    VISIT_NAMES,
    TrialData,
    dates,
    empty_sites,
    measurement_columns,
    records,
    role,
    visits,
)
from trials.monitoring.sites import (
    Funnel,
    ae_funnel,
    site_outliers,
    subject_aggregates,
    terminal_digits,
)
from trials.monitoring.stats import rank_sites, rate_scores

__all__ = [
    "AE_START_NAMES",
    "CREATED_NAMES",
    "ID_SUFFIXES",
    "MIN_DISTINCT",
    "MIN_RECORDS",
    "MIN_SUBJECTS",
    "MIN_VALUES",
    "SITE_NAMES",
    "SUBJECT_NAMES",
    "VISIT_DATE_NAMES",
    "VISIT_NAMES",
    "Funnel",
    "TrialData",
    "ae_funnel",
    "date_anomalies",
    "dates",
    "duplicate_records",
    "duplicate_sites",
    "entry_lag",
    "entry_lags",
    "lag_overview",
    "measurement_columns",
    "records",
    "role",
    "site_outliers",
    "site_summary",
    "subject_aggregates",
    "terminal_digits",
    "visits",
]

# --- 4. duplicates -----------------------------------------------------------------------------


def duplicate_sites(data: TrialData, listing: pd.DataFrame) -> pd.DataFrame:
    """Per site: records in all datasets, those in a duplicate group, and the share's funnel z.

    A site is flagged only when it has clearly more than the trial's own rate predicts; matches
    that chance alone would produce (chance >= LIKELY_CHANCE) are not counted. Every pair stays
    in the listing for a query either way.
    """
    if not data.datasets:
        return empty_sites([], ["trial_rate"])
    sites = pd.concat([records(data, d)["site"] for d in data.datasets]).value_counts()
    chance = pd.to_numeric(listing["chance"], errors="coerce") if "chance" in listing else None
    counted = listing if chance is None else listing[~(chance >= LIKELY_CHANCE)]
    involved = counted.drop_duplicates(["dataset", "row"])["site"].value_counts()
    count = involved.reindex(sites.index, fill_value=0)
    table = rate_scores(sites, count, "poisson", MIN_RECORDS)
    return rank_sites(table, table["z"], ascending=False)


# --- all checks --------------------------------------------------------------------------------


def site_summary(checks: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per site across checks: how many flag it, which, and its smallest adjusted p (q)."""
    parts = [t[["site", "q", "flagged"]].assign(check=k) for k, t in checks.items() if len(t)]
    if not parts:
        return pd.DataFrame(columns=["site", "flags", "checks", "min_q", "rank"])
    rows = pd.concat(parts, ignore_index=True)
    flagged = rows[rows["flagged"].astype(bool)].drop_duplicates(["site", "check"])
    out = rows.groupby("site").agg(min_q=("q", "min")).reset_index()
    named = flagged.groupby("site")["check"].agg(lambda c: ", ".join(sorted(c)))
    out["flags"] = out["site"].map(flagged.groupby("site").size()).fillna(0).astype(int)
    # Not map().fillna(""): with no site flagged, the mapped column is float and refuses text.
    names: dict[str, str] = {str(site): str(text) for site, text in named.items()}
    out["checks"] = [names.get(str(site), "") for site in out["site"]]
    out = out.sort_values(["flags", "min_q", "site"], ascending=[False, True, True])
    out["rank"] = np.arange(1, len(out) + 1)
    return out[["site", "flags", "checks", "min_q", "rank"]].reset_index(drop=True)
