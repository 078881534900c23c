"""The `monitoring` report: central statistical monitoring of each trial's latest datasets."""

from __future__ import annotations

import pandas as pd

from provenance.reports.model import (
    Metric,
    Params,
    Report,
    Section,
    Step,
    Table,
    report_kind,
)
from provenance.reports.source import Source
from trials.access import trial_sponsor_report
from trials.monitoring.charts import per_trial, ranking_chart
from trials.monitoring.data import CHECK_TITLES, Analysis, analyse, clindata_trial, stack
from trials.monitoring.score import ALPHA
from trials.monitoring.sections import (
    THRESHOLD,
    TRIAGE,
    ae_section,
    categories_section,
    copies_section,
    count,
    dates_section,
    digits_section,
    distributions_section,
    duplicates_section,
    lag_section,
    missing_section,
    outliers_section,
)

__all__ = ["CHECK_TITLES", "THRESHOLD", "TRIAGE", "clindata_trial", "monitoring_report"]


@report_kind(
    "monitoring",
    "Central statistical monitoring",
    "Per-site triage rankings over each trial's latest submitted datasets: digit preference "
    "per test, lab and vital-sign distributions, copied values, site mean and spread outliers, "
    "AE reporting rates, duplicate records, missing results, categorical distributions, date "
    "anomalies and data-entry lag, combined into one site score; per-site trends by as-of date.",
    steps=7,
    also_for=trial_sponsor_report,
)
def monitoring_report(source: Source, params: Params, step: Step) -> Report:
    runs = analyse(source, params, step)
    sections = [
        _overview(runs),
        digits_section(runs),
        distributions_section(runs),
        copies_section(runs),
        outliers_section(runs),
        ae_section(runs),
        duplicates_section(runs),
        missing_section(runs),
        categories_section(runs),
        dates_section(runs),
        lag_section(runs, params.days),
        _kri(runs),
        _trend(runs),
    ]
    return Report("monitoring", "Central statistical monitoring", params, sections)


# --- sections ------------------------------------------------------------------------------------


def _overview(runs: dict[str, Analysis]) -> Section:
    summary = stack(runs, "sites")
    flagged = int(summary["flagged"].astype(bool).sum()) if "flagged" in summary else 0
    versions = [a.versions for a in runs.values()]
    coverage = stack(runs, "coverage")
    missing = int((coverage["status"] != "analysed").sum()) if "status" in coverage else 0
    return Section(
        "Overview",
        "Ten checks compare every site with the rest of its trial, on the latest version of "
        "each submitted dataset (datasets of one domain are read as one). The combined score: "
        "within each check a site's tests are combined by Simes' method; the site's p is the "
        "smallest check p times the number of checks that assessed it (Bonferroni); a site is "
        f"flagged when the Benjamini-Hochberg q of that p across the trial's sites is below "
        f"{ALPHA}, so a trial without anomalies has no site flagged at least "
        f"{1 - ALPHA:.0%} of the time. score = -log10 p, plus one per red KRI. {TRIAGE}",
        [
            Metric("Trials", count(len(runs))),
            Metric("Sites", count(len(summary))),
            Metric("Sites flagged (combined score)", count(flagged), flag=flagged > 0),
            Metric("Checks not (fully) analysed", count(missing), flag=missing > 0),
        ],
        [
            Table(
                "monitoring_sites",
                "Sites ranked by the combined score",
                summary,
                "p: combined p; q: its Benjamini-Hochberg q across sites; checks: those whose "
                "p drove it; check_p: every check's Simes p for the site; kri_red: red KRI "
                "flags.",
            ),
            Table(
                "monitoring_coverage",
                "What each check analysed, and why not",
                coverage,
                "A check without its inputs (a domain, consent records, a page-creation date) "
                "is listed here, not silently skipped.",
            ),
            Table(
                "monitoring_datasets",
                "Dataset versions read (the latest of each)",
                pd.concat(versions, ignore_index=True) if versions else pd.DataFrame(),
            ),
        ],
        per_trial(runs, "monitoring_ranking", ranking_chart),
    )


def _kri(runs: dict[str, Analysis]) -> Section:
    table = stack(runs, "kri")
    red = (
        int((pd.to_numeric(table["flag"], errors="coerce").abs() >= 2).sum())
        if "flag" in table
        else 0
    )
    return Section(
        "Key risk indicators",
        "Key risk indicators in the manner of gsm (trials/monitoring/kri.py), per site: each "
        "red flag (|flag| = 2) adds one to the site's combined score. Without the KRI module "
        f"this section says so and the combined score rests on the checks above. {TRIAGE}",
        [Metric("Red KRI flags", count(red), flag=red > 0)],
        [Table("monitoring_kri", "Key risk indicators per site", table)],
    )


def _trend(runs: dict[str, Analysis]) -> Section:
    return Section(
        "Trends by as-of date",
        "Per site at each of the latest quarter ends and the last data date (at most the "
        "report's as-of date): subjects seen, subject-days, AEs per 100 subject-days and the "
        "share of missing results, from the records dated on or before that date. Computed on "
        "demand from the dates in the data, not stored, so a trend never disagrees with the "
        f"datasets it comes from; the KRIs are recomputed at the same dates. {TRIAGE}",
        [],
        [
            Table("monitoring_trend", "Per-site indicators by as-of date", stack(runs, "trend")),
            Table(
                "monitoring_kri_trend",
                "Key risk indicators per site by as-of date",
                stack(runs, "kri trend"),
                "snapshot: the as-of date; each KRI on the records dated on or before it.",
            ),
        ],
    )
