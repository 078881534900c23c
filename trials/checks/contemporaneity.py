"""R9 contemporaneous entry: each claimed date against the time its entry was logged."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from trials.checks.frames import (
    OK,
    R9_COLUMNS,
    R9_LAG_COLUMNS,
    _day,
    _frame,
    _missing,
    _row,
    _with_trial,
    records,
)

#: How many days after its claimed date an entry may be logged before it is a late entry.
#: Entry guidelines ask for days, but real entry lags have a long tail: in the clindata study
#: 95 % of pages are entered within 27 days of the visit (facts.txt). A month flags at most the
#: slowest twentieth of ordinary entry while a consent back-dated to cover an enrolment made
#: weeks before is still found.
CONTEMPORANEOUS_DAYS = 30
#: A logged day may lead a claimed day by one: the log keeps UTC, a site its local date.
CLOCK_DAYS = 1
#: Above this share of late entries a trial was entered after the fact (a migration or a
#: back-fill): one finding says so instead of one per entry, whose log order means nothing.
RETROSPECTIVE_SHARE = 0.5


def dated_entries(
    enrolment: pd.DataFrame, history: pd.DataFrame, logged: pd.DataFrame
) -> pd.DataFrame:
    """Enrolments, consents and withdrawals with their claimed date, log index, logging time
    and lag in days (logging day − claimed day)."""
    enrolment, history = _with_trial(enrolment), _with_trial(history)
    at = {int(i): t for i, t in zip(logged["idx"], logged["logged_at"], strict=True)}
    rows = [
        dict(
            trial_id=r["trial_id"],
            kind="enrolment",
            subject=r["subject"],
            claimed=r["enrolled"],
            idx=int(r["enrolled_index"]),
        )
        for r in records(enrolment)
    ] + [
        dict(
            trial_id=r["trial_id"],
            kind=r["kind"],
            subject=r["subject"],
            claimed=r["dated"],
            idx=int(r["idx"]),
        )
        for r in records(history)
    ]
    for row in rows:
        row["logged_at"] = at.get(row["idx"])
        claimed, day = _day(row["claimed"]), _day(row["logged_at"])
        row["lag_days"] = (day - claimed).days if claimed and day else None
    columns = ["trial_id", "kind", "subject", "claimed", "idx", "logged_at", "lag_days"]
    return pd.DataFrame.from_records(rows, columns=columns)


def lag_distribution(entries: pd.DataFrame, tolerance_days: int) -> pd.DataFrame:
    """Per trial and kind: entries, median, p90, p95 and largest lag, and how many are late."""
    rows = []
    for (tid, kind), group in entries.dropna(subset=["lag_days"]).groupby(["trial_id", "kind"]):
        lags = group["lag_days"].astype(float)
        rows.append(
            dict(
                trial_id=tid,
                kind=kind,
                entries=len(lags),
                median_days=float(lags.median()),
                p90_days=float(lags.quantile(0.9)),
                p95_days=float(lags.quantile(0.95)),
                max_days=int(lags.max()),
                late=int((lags > tolerance_days).sum()),
                tolerance_days=tolerance_days,
            )
        )
    return pd.DataFrame.from_records(rows, columns=R9_LAG_COLUMNS)


def _enrolled_at(entries: pd.DataFrame) -> dict[tuple[Any, Any], tuple[int | None, date | None]]:
    enrolled = entries[entries["kind"] == "enrolment"]
    return {
        (r["trial_id"], r["subject"]): (int(r["idx"]), _day(r["claimed"]))
        for r in records(enrolled)
    }


def r9_contemporaneous(
    entries: pd.DataFrame, tolerance_days: int = CONTEMPORANEOUS_DAYS
) -> pd.DataFrame:
    """R9 (ALCOA+ contemporaneous; ICH E6(R3)): an entry logged more than `tolerance_days`
    after the date it claims is a late entry; a late consent dated on or before its subject's
    enrolment but logged after the enrolment entry is possibly back-dated (it covers an
    enrolment made without it); a claimed date after the logging day is impossible. A trial
    most of whose entries are late was entered retrospectively: said once, per entry nothing.
    `entries` is `dated_entries(…)`."""
    rows: list[dict[str, Any]] = []
    enrolled_at = _enrolled_at(entries)
    for tid in sorted(set(entries["trial_id"])):
        mine = records(entries[entries["trial_id"] == tid].sort_values("idx"))
        lags = [r["lag_days"] for r in mine if not _missing(r["lag_days"])]
        late = [lag for lag in lags if lag > tolerance_days]
        retrospective = bool(lags) and len(late) > RETROSPECTIVE_SHARE * len(lags)
        if retrospective:
            what = (
                f"entered retrospectively: {len(late)} of {len(lags)} dated entries were logged "
                f"more than {tolerance_days} days after their dates (up to {max(late)} days); "
                "whether consent came before enrolment cannot be told from the log"
            )
            values = dict(lag_days=max(late), late_entries=len(late), entries=len(lags))
            rows.append(_row("R9", "medium", tid, "retrospective-entry", what, **values))
        for r in mine:
            lag = r["lag_days"]
            if _missing(lag):
                continue
            values = dict(
                kind=r["kind"],
                subject=r["subject"],
                claimed=r["claimed"],
                idx=r["idx"],
                logged_at=r["logged_at"],
                lag_days=lag,
            )
            name = f"{r['kind']} of subject {r['subject']} dated {r['claimed']}"
            if lag < -CLOCK_DAYS:
                what = f"{name} was logged {-lag} days before that date ({r['logged_at'][:10]})"
                rows.append(_row("R9", "high", tid, "dated-after-logging", what, **values))
                continue
            if retrospective or lag <= tolerance_days:
                continue
            what = f"{name} was logged {lag} days later ({r['logged_at'][:10]})"
            enrol_idx, enrol_day = enrolled_at.get((tid, r["subject"]), (None, None))
            claimed = _day(r["claimed"])
            covers = (
                r["kind"] == "consent"
                and enrol_idx is not None
                and enrol_idx < r["idx"]
                and enrol_day is not None
                and claimed is not None
                and claimed <= enrol_day
            )
            if covers:
                what += f", after the enrolment entry {enrol_idx} it predates: possibly back-dated"
                rows.append(_row("R9", "high", tid, "possibly-back-dated", what, **values))
            else:
                what += ": late entry"
                rows.append(_row("R9", "medium", tid, "late-entry", what, **values))
        if lags and not late and not any(row["trial_id"] == tid for row in rows):
            what = f"all {len(lags)} dated entries logged within {tolerance_days} days"
            rows.append(_row("R9", OK, tid, "contemporaneous", what, entries=len(lags)))
    return _frame(rows, R9_COLUMNS)
