"""What every trial-check findings frame shares: its columns, severities and date helpers."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import pandas as pd

#: Every findings frame starts with these: `finding` is a stable code, `what` says it in words.
BASE = ["rule", "severity", "trial_id", "finding", "what"]
#: Severity of a row that records a passed check on an item worth listing (an outcome, an
#: amendment, a deadline); `findings()` leaves them out.
OK = "ok"
SEVERITIES = ("high", "medium", "low", OK)
CATEGORIES = (
    "correct",
    "not reported",
    "added",
    "switched",
    "time frame changed",
    "cannot assess",
)
REGISTRATION_DAYS = 21

R1_COLUMNS = [
    *BASE,
    *("first_enrolled", "first_enrolment_index", "protocol_index", "protocol_logged"),
    *("registered_at", "days_after_first_enrolment", "subjects", "enrolled_before_consent_date"),
    *("without_consent", "consents_logged_after_enrolment"),
]
R2_COLUMNS = [
    *BASE,
    *("outcome", "category", "prespecified_version", "prespecified_type", "reported_type"),
    *("prespecified_time_frame", "reported_time_frame", "amended_in"),
]
R3_COLUMNS = [
    *BASE,
    *("version", "committed_index", "outcome", "change", "from_value", "to_value"),
    *("disclosure", "after_data"),
]
R4_COLUMNS = [*BASE, "item", "version", "index", "reason", "locked_before", "unlock_reason"]
R5_COLUMNS = [*BASE, "primary_completion", "due", "first_reported", "days_after_due"]
R6_COLUMNS = [
    *BASE,
    *("subject", "site", "enrolled", "consented", "protocol_version", "in_force"),
]
R7_COLUMNS = [*BASE, "subject", "site", "enrolled", "activated", "subjects"]
R8_COLUMNS = [*BASE, "table", "key", "idx", "log_kind", "payload"]
R9_COLUMNS = [
    *BASE,
    *("kind", "subject", "claimed", "idx", "logged_at", "lag_days", "late_entries", "entries"),
]
R9_LAG_COLUMNS = [
    *("trial_id", "kind", "entries", "median_days", "p90_days", "p95_days", "max_days"),
    *("late", "tolerance_days"),
]


def findings(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows a reader must look at: everything but the passed checks."""
    return frame[frame["severity"] != OK]


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    # Object columns keep a missing version or date as None, and whole numbers as ints.
    rows = [{column: row.get(column) for column in columns} for row in rows]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def _row(
    rule: str, severity: str, trial_id: object, finding: str, what: str, **extra: Any
) -> dict[str, Any]:
    return dict(
        rule=rule, severity=severity, trial_id=trial_id, finding=finding, what=what, **extra
    )


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts keyed by column name."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _day(value: object) -> date | None:
    """A date from ISO text: a date or a log timestamp (its first ten characters)."""
    return None if _missing(value) else date.fromisoformat(str(value)[:10])


def _with_trial(frame: pd.DataFrame) -> pd.DataFrame:
    """Frames straight from clindata carry no trial id: they are one trial."""
    return frame if "trial_id" in frame.columns else frame.assign(trial_id="")


def one_year_after(day: date) -> date:
    return day.replace(year=day.year + 1, day=28 if (day.month, day.day) == (2, 29) else day.day)


def _versions(protocols: pd.DataFrame, trial_id: object) -> list[dict[str, Any]]:
    rows = records(protocols[protocols["trial_id"] == trial_id].sort_values("version"))
    for row in rows:
        row["outcomes"] = json.loads(row["outcomes"])
    return rows


def _first_enrolment(enrolment: pd.DataFrame, trial_id: object) -> int | None:
    indexes = enrolment.loc[enrolment["trial_id"] == trial_id, "enrolled_index"]
    return None if indexes.empty else int(indexes.min())


def in_force(versions: list[dict[str, Any]], index: int | None) -> dict[str, Any] | None:
    """The last version committed before log entry `index`."""
    before = [v for v in versions if index is not None and int(v["committed_index"]) < index]
    return before[-1] if before else None
