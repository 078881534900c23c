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
from trials.reasons import reason_problem


def _logged_days(logged: pd.DataFrame | None) -> dict[int, date]:
    """Each entry's logging day by log index."""
    if logged is None:
        return {}
    pairs = zip(logged["idx"], map(_day, logged["logged_at"]), strict=True)
    return {int(i): d for i, d in pairs if d}


def _protocol_day(v1: pd.DataFrame, days: dict[int, date]) -> date | None:
    """The day protocol v1 was logged: from the log's entries, else its `committed_at`."""
    if v1.empty:
        return None
    found = days.get(int(v1["committed_index"].iloc[0]))
    if found is None and "committed_at" in v1.columns:
        found = _day(v1["committed_at"].iloc[0])
    return found


def _consent_order(
    tid: object, enrolled: pd.DataFrame, consent: pd.DataFrame
) -> tuple[dict[str, Any], str, str]:
    """Consent against enrolment for one trial: counts, finding and what, by claimed dates
    (consent on or before the enrolment day) and by log order (consent logged first)."""
    mine = consent[consent["trial_id"] == tid]
    first_day = {s: min(g) for s, g in _grouped(mine["subject"], map(_day, mine["consented"]))}
    first_idx: dict[Any, int] = {}
    if "idx" in mine.columns:
        first_idx = {s: min(g) for s, g in _grouped(mine["subject"], map(int, mine["idx"]))}
    late = missing = logged_after = 0
    for r in records(enrolled):
        day, consented = _day(r["enrolled"]), first_day.get(r["subject"])
        if consented is None:
            missing += 1
        elif day is not None and day < consented:
            late += 1
        at = first_idx.get(r["subject"])
        if at is not None and at > int(r["enrolled_index"]):
            logged_after += 1
    counts = dict(
        subjects=len(enrolled),
        enrolled_before_consent_date=late,
        without_consent=missing,
        consents_logged_after_enrolment=logged_after,
    )
    order = f"{logged_after} consents were logged after the subject's enrolment entry"
    if late or missing:
        what = (
            f"{late} of {len(enrolled)} subjects enrolled before their consent date and "
            f"{missing} without consent (R6 names them); {order}"
        )
        return counts, "consent-after-enrolment", what
    what = f"all {len(enrolled)} subjects consented on or before their enrolment date; {order}"
    return counts, "consent-before-enrolment", what


def _grouped(keys: Any, values: Any) -> list[tuple[Any, list[Any]]]:
    groups: dict[Any, list[Any]] = {}
    for key, value in zip(keys, values, strict=True):
        if value is not None:
            groups.setdefault(key, []).append(value)
    return list(groups.items())


def r1_registration(
    trials: pd.DataFrame,
    protocols: pd.DataFrame,
    enrolment: pd.DataFrame,
    consent: pd.DataFrame | None = None,
    logged: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """R1: protocol v1 is on the log before the first enrolment, judged both by log order and
    by date (the day v1 was logged against the first enrolment's claimed date); the trial is
    registered at most 21 days after the first enrolment (FDAAA 801; ICMJE asks for
    registration before it); and, with `consent` (trial_id, subject, consented, idx?), every
    subject consented on or before the enrolment date, with how many consents were logged
    after the enrolment entry. `logged` (idx, logged_at) gives each entry's logging time."""
    days = _logged_days(logged)
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
        protocol_day = _protocol_day(v1, days)
        registered = _day(trial["registered_at"])
        late_days = (registered - first_day).days if registered else None
        common = dict(
            first_enrolled=first_day.isoformat(),
            first_enrolment_index=first_index,
            protocol_index=protocol,
            protocol_logged=protocol_day.isoformat() if protocol_day else None,
            registered_at=trial["registered_at"],
            days_after_first_enrolment=late_days,
        )
        if protocol is None or protocol > first_index:
            what = f"first subject enrolled at entry {first_index}, before protocol v1 ({protocol})"
            rows.append(_row("R1", "high", tid, "enrolment-before-protocol", what, **common))
        elif protocol_day is not None and first_day < protocol_day:
            what = (
                f"first subject enrolled {first_day} by its date, before protocol v1 was logged "
                f"({protocol_day}); in log order v1 (entry {protocol}) comes first ({first_index})"
            )
            rows.append(_row("R1", "high", tid, "enrolled-before-protocol-date", what, **common))
        else:
            what = (
                f"protocol v1 at entry {protocol} (logged {protocol_day or 'on an unknown day'}), "
                f"before the first enrolment (entry {first_index}, dated {first_day})"
            )
            rows.append(_row("R1", OK, tid, "protocol-before-enrolment", what, **common))
        what = f"registered {late_days} days after the first enrolment ({first_day})"
        if late_days is not None and late_days > REGISTRATION_DAYS:
            rows.append(_row("R1", "high", tid, "late-registration", what, **common))
        else:
            rows.append(_row("R1", OK, tid, "registered-in-time", what, **common))
        if consent is not None:
            counts, finding, what = _consent_order(tid, enrolled, consent)
            severity = OK if finding == "consent-before-enrolment" else "high"
            rows.append(_row("R1", severity, tid, finding, what, **common, **counts))
    return _frame(rows, R1_COLUMNS)


def r4_amendments(
    protocols: pd.DataFrame,
    datasets: pd.DataFrame,
    events: pd.DataFrame,
    erasures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """R4: protocol amendments (v2 on), dataset amendments and, given `erasures` (trial_id,
    payload, erased_index, reason), payload erasures must say why (21 CFR 11.10(e), ICH E6(R3)
    ALCOA+), judged by `trials.reasons.reason_problem`; any made after a database lock needs a
    reviewer's eye."""
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
    if erasures is not None:
        amendments += [
            (
                r["trial_id"],
                f"erasure of payload {str(r['payload'])[:16]}…",
                None,
                r["erased_index"],
                r["reason"],
            )
            for r in records(erasures)
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
        problem = reason_problem(values["reason"])
        if problem is not None:
            what = f"{item}: the reason {values['reason']!r} explains nothing ({problem})"
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
