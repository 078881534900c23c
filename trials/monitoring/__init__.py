"""Central statistical monitoring: every check's public names, duplicate records, site summary."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from trials.monitoring.dates import date_anomalies, entry_lag, entry_lags, lag_overview
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

_ISO_DATE = r"\d{4}-\d{2}-\d{2}.*"


# --- 4. duplicates -----------------------------------------------------------------------------


def duplicate_records(data: TrialData) -> pd.DataFrame:
    """Exact duplicate rows, and near-duplicates: rows equal in every column but one.

    The differing column names the kind: the subject ("copied to another subject"), a date
    ("date shifted") or another field ("one field differs"). A difference in CREATED alone does
    not count: separate events keyed at different times can read alike (clindata masks every
    AE term as "XXX", so 882 AE rows would otherwise pair up). One groupby per column.
    """
    parts = []
    for domain in sorted(data.datasets):
        raw = data.datasets[domain]
        frame = records(data, domain)
        parts.append(_group(frame, raw.duplicated(keep=False), domain, "exact duplicate", ""))
        for column in [c for c in raw.columns if c not in CREATED_NAMES and raw.shape[1] > 1]:
            rest = [c for c in raw.columns if c != column]
            distinct = raw.groupby(rest, dropna=False)[column].transform("nunique", dropna=False)
            near = raw.duplicated(rest, keep=False) & (distinct > 1)
            if column == role(raw, SUBJECT_NAMES):
                kind = "copied to another subject"
            elif raw[column].dropna().astype(str).str.fullmatch(_ISO_DATE).all():
                kind = "date shifted"
            else:
                kind = "one field differs"
            parts.append(_group(frame, near, domain, kind, str(column)))
    if not parts:
        columns = ["dataset", "kind", "field", "group", "row", "subject", "site", "record"]
        return pd.DataFrame(columns=columns)
    listing = pd.concat(parts, ignore_index=True)
    return listing.sort_values(["dataset", "group", "row"], kind="stable", ignore_index=True)


def _group(frame: pd.DataFrame, hit: pd.Series, domain: str, kind: str, field: str) -> pd.DataFrame:
    """Listing rows for the records `hit` marks; `group` ties together records that match."""
    rows = frame[hit.reindex(frame.index, fill_value=False).to_numpy(dtype=bool)]
    values = rows.drop(columns=["subject", "site"])
    same = [c for c in values.columns if c != field]
    number = values.groupby(same, dropna=False, sort=False).ngroup().tolist() if len(rows) else []
    text = values.astype(object).where(values.notna(), "").astype(str)
    record = text.apply(lambda r: "; ".join(f"{k}={v}" for k, v in r.items()), axis=1)
    return pd.DataFrame(
        {
            "dataset": domain,
            "kind": kind,
            "field": field,
            "group": [f"{domain}/{field or 'all'}/{g + 1}" for g in number],
            "row": rows.index + 1,
            "subject": rows["subject"].astype(str),
            "site": rows["site"],
            "record": record.str.replace(r"[\r\n]+", " ", regex=True) if len(rows) else [],
        }
    )


def duplicate_sites(data: TrialData, listing: pd.DataFrame) -> pd.DataFrame:
    """Per site: records in all datasets, those in a duplicate group, and the share's funnel z.

    A site is flagged only when it has clearly more than the trial's own rate predicts; every
    pair stays in the listing for a query either way.
    """
    if not data.datasets:
        return empty_sites([], ["trial_rate"])
    sites = pd.concat([records(data, d)["site"] for d in data.datasets]).value_counts()
    involved = listing.drop_duplicates(["dataset", "row"])["site"].value_counts()
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
