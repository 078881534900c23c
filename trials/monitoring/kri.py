"""gsm's key risk indicators (kri0001–kri0012) per site and per country, now or as of a date.

Definitions follow gsm 2.2.3's ``inst/workflow/2_metrics/kri00*.yaml`` (site) and ``cou00*``
(country; same numerators, denominators, thresholds and minimum denominators).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from trials.monitoring import kri_methods as km
from trials.monitoring.frames import SITE_NAMES, SUBJECT_NAMES, TrialData, role
from trials.monitoring.kri_data import KriTables, from_trial, restrict

#: Per-subject numerator and denominator (indexed by subject), or why the KRI cannot be computed.
Counts = tuple[pd.Series, pd.Series]
Builder = Callable[[KriTables], Counts | str]


@dataclass(frozen=True)
class Kri:
    id: str
    name: str
    numerator: str
    denominator: str
    kind: str  # "rate" (per unit of denominator) or "binary" (share)
    thresholds: tuple[float, ...]
    min_denominator: float
    build: Builder
    method: str = "normal"
    #: Subjects are the screened (kri0012), not the enrolled.
    screened: bool = False


def _count(frame: pd.DataFrame, mask: pd.Series | None = None) -> pd.Series:
    rows = frame if mask is None else frame[mask.to_numpy(dtype=bool)]
    return rows["subject"].value_counts()


def _days(t: KriTables) -> pd.Series:
    return t.subjects.set_index("subject")["days"].astype(float)


def _enrolled(t: KriTables) -> pd.Series:
    return pd.Series(1.0, index=pd.Index(t.subjects["subject"].unique()))


def _per_day(t: KriTables, rows: pd.DataFrame, where: pd.Series | None) -> Counts | str:
    if t.subjects["days"].isna().all():
        return "no time on study (DM RFSTDTC/RFENDTC or SV visit dates)"
    return _count(rows, where), _days(t)


def _ae(serious: bool) -> Builder:
    def build(t: KriTables) -> Counts | str:
        if t.ae is None:
            return "no adverse-event data (AE)"
        return _per_day(t, t.ae, t.ae["serious"] if serious else None)

    return build


def _deviations(important: bool) -> Builder:
    def build(t: KriTables) -> Counts | str:
        if t.deviations is None:
            return "no protocol-deviation data with an importance flag (DV / CTMS protdev)"
        return _per_day(t, t.deviations, t.deviations["important"] == important)

    return build


def _labs(t: KriTables) -> Counts | str:
    if t.labs is None:
        return "no graded lab data (LB with LBTOXGR)"
    graded = t.labs[t.labs["grade"].isin([0, 1, 2, 3, 4])]
    return _count(graded, graded["grade"] >= 3), _count(graded)


def _discontinued(t: KriTables, table: pd.DataFrame | None, what: str, once: bool) -> Counts | str:
    if table is None:
        return f"no {what} completion data"
    # gsm counts study-completion records but distinct subjects for study-drug completion.
    counts = _count(table, table["discontinued"])
    return (counts.clip(upper=1) if once else counts), _enrolled(t)


def _points(t: KriTables, column: str) -> pd.Series:
    assert t.changes is not None
    return t.changes.groupby("subject")[column].sum().astype(float)


def _queries(t: KriTables) -> Counts | str:
    if t.queries is None:
        return "no query data"
    if t.changes is None:
        return "no count of data points (the datasets' cells) for the denominator"
    return _count(t.queries), _points(t, "points")


def _query_age(t: KriTables) -> Counts | str:
    if t.queries is None:
        return "no query data"
    q = t.queries[t.queries["status"].isin(["Open", "Answered", "Closed"])]
    return _count(q, q["age"] > 30), _count(q)


def _entry_lag(t: KriTables) -> Counts | str:
    if t.pages is None:
        return "no data pages with an entry (created) date"
    return _count(t.pages, t.pages["lag"] > 10), _count(t.pages)


def _changes(t: KriTables) -> Counts | str:
    # A trial never amended is analysed: its data points have no changes (numerator 0).
    if t.changes is None:
        return "no version history of the datasets (data points and amendments)"
    return _points(t, "changed"), _points(t, "points")


def _screening(t: KriTables) -> Counts | str:
    if t.screening is None:
        return "no screening log with screen failures (enrolment Y/N)"
    s = t.screening
    return _count(s, s["failed"]), _count(s)


_RATE = (-3.0, -2.0, 2.0, 3.0)
_AE_RATE = (-2.0, -1.0, 2.0, 3.0)  # gsm watches AE under-reporting more closely: amber at -1
_DAYS, _SUBJ = "Days on Study", "Enrolled Subjects"

KRIS: tuple[Kri, ...] = (
    Kri("kri0001", "Adverse Event Rate", "Adverse Events", _DAYS, "rate", _AE_RATE, 30,
        _ae(False)),
    Kri("kri0002", "Serious Adverse Event Rate", "Serious Adverse Events", _DAYS, "rate",
        _AE_RATE, 30, _ae(True)),
    Kri("kri0003", "Non-Important Protocol Deviation Rate", "Non-Important Protocol Deviations",
        _DAYS, "rate", _RATE, 30, _deviations(False)),
    Kri("kri0004", "Important Protocol Deviation Rate", "Important Protocol Deviations", _DAYS,
        "rate", _RATE, 30, _deviations(True)),
    Kri("kri0005", "Grade 3+ Lab Abnormality Rate", "Grade 3+ Abnormal Lab Samples",
        "Total Lab Samples", "binary", _RATE, 30, _labs),
    Kri("kri0006", "Study Discontinuation Rate", "Subjects Discontinued - Study", _SUBJ,
        "binary", _RATE, 3, lambda t: _discontinued(t, t.completion, "study", False)),
    Kri("kri0007", "Treatment Discontinuation Rate", "Subjects Discontinued - Treatment", _SUBJ,
        "binary", _RATE, 3, lambda t: _discontinued(t, t.treatment, "study-drug", True)),
    Kri("kri0008", "Query Rate", "Queries", "Total Data Points", "rate", _RATE, 30, _queries),
    Kri("kri0009", "Outstanding Query Rate", "Queries Open > 30 Days", "Total Queries",
        "binary", _RATE, 30, _query_age),
    Kri("kri0010", "Outstanding Data Entry Rate", "Data Pages Entered > 10 Days",
        "Total Data Pages", "binary", _RATE, 30, _entry_lag),
    Kri("kri0011", "Data Change Rate", "Data Points with 1+ Change", "Total Data Points",
        "binary", _RATE, 30, _changes),
    Kri("kri0012", "Screen Failure Rate", "Screen Failures", "Screened Subjects", "binary",
        _RATE, 3, _screening, screened=True),
)  # fmt: skip

COLUMNS = [
    "level", "group", "kri", "name", "numerator", "denominator", "metric", "score", "flag",
    "method", "overall", "factor",
]  # fmt: skip


@dataclass(frozen=True)
class KriResult:
    """Every analysed KRI's per-group figures (`COLUMNS`; level "site" or "country", flag −2..2
    or NaN below the minimum denominator), and the KRIs not analysed with the reason why."""

    table: pd.DataFrame
    not_analysed: list[tuple[str, str]] = field(default_factory=list)
    as_of: pd.Timestamp | None = None
    #: Per table, records without a date: a snapshot leaves them out.
    undated: dict[str, int] = field(default_factory=dict)

    def flagged(self, kri: str, level: str = "site", red: bool = True) -> list[str]:
        """The groups a KRI flags red (|flag| = 2), or amber or red when `red` is False."""
        t = self.table
        hit = t["flag"].abs() >= (2 if red else 1)
        return sorted(t[(t["kri"] == kri) & (t["level"] == level) & hit]["group"].astype(str))


def _tables(source: KriTables | TrialData | Mapping[str, pd.DataFrame]) -> KriTables:
    if isinstance(source, KriTables):
        return source
    if isinstance(source, TrialData):
        return from_trial(source)
    dm = source.get("DM")
    subject = None if dm is None else role(dm, SUBJECT_NAMES)
    site = None if dm is None else role(dm, SITE_NAMES)
    if dm is None or subject is None or site is None:
        raise ValueError(
            "datasets without a TrialData roster need DM with subject and site columns"
        )
    roster = pd.DataFrame({"subject": dm[subject], "site": dm[site]}).dropna()
    consent = pd.DataFrame(columns=["subject", "consented"])
    return from_trial(TrialData(source, roster, consent))


def _score(kri: Kri, counts: Counts, groups: pd.DataFrame, level: str) -> pd.DataFrame:
    numerator, denominator = counts
    per_subject = pd.DataFrame(
        {
            "group": groups[level].to_numpy(),
            "numerator": groups["subject"].map(numerator).fillna(0).astype(float).to_numpy(),
            "denominator": groups["subject"].map(denominator).fillna(0).astype(float).to_numpy(),
        }
    )
    per_subject = per_subject[per_subject["group"].notna()]
    scored = km.score_groups(per_subject, kri.method, kri.kind, kri.thresholds, kri.min_denominator)
    out = scored.assign(level=level, kri=kri.id, name=kri.name, method=kri.method)
    for column in ("overall", "factor"):
        if column not in out:
            out[column] = float("nan")
    return out[COLUMNS]


def compute_kris(
    source: KriTables | TrialData | Mapping[str, pd.DataFrame],
    as_of: str | pd.Timestamp | None = None,
    kris: Iterable[Kri] = KRIS,
) -> KriResult:
    """Every KRI in `kris` per site and per country; with `as_of`, on the data as it stood
    that day. A KRI whose data the trial lacks is listed in `not_analysed` with the reason."""
    tables = _tables(source)
    date = None if as_of is None else pd.Timestamp(as_of)
    undated: dict[str, int] = {}
    if date is not None:
        tables, undated = restrict(tables, date)
    parts, skipped = [], []
    for kri in kris:
        counts = kri.build(tables)
        if isinstance(counts, str):
            skipped.append((kri.id, f"not analysed: {counts}"))
            continue
        groups = tables.screening if kri.screened else tables.subjects
        assert groups is not None  # a screened KRI's builder refuses a trial without screening
        groups = groups.drop_duplicates("subject")
        if counts[1].reindex(groups["subject"]).fillna(0).sum() <= 0:
            skipped.append((kri.id, "not analysed: every denominator is 0"))
            continue
        for level in ("site", "country"):
            if groups[level].notna().any():
                parts.append(_score(kri, counts, groups, level))
    table = pd.concat(parts, ignore_index=True) if parts else _empty()
    return KriResult(table, skipped, date, undated)


def _empty() -> pd.DataFrame:
    text = {"level", "group", "kri", "name", "method"}
    return pd.DataFrame({c: pd.Series(dtype=object if c in text else float) for c in COLUMNS})


def kri_snapshots(
    source: KriTables | TrialData | Mapping[str, pd.DataFrame],
    dates: Iterable[str | pd.Timestamp],
    kris: Iterable[Kri] = KRIS,
) -> pd.DataFrame:
    """`compute_kris` as of each date, stacked with a ``snapshot`` column: a KRI's trend."""
    chosen = list(kris)
    tables = [compute_kris(source, d, chosen).table.assign(snapshot=pd.Timestamp(d)) for d in dates]
    parts = [t for t in tables if len(t)]
    if not parts:
        return _empty().assign(snapshot=pd.Series(dtype="datetime64[ns]"))[["snapshot", *COLUMNS]]
    out = pd.concat(parts, ignore_index=True)
    return out[["snapshot", *COLUMNS]]
