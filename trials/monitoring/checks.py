"""Every monitoring check on one trial, with what could not be analysed and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from trials import monitoring as mon
from trials.monitoring.copies import copied_values
from trials.monitoring.digits import digit_preference
from trials.monitoring.distributions import distribution_shifts
from trials.monitoring.findings import findings_domains
from trials.monitoring.frames import CREATED_NAMES, TrialData, role
from trials.monitoring.quality import categorical_shares, missingness
from trials.monitoring.score import site_scores

#: The checks' site tables by key, with their section titles, in report order.
CHECK_TITLES = {
    "digits": "Terminal-digit preference",
    "distributions": "Lab and vital-sign distributions",
    "copies": "Copied values",
    "outliers": "Site mean and spread outliers",
    "ae": "AE reporting rate",
    "duplicates": "Duplicate and near-duplicate records",
    "missing": "Missing results",
    "categories": "Categorical distributions",
    "dates": "Date anomalies",
    "lag": "Data-entry lag",
}
COVERAGE = ["check", "status", "reason"]
#: Why a check with its inputs present can still have nothing to compare.
EMPTY = {
    "missing": "no findings result is missing at any site: nothing to compare",
    "categories": "no categorical column with enough records in two or more categories",
    "dates": "no record is dated for any of the comparisons",
}


@dataclass
class Results:
    """One trial's check tables (by CHECK_TITLES key, plus listings), the AE funnel, entry
    lags, and a coverage table saying what each check analysed or why it did not."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    funnel: mon.Funnel | None = None
    lags: pd.DataFrame = field(default_factory=pd.DataFrame)
    coverage: list[list[str]] = field(default_factory=list)

    def note(self, check: str, status: str, reason: str = "") -> None:
        self.coverage.append([CHECK_TITLES.get(check, check), status, reason])

    def coverage_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.coverage, columns=COVERAGE)


def missing_inputs(data: TrialData) -> dict[str, str]:
    """Per check, why it has nothing to analyse in this trial (absent when it has)."""
    findings = findings_domains(data)
    why: dict[str, str] = {}
    no_findings = "no findings dataset (LB, VS, EG: --TESTCD with --ORRES) was submitted"
    for key in ("distributions", "copies", "missing"):
        if not findings:
            why[key] = no_findings
    if "AE" not in data.datasets:
        why["ae"] = "no AE dataset was submitted"
    if not data.datasets:
        for key in CHECK_TITLES:
            why[key] = "no dataset was submitted"
    consent = len(data.consent.dropna()) if len(data.consent) else 0
    if "SV" not in data.datasets and ("AE" not in data.datasets or consent == 0):
        why.setdefault("dates", "no SV dataset, and no AE dataset with consent records")
    elif consent == 0:
        why.setdefault("dates", "partly: no consent records, so nothing is compared with consent")
    sv = data.datasets.get("SV")
    if sv is None or role(sv, CREATED_NAMES) is None:
        why.setdefault("lag", "no page-creation date (CREATED) in SV: SDTM does not carry one")
    return why


def run_checks(data: TrialData, days: int = 14) -> Results:
    """Every check; a check without its inputs is listed as not analysed with the reason, and
    one that fails on unexpected data is listed as failed instead of stopping the others."""
    out = Results()
    why = missing_inputs(data)

    def run(key: str, build: Callable[[], pd.DataFrame]) -> None:
        try:
            table = build()
        except (ValueError, KeyError, TypeError, IndexError, ZeroDivisionError) as error:
            out.tables[key] = pd.DataFrame(columns=["site", "p", "eligible", "flagged", "q"])
            out.note(key, "failed", f"{type(error).__name__}: {error}")
            return
        out.tables[key] = table
        reason = why.get(key, "")
        if len(table):
            out.note(key, "partly analysed" if reason.startswith("partly") else "analysed", reason)
        else:
            reason = reason.removeprefix("partly: ")
            out.note(key, "not analysed", reason or EMPTY.get(key, "no site had data for it"))

    def ae() -> pd.DataFrame:
        out.funnel = mon.ae_funnel(data)
        return out.funnel.table

    def duplicates() -> pd.DataFrame:
        out.tables["duplicate records"] = mon.duplicate_records(data)
        return mon.duplicate_sites(data, out.tables["duplicate records"])

    def copies() -> pd.DataFrame:
        table, out.tables["copied records"] = copied_values(data)
        return table

    def dates() -> pd.DataFrame:
        table, out.tables["date records"] = mon.date_anomalies(data)
        return table

    def lag() -> pd.DataFrame:
        out.lags = mon.entry_lags(data)
        return mon.entry_lag(out.lags, days)

    out.tables["duplicate records"] = pd.DataFrame(columns=["kind", "group", "row", "site"])
    out.tables["copied records"] = pd.DataFrame(columns=["site", "test", "subject"])
    out.tables["date records"] = pd.DataFrame(columns=["kind"])
    builders: dict[str, Callable[[], pd.DataFrame]] = {
        "digits": lambda: digit_preference(data),
        "distributions": lambda: distribution_shifts(data),
        "copies": copies,
        "outliers": lambda: mon.site_outliers(mon.subject_aggregates(data)),
        "ae": ae,
        "duplicates": duplicates,
        "missing": lambda: missingness(data),
        "categories": lambda: categorical_shares(data),
        "dates": dates,
        "lag": lag,
    }
    for key, build in builders.items():
        run(key, build)
    return out


def combine(results: Results, kri_red: pd.Series | None = None) -> pd.DataFrame:
    """The combined site ranking over every check's table (see score.site_scores)."""
    checks = {key: results.tables[key] for key in CHECK_TITLES if key in results.tables}
    return site_scores(checks, kri_red)
