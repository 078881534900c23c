"""R1 registration, R4 amendments and R5 results deadlines."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from trials.checks.frames import (
    OK,
    R1_COLUMNS,
    R4_COLUMNS,
    R5_COLUMNS,
    REGISTRATION_DAYS,
    _day,
    _first_enrolment,
    _frame,
    _missing,
    _row,
    one_year_after,
    records,
)
from trials.rules import is_boilerplate


def r1_registration(
    trials: pd.DataFrame, protocols: pd.DataFrame, enrolment: pd.DataFrame
) -> pd.DataFrame:
    """R1: protocol v1 is logged before the first enrolment, and the trial is registered at most
    21 days after it (FDAAA 801; ICMJE asks for registration before the first enrolment)."""
    rows: list[dict[str, Any]] = []
    for trial in records(trials):
        tid = trial["trial_id"]
        enrolled = enrolment[enrolment["trial_id"] == tid]
        first_index = _first_enrolment(enrolment, tid)
        if first_index is None:
            continue
        first_day = min(d for d in map(_day, enrolled["enrolled"]) if d is not None)
        v1 = protocols[(protocols["trial_id"] == tid) & (protocols["version"] == 1)]
        protocol = None if v1.empty else int(v1["committed_index"].iloc[0])
        registered = _day(trial["registered_at"])
        days = (registered - first_day).days if registered else None
        common = dict(
            first_enrolled=first_day.isoformat(),
            first_enrolment_index=first_index,
            protocol_index=protocol,
            registered_at=trial["registered_at"],
            days_after_first_enrolment=days,
        )
        if protocol is None or protocol > first_index:
            what = f"first subject enrolled at entry {first_index}, before protocol v1 ({protocol})"
            rows.append(_row("R1", "high", tid, "enrolment-before-protocol", what, **common))
        else:
            what = f"protocol v1 at entry {protocol}, before the first enrolment ({first_index})"
            rows.append(_row("R1", OK, tid, "protocol-before-enrolment", what, **common))
        if days is not None and days > REGISTRATION_DAYS:
            what = f"registered {days} days after the first enrolment ({first_day})"
            rows.append(_row("R1", "high", tid, "late-registration", what, **common))
        else:
            what = f"registered {days} days after the first enrolment ({first_day})"
            rows.append(_row("R1", OK, tid, "registered-in-time", what, **common))
    return _frame(rows, R1_COLUMNS)


def r4_amendments(
    protocols: pd.DataFrame, datasets: pd.DataFrame, events: pd.DataFrame
) -> pd.DataFrame:
    """R4: protocol amendments (v2 on) and dataset amendments must say why (21 CFR 11.10(e),
    ICH E6(R3) ALCOA+), and any made after a database lock needs a reviewer's eye."""
    amendments = [
        (
            r["trial_id"],
            f"protocol v{r['version']}",
            r["version"],
            r["committed_index"],
            r["reason"],
        )
        for r in records(protocols[protocols["version"] >= 2])
    ] + [
        (
            r["trial_id"],
            f"dataset {r['dataset']} v{r['version']}",
            r["version"],
            r["submitted_index"],
            r["reason"],
        )
        for r in records(datasets[datasets["version"] >= 2])
    ]
    locks = events[events["action"].isin(["lock", "unlock"])].sort_values("idx")
    rows: list[dict[str, Any]] = []
    for tid, item, version, index, reason in sorted(amendments, key=lambda a: (a[0], a[3])):
        earlier = locks[(locks["trial_id"] == tid) & (locks["idx"] < index)]
        locked = bool((earlier["action"] == "lock").any())
        unlocks = earlier.loc[earlier["action"] == "unlock", "reason"]
        values = dict(
            item=item,
            version=version,
            index=index,
            reason=None if _missing(reason) else reason,
            locked_before=locked,
            unlock_reason=None if unlocks.empty else unlocks.iloc[-1],
        )
        issues = 0
        if is_boilerplate(values["reason"]):
            what = f"{item}: the reason {values['reason']!r} explains nothing"
            rows.append(_row("R4", "medium", tid, "boilerplate-reason", what, **values))
            issues += 1
        if locked:
            what = f"{item} was made after the database was locked"
            rows.append(_row("R4", "high", tid, "after-lock", what, **values))
            issues += 1
        if not issues:
            rows.append(_row("R4", OK, tid, "amendment", f"{item}: reason given", **values))
    return _frame(rows, R4_COLUMNS)


def r5_results_due(trials: pd.DataFrame, results: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """R5: results are due within 12 months of primary completion (FDAAA 801, 42 CFR 11.44)."""
    rows: list[dict[str, Any]] = []
    for trial in records(trials):
        tid = trial["trial_id"]
        completion = _day(trial["primary_completion"])
        if completion is None:
            continue
        due = one_year_after(completion)
        dates = [d for d in map(_day, results.loc[results["trial_id"] == tid, "reported_at"]) if d]
        first = min(dates, default=None)
        reference = first or as_of
        values = dict(
            primary_completion=completion.isoformat(),
            due=due.isoformat(),
            first_reported=first.isoformat() if first else None,
            days_after_due=(reference - due).days,
        )
        if first is not None and first > due:
            what = (
                f"results reported {first}, {(first - due).days} days after they were due ({due})"
            )
            rows.append(_row("R5", "high", tid, "late-results", what, **values))
        elif first is not None:
            what = f"results reported {first} (due {due})"
            rows.append(_row("R5", OK, tid, "on-time", what, **values))
        elif as_of > due:
            what = f"no results reported; due {due}, overdue by {(as_of - due).days} days"
            rows.append(_row("R5", "high", tid, "overdue", what, **values))
        else:
            rows.append(_row("R5", OK, tid, "not-yet-due", f"results due {due}", **values))
    return _frame(rows, R5_COLUMNS)
