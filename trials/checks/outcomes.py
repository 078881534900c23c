"""R2 pre-specified vs reported outcomes (COMPare) and R3 outcome changes between versions."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from trials.checks.frames import (
    OK,
    R2_COLUMNS,
    R3_COLUMNS,
    _first_enrolment,
    _frame,
    _row,
    _versions,
    in_force,
    records,
)
from trials.queries import outcome_diff
from trials.reasons import disclosure
from trials.timeframes import same_time_frame


def reported_outcomes(results: pd.DataFrame, trial_id: object) -> dict[str, dict[str, Any]]:
    """Each outcome id's latest reported result, in log order."""
    latest: dict[str, dict[str, Any]] = {}
    for report in records(results[results["trial_id"] == trial_id].sort_values("idx")):
        for item in json.loads(report["outcomes"]):
            latest[str(item["id"])] = item
    return latest


def _same_frame(a: str, b: str) -> bool:
    return same_time_frame(a, b)


def _amended_in(
    later: list[dict[str, Any]], oid: str, present: bool, field: str = "", value: str = ""
) -> int | None:
    """The first later protocol version that made what was reported: the outcome present (and
    its `field` equal to `value`, if one is named) or absent."""
    for version in later:
        found = {o["id"]: o for o in version["outcomes"]}.get(oid)
        if found is None:
            matches = not present
        else:
            matches = present and (not field or _same_frame(str(found[field]), value))
        if matches:
            return int(version["version"])
    return None


def _r2_row(
    tid: object, category: str, oid: str, primary: bool, what: str, **values: Any
) -> dict[str, Any]:
    # COMPare's focus is the primary outcome: any discrepancy touching one weighs most; an
    # outcome reported without its type or time frame cannot be confirmed either way.
    if category == "correct":
        severity = OK
    elif category == "cannot assess":
        severity = "low"
    else:
        severity = "high" if primary else "medium"
    finding = category.replace(" ", "-")
    return _row("R2", severity, tid, finding, what, outcome=oid, category=category, **values)


def r2_compare(
    protocols: pd.DataFrame, enrolment: pd.DataFrame, results: pd.DataFrame
) -> pd.DataFrame:
    """R2 (COMPare): reported outcomes against those pre-specified in the protocol version in
    force at the first enrolment (v1 when none was logged before it); one row per outcome and
    discrepancy. Time frames are compared as time points ("Week 24" = "24 weeks"); an
    outcome reported without its type or time frame is "cannot assess", not "correct".
    `amended_in` is the later version that made the reported form, if any (R3 says whether
    that amendment disclosed it)."""
    rows: list[dict[str, Any]] = []
    for tid in sorted(set(results["trial_id"])):
        versions = _versions(protocols, tid)
        if not versions:
            continue
        pre = in_force(versions, _first_enrolment(enrolment, tid)) or versions[0]
        later = [v for v in versions if v["version"] > pre["version"]]
        reported = reported_outcomes(results, tid)
        for outcome in pre["outcomes"]:
            oid, kind, frame = outcome["id"], outcome["type"], outcome["time_frame"]
            got = reported.get(oid) or {}
            values: dict[str, Any] = dict(
                prespecified_version=pre["version"],
                prespecified_type=kind,
                prespecified_time_frame=frame,
                reported_type=got.get("type"),
                reported_time_frame=got.get("time_frame"),
            )
            primary = "primary" in (kind, got.get("type"))
            if not got:
                what = f"{oid} ({kind}, {frame}) pre-specified in v{pre['version']} is not reported"
                amended = _amended_in(later, oid, present=False)
                rows.append(
                    _r2_row(tid, "not reported", oid, primary, what, amended_in=amended, **values)
                )
                continue
            issues = 0
            if got.get("type") and got["type"] != kind:
                what = f"{oid} pre-specified {kind}, reported {got['type']}"
                amended = _amended_in(later, oid, True, "type", got["type"])
                rows.append(
                    _r2_row(tid, "switched", oid, primary, what, amended_in=amended, **values)
                )
                issues += 1
            if got.get("time_frame") and not _same_frame(got["time_frame"], frame):
                what = f"{oid} time frame pre-specified {frame}, reported {got['time_frame']}"
                amended = _amended_in(later, oid, True, "time_frame", got["time_frame"])
                category = "time frame changed"
                rows.append(
                    _r2_row(tid, category, oid, primary, what, amended_in=amended, **values)
                )
                issues += 1
            unsaid = [name for name in ("type", "time_frame") if not got.get(name)]
            if not issues and unsaid:
                what = f"{oid} reported without its {' or '.join(unsaid).replace('_', ' ')}"
                category = "cannot assess"
                rows.append(_r2_row(tid, category, oid, primary, what, amended_in=None, **values))
            elif not issues:
                what = f"{oid} reported as pre-specified"
                rows.append(_r2_row(tid, "correct", oid, primary, what, amended_in=None, **values))
        prespecified = {o["id"] for o in pre["outcomes"]}
        for oid, got in reported.items():
            if oid in prespecified:
                continue
            what = f"{oid} is reported but was not pre-specified in v{pre['version']}"
            values = dict(
                prespecified_version=pre["version"],
                reported_type=got.get("type"),
                reported_time_frame=got.get("time_frame"),
                amended_in=_amended_in(later, oid, present=True),
            )
            primary = got.get("type") == "primary"
            rows.append(_r2_row(tid, "added", oid, primary, what, **values))
    return _frame(rows, R2_COLUMNS)


def discloses(reason: object, outcome_id: str, titles: list[str]) -> bool:
    """Whether the reason says what changed in the outcome (`trials.reasons.disclosure`)."""
    return disclosure(reason, outcome_id, titles) == "disclosed"


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return f"{value['type']}: {value['title']} ({value['time_frame']})"
    return str(value)


def _new_values(change: dict[str, Any]) -> list[str]:
    """What the change made (a new type or time frame), which a reason may name."""
    to = change.get("to")
    if isinstance(to, dict):
        return [str(to["type"]), str(to["time_frame"])]
    return [str(to)] if to is not None else []


def r3_outcome_changes(protocols: pd.DataFrame, datasets: pd.DataFrame) -> pd.DataFrame:
    """R3: outcome changes between consecutive protocol versions, hidden unless the version's
    reason says what changed in that outcome (vague when it speaks of outcomes in general;
    "endpoints unchanged" and other negations disclose nothing), and whether they came after
    the first dataset was submitted."""
    rows: list[dict[str, Any]] = []
    for tid in sorted(set(protocols["trial_id"])):
        versions = _versions(protocols, tid)
        submitted = datasets.loc[datasets["trial_id"] == tid, "submitted_index"]
        first_data = None if submitted.empty else int(submitted.min())
        for before, after in zip(versions, versions[1:], strict=False):
            old = {o["id"]: o for o in before["outcomes"]}
            new = {o["id"]: o for o in after["outcomes"]}
            late = first_data is not None and int(after["committed_index"]) > first_data
            for change in outcome_diff(before["outcomes"], after["outcomes"]):
                oid = change["id"]
                titles = [o[oid]["title"] for o in (old, new) if oid in o]
                types = [o[oid]["type"] for o in (old, new) if oid in o]
                told = disclosure(
                    after["reason"], oid, titles, types=types, new_values=_new_values(change)
                )
                if told == "hidden":
                    severity, finding = "high", "hidden-outcome-change"
                elif told == "vague":
                    severity, finding = "medium", "vaguely-disclosed-outcome-change"
                elif late:
                    severity, finding = "medium", "change-after-data"
                else:
                    severity, finding = OK, "disclosed-outcome-change"
                what = f"v{after['version']}: {oid} {change['change']}"
                if "from" in change and "to" in change:
                    what += f" from {change['from']} to {change['to']}"
                if told == "hidden":
                    what += ", not explained by the version's reason"
                elif told == "vague":
                    what += "; the reason speaks of outcomes but not of this one"
                if late:
                    what += " (after the first dataset was submitted)"
                rows.append(
                    _row(
                        "R3",
                        severity,
                        tid,
                        finding,
                        what,
                        version=after["version"],
                        committed_index=after["committed_index"],
                        outcome=oid,
                        change=change["change"],
                        from_value=_describe(change["from"]) if "from" in change else None,
                        to_value=_describe(change["to"]) if "to" in change else None,
                        disclosure=told,
                        after_data=late,
                    )
                )
    return _frame(rows, R3_COLUMNS)
