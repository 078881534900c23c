"""The monitoring report's per-check sections: each check's site table, figures and charts."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from provenance.reports.model import Chart, Metric, Section, Table
from trials import monitoring as mon
from trials.monitoring.charts import digits_chart, funnel_chart, lag_chart, per_trial
from trials.monitoring.copies import CHANCE_PAIRS
from trials.monitoring.data import CHECK_TITLES, Analysis, stack
from trials.monitoring.digits import MIN_DIGIT_VALUES, MIN_SPREAD
from trials.monitoring.stats import FDR

TRIAGE = (
    "These are triage rankings for targeted monitoring, not verdicts: a high rank says where "
    "to look first, and an unflagged site is not thereby cleared."
)
THRESHOLD = (
    f"Flagged in this table: an eligible site whose Benjamini-Hochberg adjusted p (q) is below "
    f"{FDR} across all sites and tests of the check; smaller sites are listed but never "
    "flagged. The overview's combined score decides the site flag."
)


def count(n: float) -> str:
    return f"{int(n):,}"


def check_section(
    runs: dict[str, Analysis],
    key: str,
    text: str,
    note: str,
    metrics: Sequence[Metric] = (),
    charts: Sequence[Chart] = (),
    listing: Table | None = None,
) -> Section:
    """A check's section: its flagged-site count, its per-site table, and any listing of the
    records behind it."""
    title = CHECK_TITLES[key]
    flagged = sum(flagged_sites(a.tables[key]) for a in runs.values())
    head = Metric(f"Sites flagged ({title})", count(flagged), flag=flagged > 0)
    table = Table(f"monitoring_{key}", f"{title} per site", stack(runs, key), f"{note} {THRESHOLD}")
    tables = [table] if listing is None else [table, listing]
    return Section(title, f"{text} {TRIAGE}", [head, *metrics], tables, list(charts))


def flagged_sites(table: pd.DataFrame) -> int:
    if not len(table) or "flagged" not in table:
        return 0
    return int(table.loc[table["flagged"].astype(bool), "site"].nunique())


def digits_section(runs: dict[str, Analysis]) -> Section:
    table = stack(runs, "digits")
    columns = len(table[["trial", "variable"]].drop_duplicates()) if len(table) else 0
    return check_section(
        runs,
        "digits",
        "Last digits of measured values per test code and unit (--ORRES with --ORRESU; never "
        "study days, reference ranges, sequence numbers or dates), and of numeric columns of "
        "one-row-per-subject datasets (DM.AGE). Each site is compared with the other sites "
        "for the same test and unit (2 x 10 chi-square, Kirkwood et al. 2013), on its own "
        "recording step: a scale reading to 0.5 kg is compared as positions on a 0.5 kg grid, "
        "with the other sites' values rounded to it. A second chi-square on digits 0 / 5 / other "
        "catches rounding habits and their absence; each is referred to a chi-square scaled to "
        "499 random assignments of whole subjects to the site (a subject's repeated values are "
        "not independent), and p is twice the smaller. "
        f"Assessed: at least {MIN_DIGIT_VALUES} values and {mon.MIN_SUBJECTS} subjects at the "
        f"site and in the reference, values spread over at least {MIN_SPREAD:g} steps (SD).",
        "statistic: chi-square; effect: Cohen's w less its chance level; step: the site's "
        "recording step; reference: values compared with; spread: SD in steps; share0: share "
        "of last digit 0; d0-d9: the site's counts.",
        [Metric("Tests and columns compared for digits", count(columns))],
        per_trial(runs, "monitoring_digits", digits_chart),
    )


def distributions_section(runs: dict[str, Analysis]) -> Section:
    return check_section(
        runs,
        "distributions",
        "Labs and vital signs per test code and standard unit (--STRESN, --STRESU): each "
        "subject's mean and within-subject log SD, compared between the site's subjects and "
        "the other sites' (Mann-Whitney), re-centred on the median site and scaled robustly "
        f"across all tests. Sites with fewer than {mon.MIN_SUBJECTS} subjects on a test are not "
        "assessed.",
        "test: location (subject means) or variability (within-subject log SD); statistic: the "
        "Mann-Whitney z; effect: site median minus the trial median; scale: robust scale applied.",
    )


def copies_section(runs: dict[str, Analysis]) -> Section:
    listing = stack(runs, "copied records")
    return check_section(
        runs,
        "copies",
        "Runs of consecutive results of a test that two subjects of the same site share, dates "
        "ignored (values copied with their own dates are found), found by hashing every run. "
        "Values are compared on the coarsest recording step any site uses for the test, and "
        "each test's run length is the shortest at which pairs of subjects at different sites "
        f"share a run less than {CHANCE_PAIRS:.1%} of the time, so integer heart rates need "
        "longer runs than weights to the gram. Expected: that chance rate, from the other "
        "sites, times the site's own subject pairs; Poisson upper tail.",
        "statistic: subject pairs sharing a run; expected: by chance; pairs: the site's subject "
        "pairs summed over tests.",
        [Metric("Subject pairs sharing a run of results", count(len(listing)))],
        listing=Table(
            "monitoring_copied_values",
            "Subject pairs sharing a run of results",
            listing,
            "run: the run length used for the test.",
        ),
    )


def outliers_section(runs: dict[str, Analysis]) -> Section:
    return check_section(
        runs,
        "outliers",
        "Per subject: visit count and each numeric measurement of a one-row-per-subject "
        "dataset (DM.AGE); AE counts are left to the AE reporting rate, which allows for "
        "exposure and over-dispersion. Each site's mean and spread (Brown-Forsythe deviations) "
        "are compared with the other sites' subjects; the z-scores are then re-centred and "
        "scaled robustly (median, MAD) across sites, which differ for benign reasons too "
        f"(Venet et al. 2012). Sites with at least {mon.MIN_SUBJECTS} subjects are eligible.",
        "mean: statistic the site mean, effect the standardised difference; spread: statistic "
        "the site SD, effect the variance ratio; z: robust, two-sided.",
    )


def ae_section(runs: dict[str, Analysis]) -> Section:
    metrics = []
    for trial, a in runs.items():
        if a.funnel is not None and len(a.funnel.table):
            rate = f"{a.funnel.target:.4g} per {a.funnel.unit}; tau2 {a.funnel.tau2:.4f}"
            metrics.append(Metric(f"Trial AE rate ({trial})", rate))
    return check_section(
        runs,
        "ae",
        "AEs per site against the trial's rate per subject-day (DM RFSTDTC to RFENDTC, else "
        "the span of each subject's dated records; per visit where only visits are known), on "
        "a funnel plot (square-root scale) whose limits are widened for over-dispersion by "
        "Spiegelhalter's (2005) additive random-effects method. Each site is judged against "
        "the other sites alone, their rate and their between-site variance, so one far-off "
        "site neither raises the trial rate nor widens its own limits, with Student's t for a "
        "variance estimated from few sites. Two-sided: far more AEs is as worth a look as far "
        f"fewer; sites with at least {mon.MIN_SUBJECTS} subjects are eligible. The chart's "
        "limits use the trial rate and the between-site variance of all sites.",
        "statistic: AEs; effect: observed/expected; exposure: subject-days, visits or subjects "
        "(see the unit); z: against the other sites, over-dispersion adjusted (z_unadjusted: "
        "plain Poisson against the trial rate); p: two-sided, Student's t.",
        metrics,
        per_trial(runs, "monitoring_ae_funnel", funnel_chart),
    )


def duplicates_section(runs: dict[str, Analysis]) -> Section:
    listing = stack(runs, "duplicate records")
    groups = listing.drop_duplicates(["trial", "group"]) if len(listing) else listing
    exact = int((groups["kind"] == "exact duplicate").sum()) if len(groups) else 0
    near = len(groups) - exact
    return check_section(
        runs,
        "duplicates",
        "Exact duplicate rows within a dataset, and rows equal in every column but one: the "
        "subject (a record copied to another subject), a date (shifted) or another field, "
        "found by hashing rows and rows less one column (no pairwise search). Sequence numbers "
        "and study days are not compared; a difference only in the entry time (CREATED) does "
        "not count; a record with fewer than two filled content cells (two subjects' visits on "
        "one day) or a single findings result is not a copy to another subject, but a subject's "
        "whole set of findings on a date that another subject also has is. Per site, the share "
        "of records in such groups is compared with the trial's own rate.",
        "statistic: records in a duplicate group; effect: their share; p: upper tail.",
        [
            Metric("Exact duplicate groups", count(exact), flag=exact > 0),
            Metric("Near-duplicate groups", count(near), flag=near > 0),
        ],
        listing=Table(
            "monitoring_duplicate_records",
            "Duplicate and near-duplicate records",
            listing,
            "row: 1-based data row of the dataset; group: rows that match.",
        ),
    )


def missing_section(runs: dict[str, Analysis]) -> Section:
    return check_section(
        runs,
        "missing",
        "Per test code, each site's share of findings records without a result (or --STAT "
        "NOT DONE) against the trial's share, on a binomial funnel (Anscombe's arcsine, "
        "Spiegelhalter's over-dispersion), two-sided: many gaps is poor data, none where other "
        f"sites have some can be invented data. Sites with at least {mon.MIN_RECORDS} records "
        "of the test are eligible.",
        "statistic: records without a result; effect: their share; trial_rate: the trial's.",
    )


def categories_section(runs: dict[str, Analysis]) -> Section:
    return check_section(
        runs,
        "categories",
        "Each category of a categorical column (2 to 8 values: AESEV, AESER, DM.SEX) and of "
        "each findings test with text results (urine protein): its share per site against the "
        "trial's, on the same binomial funnel, two-sided. Categories with fewer than 10 "
        "records trial-wide are not compared.",
        "category: the value; statistic: records in it; effect: their share at the site.",
    )


def dates_section(runs: dict[str, Analysis]) -> Section:
    listing = stack(runs, "date records")
    counts = listing["kind"].value_counts() if len(listing) else pd.Series(dtype=int)
    kinds = ("visit before consent", "entry before visit", "AE start before consent")
    return check_section(
        runs,
        "dates",
        "Visits dated before the subject's consent, visit pages created before the visit "
        "date, and AEs starting before consent. Each is a share of the records dated for it, "
        "compared between sites on an arcsine funnel with Spiegelhalter's over-dispersion "
        f"adjustment; sites with at least {mon.MIN_RECORDS} such records are eligible.",
        "statistic: anomalous records; effect: their share; p: upper tail.",
        [Metric(f"Records: {k}", count(counts.get(k, 0)), flag=k in counts) for k in kinds],
        listing=Table(
            "monitoring_date_records",
            "Records with a date anomaly",
            listing,
            "date: the record's date; before: the date it should not precede.",
        ),
    )


def lag_section(runs: dict[str, Analysis], days: int) -> Section:
    lags = [a.lags for a in runs.values() if len(a.lags)]
    overview = mon.lag_overview(pd.concat(lags) if lags else pd.DataFrame({"lag": []}))
    pages, early = count(overview["pages"]), count(overview["before_visit"])

    def show(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:g}"

    return check_section(
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
