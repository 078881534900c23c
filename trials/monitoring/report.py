"""The `monitoring` report: central statistical monitoring of each trial's latest datasets."""

from __future__ import annotations

import math

import pandas as pd

from provenance.reports.model import (
    Chart,
    Metric,
    Params,
    Report,
    Section,
    Step,
    Table,
    report_kind,
)
from provenance.reports.source import Source
from trials import monitoring as mon
from trials.access import trial_sponsor_report
from trials.monitoring.charts import digits_chart, funnel_chart, lag_chart, per_trial, ranking_chart
from trials.monitoring.data import CHECK_TITLES, Analysis, analyse, clindata_trial, stack
from trials.monitoring.stats import FDR

__all__ = ["CHECK_TITLES", "THRESHOLD", "TRIAGE", "clindata_trial", "monitoring_report"]

TRIAGE = (
    "These are triage rankings for targeted monitoring, not verdicts: a high rank says where "
    "to look first, and an unflagged site is not thereby cleared."
)
THRESHOLD = (
    f"Flagged: an eligible site whose Benjamini-Hochberg adjusted p (q) is below {FDR} across "
    "the check's tests; smaller sites are listed but never flagged."
)


@report_kind(
    "monitoring",
    "Central statistical monitoring",
    "Per-site triage rankings over each trial's latest submitted datasets: terminal-digit "
    "preference, site mean and spread outliers, AE under-reporting on an over-dispersed funnel, "
    "duplicate records, date anomalies and data-entry lag.",
    steps=7,
    also_for=trial_sponsor_report,
)
def monitoring_report(source: Source, params: Params, step: Step) -> Report:
    runs = analyse(source, params, step)
    sections = [
        _overview(runs),
        _digits(runs),
        _outliers(runs),
        _ae(runs),
        _duplicates(runs),
        _dates(runs),
        _lag(runs, params.days),
    ]
    return Report("monitoring", "Central statistical monitoring", params, sections)


# --- sections ------------------------------------------------------------------------------------


def _count(n: float) -> str:
    return f"{int(n):,}"


def _check(
    runs: dict[str, Analysis],
    key: str,
    text: str,
    note: str,
    metrics: list[Metric],
    charts: list[Chart],
    extra: list[Table] | None = None,
) -> Section:
    title = CHECK_TITLES[key]
    flagged = sum(_flagged(a.tables[key]) for a in runs.values())
    head = Metric(f"Sites flagged ({title})", _count(flagged), flag=flagged > 0)
    table = Table(f"monitoring_{key}", f"{title} per site", stack(runs, key), f"{note} {THRESHOLD}")
    return Section(title, f"{text} {TRIAGE}", [head, *metrics], [table, *(extra or [])], charts)


def _flagged(table: pd.DataFrame) -> int:
    return int(table.loc[table["flagged"].astype(bool), "site"].nunique()) if len(table) else 0


def _overview(runs: dict[str, Analysis]) -> Section:
    summary = stack(runs, "sites")
    flagged = int((summary["flags"] > 0).sum()) if "flags" in summary else 0
    versions = [a.versions for a in runs.values()]
    return Section(
        "Overview",
        "Six checks compare every site with the rest of its trial, on the latest version of "
        f"each submitted dataset. {THRESHOLD} {TRIAGE}",
        [
            Metric("Trials", _count(len(runs))),
            Metric("Sites", _count(len(summary))),
            Metric("Sites flagged by any check", _count(flagged), flag=flagged > 0),
        ],
        [
            Table(
                "monitoring_sites",
                "Sites ranked across checks",
                summary,
                "flags: how many checks flag the site; min_q: its smallest adjusted p.",
            ),
            Table(
                "monitoring_datasets",
                "Dataset versions read (the latest of each)",
                pd.concat(versions, ignore_index=True) if versions else pd.DataFrame(),
            ),
        ],
        per_trial(runs, "monitoring_ranking", ranking_chart),
    )


def _digits(runs: dict[str, Analysis]) -> Section:
    table = stack(runs, "digits")
    columns = len(table[["trial", "variable"]].drop_duplicates()) if len(table) else 0
    return _check(
        runs,
        "digits",
        f"Each numeric measurement column (every value a number, at least {mon.MIN_DISTINCT} "
        "distinct values, not an identifier: DM.AGE in the demo) is split by last digit, and "
        "each site's digits are compared with the rest of its trial (2 x 10 chi-square with a "
        f"permutation p; sites with at least {mon.MIN_VALUES} values are eligible; Kirkwood et "
        "al. 2013). Ranked by effect size, Cohen's w less its chance level.",
        "statistic: chi-square; effect: w; z: the normal deviate of p; tvd: total variation "
        "distance; share05: share ending in 0 or 5; d0-d9: the site's counts.",
        [Metric("Columns tested for terminal digits", _count(columns))],
        per_trial(runs, "monitoring_digits", digits_chart),
    )


def _outliers(runs: dict[str, Analysis]) -> Section:
    return _check(
        runs,
        "outliers",
        "Per subject: AE count, visit count and each numeric measurement of a one-row-per-"
        "subject dataset (DM.AGE). Each site's mean and spread (Brown-Forsythe deviations) "
        "are compared with the other sites' subjects; the z-scores are then re-centred and "
        "scaled robustly (median, MAD) across sites, which differ for benign reasons too "
        f"(Venet et al. 2012). Sites with at least {mon.MIN_SUBJECTS} subjects are eligible.",
        "mean: statistic the site mean, effect the standardised difference; spread: statistic "
        "the site SD, effect the variance ratio; z: robust, two-sided.",
        [],
        [],
    )


def _ae(runs: dict[str, Analysis]) -> Section:
    metrics = []
    for trial, a in runs.items():
        if a.funnel is not None and len(a.funnel.table):
            rate = f"{a.funnel.target:.3f} per {a.funnel.unit}; tau2 {a.funnel.tau2:.4f}"
            metrics.append(Metric(f"Trial AE rate ({trial})", rate))
    return _check(
        runs,
        "ae",
        "AEs per site against the trial's rate per subject-visit, on a funnel plot (square-"
        "root scale) whose limits are widened for over-dispersion by Spiegelhalter's (2005) "
        "additive random-effects method, phi estimated from 10% winsorised z-scores. Fewest "
        f"AEs for the exposure first; sites with at least {mon.MIN_SUBJECTS} subjects are "
        "eligible, and only under-reporting is flagged.",
        "statistic: AEs; effect: observed/expected; exposure: visits (subjects without SV); "
        "z: over-dispersion adjusted (z_unadjusted: plain Poisson); p: lower tail.",
        metrics,
        per_trial(runs, "monitoring_ae_funnel", funnel_chart),
    )


def _duplicates(runs: dict[str, Analysis]) -> Section:
    listing = stack(runs, "duplicate records")
    groups = listing.drop_duplicates(["trial", "group"]) if len(listing) else listing
    exact = int((groups["kind"] == "exact duplicate").sum()) if len(groups) else 0
    near = len(groups) - exact
    return _check(
        runs,
        "duplicates",
        "Exact duplicate rows within a dataset, and rows equal in every column but one: the "
        "subject (a record copied to another subject), a date (shifted) or another field. A "
        "difference only in the entry time (CREATED) does not count. Per site, the share of "
        "records in such groups is compared with the trial's own rate.",
        "statistic: records in a duplicate group; effect: their share; p: upper tail.",
        [
            Metric("Exact duplicate groups", _count(exact), flag=exact > 0),
            Metric("Near-duplicate groups", _count(near), flag=near > 0),
        ],
        [],
        [
            Table(
                "monitoring_duplicate_records",
                "Duplicate and near-duplicate records",
                listing,
                "row: 1-based data row of the dataset; group: rows that match.",
            ),
        ],
    )


def _dates(runs: dict[str, Analysis]) -> Section:
    listing = stack(runs, "date records")
    counts = listing["kind"].value_counts() if len(listing) else pd.Series(dtype=int)
    kinds = ("visit before consent", "entry before visit", "AE start before consent")
    return _check(
        runs,
        "dates",
        "Visits dated before the subject's consent, visit pages created before the visit "
        "date, and AEs starting before consent. Each is a share of the records dated for it, "
        "compared between sites on an arcsine funnel with Spiegelhalter's over-dispersion "
        f"adjustment; sites with at least {mon.MIN_RECORDS} such records are eligible.",
        "statistic: anomalous records; effect: their share; p: upper tail.",
        [Metric(f"Records: {k}", _count(counts.get(k, 0)), flag=k in counts) for k in kinds],
        [],
        [
            Table(
                "monitoring_date_records",
                "Records with a date anomaly",
                listing,
                "date: the record's date; before: the date it should not precede.",
            ),
        ],
    )


def _lag(runs: dict[str, Analysis], days: int) -> Section:
    lags = [a.lags for a in runs.values() if len(a.lags)]
    overview = mon.lag_overview(pd.concat(lags) if lags else pd.DataFrame({"lag": []}))
    pages, early = _count(overview["pages"]), _count(overview["before_visit"])

    def show(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:g}"

    return _check(
        runs,
        "lag",
        "Days from each visit to the creation of its page, for pages with both dates. Sites "
        "are ranked by a site-vs-rest Mann-Whitney z, robustly re-centred and scaled across "
        f"sites with at least {mon.MIN_RECORDS} pages; longest lags first.",
        "statistic: median lag (days); effect: that minus the trial median; late: share "
        f"over {days} days; early: share created before the visit.",
        [
            Metric("Dated visit pages", pages),
            Metric("Median entry lag (days)", show(overview["median"])),
            Metric("90th percentile entry lag (days)", show(overview["p90"])),
            Metric("95th percentile entry lag (days)", show(overview["p95"])),
            Metric("Pages created before the visit date", f"{early} of {pages}"),
        ],
        per_trial(runs, "monitoring_lag", lag_chart),
    )
