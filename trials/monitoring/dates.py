"""Date monitoring checks: dates against consent and page entry, and data-entry lag."""

from __future__ import annotations

import math

import pandas as pd

from trials.monitoring.frames import (
    AE_START_NAMES,
    MIN_RECORDS,
    TrialData,
    by_subject,
    dates,
    empty_sites,
    records,
    role,
    visits,
)
from trials.monitoring.stats import (
    mann_whitney_z,
    normal_sf,
    rank_sites,
    rate_scores,
    robust_rescale,
)

_LISTING = ["kind", "site", "subject", "row", "date", "before", "days"]


# --- 5. date anomalies -------------------------------------------------------------------------


def date_anomalies(data: TrialData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Visits before consent, visit pages created before the visit date, AEs before consent.

    Each kind is a share of the records dated for it, compared between sites on an arcsine
    funnel with over-dispersion: in clindata a fifth of all visit pages were created before the
    visit date, so flagging every site that has one would flag nearly all. Ranked by z across
    kinds. Returns (site table, listing of the anomalous records).
    """
    checks = []
    known = data.consent.dropna(subset=["consented"]) if len(data.consent) else data.consent
    # A trial without consent records has nothing to compare with (said in the coverage table).
    consented = dates(by_subject(known, "consented")) if len(known) else None
    if "SV" in data.datasets:
        sv = visits(data)
        if consented is not None:
            consent = pd.to_datetime(sv["subject"].map(consented))
            checks.append(("visit before consent", sv, sv["visit_date"], consent))
        checks.append(("entry before visit", sv, sv["created"], sv["visit_date"]))
    start = role(data.datasets["AE"], AE_START_NAMES) if "AE" in data.datasets else None
    if start is not None and consented is not None:
        ae = records(data, "AE")
        consent = pd.to_datetime(ae["subject"].map(consented))
        checks.append(("AE start before consent", ae, dates(ae[start]), consent))
    tables, listings = [], []
    for kind, frame, when, limit in checks:
        dated = when.notna() & limit.notna()
        if not dated.any():
            continue
        early = dated & (when < limit)
        size = frame.loc[dated, "site"].value_counts()
        count = frame.loc[early, "site"].value_counts().reindex(size.index, fill_value=0)
        tables.append(rate_scores(size, count, "binomial", MIN_RECORDS).assign(kind=kind))
        listings.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "site": frame.loc[early, "site"],
                    "subject": frame.loc[early, "subject"].astype(str),
                    "row": frame.index[early] + 1,
                    "date": when[early].dt.strftime("%Y-%m-%d"),
                    "before": limit[early].dt.strftime("%Y-%m-%d"),
                    "days": (limit[early] - when[early]).dt.days,
                }
            )
        )
    if not tables:
        return empty_sites(["kind"], ["trial_rate"]), pd.DataFrame(columns=_LISTING)
    table = pd.concat(tables, ignore_index=True)
    ranked = rank_sites(table, table["z"], ascending=False, by=["kind"])
    return ranked, pd.concat(listings, ignore_index=True)


# --- 6. data-entry lag -------------------------------------------------------------------------


def entry_lags(data: TrialData) -> pd.DataFrame:
    """Visit pages with both a visit date and a creation time; lag = created day - visit day.

    These are the pages clindata's facts.txt counts: 28074 of rawplus_visdt's 28093 rows (19
    have no visit_dt; every row has mincreated_dts). A negative lag is a page created before
    its visit took place.
    """
    if "SV" not in data.datasets:
        columns = ["subject", "site", "visit", "visit_date", "created", "lag"]
        return pd.DataFrame(columns=columns)
    sv = visits(data)
    sv = sv[sv["visit_date"].notna() & sv["created"].notna()]
    return sv.assign(lag=(sv["created"] - sv["visit_date"]).dt.days.astype(int))


def lag_overview(lags: pd.DataFrame) -> dict[str, float]:
    """Trial-wide: dated pages, median, 90th and 95th percentile lag (pandas' linear
    interpolation), and pages created before the visit date."""
    lag = lags["lag"].astype(float)
    quantiles = lag.quantile([0.5, 0.9, 0.95]).tolist() if len(lag) else [math.nan] * 3
    median, p90, p95 = quantiles
    return {
        "pages": len(lag),
        "median": median,
        "p90": p90,
        "p95": p95,
        "before_visit": int((lag < 0).sum()),
    }


def entry_lag(lags: pd.DataFrame, late_days: int = 14) -> pd.DataFrame:
    """Per site: median, p90 and p95 lag and the share later than `late_days`; robust z.

    z is the site-vs-rest Mann-Whitney statistic (tie-corrected: most lags are whole days near
    0), robustly re-centred and scaled across eligible sites. Longest lags rank first.
    """
    if lags.empty:
        return empty_sites([], ["p90", "p95", "late", "early"])
    site, lag = lags["site"], lags["lag"].astype(float)
    groups = lag.groupby(site)
    z, _ = robust_rescale(
        mann_whitney_z(lag, site)["z"].reindex(groups.size().index),
        groups.size() >= MIN_RECORDS,
    )
    median = groups.median()
    table = pd.DataFrame(
        {
            "site": median.index.astype(str),
            "n": groups.size().to_numpy(),
            "statistic": median.to_numpy(),
            "effect": median.to_numpy() - lag.median(),
            "z": z,
            "p": normal_sf(z),
            "eligible": (groups.size() >= MIN_RECORDS).to_numpy(),
            "p90": groups.quantile(0.9).to_numpy(),
            "p95": groups.quantile(0.95).to_numpy(),
            "late": (lag > late_days).groupby(site).mean().to_numpy(),
            "early": (lag < 0).groupby(site).mean().to_numpy(),
        }
    )
    return rank_sites(table, table["z"], ascending=False)
