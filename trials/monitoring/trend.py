"""Per-site indicators at earlier as-of dates, computed on demand from the dated records."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from trials.monitoring.findings import findings, subjects
from trials.monitoring.frames import AE_START_NAMES, TrialData, dates, records, role, visits

#: How many as-of dates a trend shows: the last day of each of the latest quarters with data.
CUTS = 4
COLUMNS = [
    "as_of",
    "site",
    "subjects",
    "subject_days",
    "aes",
    "ae_per_100_days",
    "results",
    "missing_share",
]


def cut_dates(data: TrialData, as_of: date) -> list[pd.Timestamp]:
    """Quarter ends from the first dated record on, the last CUTS of them, and the last data
    date (or `as_of`, if earlier) as the final one."""
    values = findings(data)["date"].dropna()
    if "SV" in data.datasets:
        values = pd.concat([values, visits(data)["visit_date"].dropna()])
    if "AE" in data.datasets:
        start = role(data.datasets["AE"], AE_START_NAMES)
        if start:
            values = pd.concat([values, dates(records(data, "AE")[start]).dropna()])
    if values.empty:
        return []
    last = min(values.max(), pd.Timestamp(as_of))
    ends = pd.date_range(values.min(), last, freq="QE").tolist()
    return [*[e for e in ends if e < last][-(CUTS - 1) :], last]


def trend(data: TrialData, as_of: date) -> pd.DataFrame:
    """Per site at each cut date, from the records dated on or before it: subjects seen,
    subject-days observed (first to last dated record, up to the cut), AEs started, AEs per 100
    subject-days, findings results, and the share of them missing. Nothing is stored: each run
    recomputes these from the dates in the data, so a snapshot is never out of step with it."""
    cuts = cut_dates(data, as_of)
    if not cuts:
        return pd.DataFrame(columns=COLUMNS)
    values = findings(data)
    dated = values.loc[values["date"].notna(), ["subject", "site", "date", "missing"]]
    site_of = subjects(data).set_index("subject")["site"]
    events = [dated[["subject", "date"]]]
    ae_dates = pd.DataFrame({"site": pd.Series(dtype=str), "date": pd.Series(dtype="M8[ns]")})
    if "AE" in data.datasets and role(data.datasets["AE"], AE_START_NAMES):
        ae = records(data, "AE")
        start = dates(ae[role(ae, AE_START_NAMES) or ""])
        ae_dates = pd.DataFrame({"site": ae["site"], "date": start}).dropna()
        events.append(pd.DataFrame({"subject": ae["subject"].astype(str), "date": start}))
    if "SV" in data.datasets:
        sv = visits(data)
        events.append(
            pd.DataFrame({"subject": sv["subject"].astype(str), "date": sv["visit_date"]})
        )
    seen_on = pd.concat(events, ignore_index=True).dropna()
    seen_on["date"] = pd.to_datetime(seen_on["date"])
    rows = []
    for cut in cuts:
        seen = dated[dated["date"] <= cut]
        span = seen_on[seen_on["date"] <= cut].groupby("subject")["date"].agg(["min", "max"])
        days = ((span["max"] - span["min"]).dt.days + 1).groupby(site_of.reindex(span.index))
        results = seen.groupby("site")["missing"].agg(["size", "mean"])
        aes = ae_dates[ae_dates["date"] <= cut]["site"].value_counts()
        for site in sorted(results.index.union(aes.index).union(days.size().index)):
            exposure = float(days.sum().get(site, 0.0))
            count = int(aes.get(site, 0))
            rows.append(
                [
                    cut.strftime("%Y-%m-%d"),
                    str(site),
                    int(days.size().get(site, 0)),
                    int(exposure),
                    count,
                    100 * count / exposure if exposure > 0 else np.nan,
                    int(results["size"].get(site, 0)),
                    float(results["mean"].get(site, np.nan)),
                ]
            )
    return pd.DataFrame(rows, columns=COLUMNS)
