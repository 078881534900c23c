"""Reads over the trial projection: trials, protocol diffs, dataset histories, consent status."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from provenance.errors import NotFound
from provenance.log.store.engine import query, query_dicts
from trials.consent import consent_findings

#: What a public trial registry shows of a registration; nothing about data, consent or subjects.
REGISTRATION_COLUMNS = (
    "trial_id",
    "registry_name",
    "title",
    "phase",
    "sponsor",
    "planned_enrolment",
    "primary_completion",
    "registered_at",
)


#: Where a page of trials ended: (registration entry, trial id) of its last trial.
TrialKey = tuple[int, str]
#: Where a page of an audit trail ended: (entry index, position in the entry) of its last row.
EventKey = tuple[int, int]


def trials(
    conn: Connection, after: TrialKey | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The trials' public registration facts, in the order they were registered, after the
    trial `after` names; each row's `registered_index` is its place in that order."""
    columns = ", ".join(REGISTRATION_COLUMNS)
    where, params = (
        ("", ()) if after is None else ("WHERE (registered_index, trial_id) > (?, ?) ", after)
    )
    return query_dicts(
        conn,
        f"SELECT {columns}, registered_index FROM trial {where}"
        "ORDER BY registered_index, trial_id" + ("" if limit is None else f" LIMIT {int(limit)}"),
        params,
    )


def trial_key(row: dict[str, Any]) -> TrialKey:
    return int(row["registered_index"]), str(row["trial_id"])


def trial(conn: Connection, trial_id: str) -> dict[str, Any]:
    found = query_dicts(conn, "SELECT * FROM trial WHERE trial_id = ?", (trial_id,))
    if not found:
        raise NotFound(f"no trial {trial_id}")
    return found[0]


def outcome_diff(before: list[dict[str, str]], after: list[dict[str, str]]) -> list[dict[str, Any]]:
    """What a protocol version changed in the pre-specified outcomes, by outcome id."""
    old = {o["id"]: o for o in before}
    new = {o["id"]: o for o in after}
    changes: list[dict[str, Any]] = []
    for oid, outcome in new.items():
        if oid not in old:
            changes.append({"id": oid, "change": "added", "to": outcome})
            continue
        for field in ("type", "title", "time_frame"):
            if old[oid][field] != outcome[field]:
                changes.append(
                    {
                        "id": oid,
                        "change": f"{field} changed",
                        "from": old[oid][field],
                        "to": outcome[field],
                    }
                )
    changes += [{"id": oid, "change": "removed", "from": old[oid]} for oid in old if oid not in new]
    return changes


def protocols(conn: Connection, trial_id: str) -> list[dict[str, Any]]:
    rows = query_dicts(
        conn, "SELECT * FROM protocol_version WHERE trial_id = ? ORDER BY version", (trial_id,)
    )
    previous: list[dict[str, str]] = []
    for row in rows:
        row["outcomes"] = json.loads(row["outcomes"])
        row["changes"] = outcome_diff(previous, row["outcomes"]) if row["version"] > 1 else []
        previous = row["outcomes"]
    return rows


def datasets(conn: Connection, trial_id: str) -> list[dict[str, Any]]:
    """Every version of every dataset, oldest first, with who signed it and in what meaning."""
    return query_dicts(
        conn,
        "SELECT d.*, e.printed_name, e.meaning, e.key_id, er.reason AS erasure_reason, "
        "er.erased_at FROM dataset_version d "
        "JOIN trial_event e ON e.idx = d.submitted_index AND e.trial_id = d.trial_id "
        "LEFT JOIN erasure er ON er.payload = d.payload "
        "WHERE d.trial_id = ? ORDER BY d.dataset, d.version",
        (trial_id,),
    )


def history(conn: Connection, trial_id: str, about: str | None = None) -> list[dict[str, Any]]:
    """The audit trail: who, what, when, why, with the signature manifestation."""
    rows = query_dicts(
        conn, "SELECT * FROM trial_event WHERE trial_id = ? ORDER BY idx, seq", (trial_id,)
    )
    if about is not None:
        rows = [r for r in rows if r["subject"].startswith(about)]
    return rows


def history_after(
    conn: Connection, trial_id: str, after: EventKey | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` rows of the audit trail after the row `after` names, in the trail's order."""
    where = ""
    params: tuple[Any, ...] = (trial_id,)
    if after is not None:
        where, params = " AND (idx > ? OR (idx = ? AND seq > ?))", (trial_id, after[0], *after)
    return query_dicts(
        conn,
        f"SELECT * FROM trial_event WHERE trial_id = ?{where} ORDER BY idx, seq LIMIT {int(limit)}",
        params,
    )


def event_key(row: dict[str, Any]) -> EventKey:
    return int(row["idx"]), int(row["seq"])


def consent_status(
    conn: Connection, trial_id: str, subjects: Collection[str] | None = None
) -> dict[str, Any]:
    """Per-subject consent against enrolment and the protocol version in force, over `subjects`
    only if given (a site party's own)."""
    enrolments = query_dicts(
        conn, "SELECT subject, site, enrolled FROM enrolment WHERE trial_id = ?", (trial_id,)
    )
    records = query_dicts(
        conn,
        "SELECT subject, kind, protocol_version, dated FROM consent_record WHERE trial_id = ? "
        "ORDER BY idx, seq",
        (trial_id,),
    )
    if subjects is not None:
        enrolments = [row for row in enrolments if row["subject"] in subjects]
        records = [row for row in records if row["subject"] in subjects]
    enrolled = pd.DataFrame(enrolments, columns=["subject", "site", "enrolled"])
    latest: dict[str, dict[str, Any]] = {}
    first_consent: dict[str, str] = {}
    for record in records:
        latest[record["subject"]] = record
        if record["kind"] == "consent":
            first_consent.setdefault(record["subject"], record["dated"])
    consent = pd.DataFrame(
        [{"subject": s, "consented": d} for s, d in first_consent.items()],
        columns=["subject", "consented"],
    )
    reconsent_from = [
        int(v)
        for (v,) in query(
            conn,
            "SELECT version FROM protocol_version WHERE trial_id = ? AND reconsent = 1",
            (trial_id,),
        )
    ]
    needed = max(reconsent_from, default=0)
    withdrawn = sorted(s for s, r in latest.items() if r["kind"] == "withdrawal")
    stale = sorted(
        s
        for s, r in latest.items()
        if r["kind"] == "consent" and needed and int(r["protocol_version"]) < needed
    )
    findings = consent_findings(enrolled, consent) if len(enrolled) else []
    return {
        "enrolled": len(enrolled),
        "consented": len(first_consent),
        "withdrawn": withdrawn,
        "reconsent_required_from_version": needed or None,
        "needs_reconsent": stale,
        "findings": [vars(finding) for finding in findings],
    }


def payload_row(conn: Connection, commitment: str) -> dict[str, Any] | None:
    found = query_dicts(
        conn,
        "SELECT p.commitment, p.media_type, p.data, p.size, p.erased_index, e.reason, e.party, "
        "e.erased_at FROM trial_payload p LEFT JOIN erasure e ON e.payload = p.commitment "
        "WHERE p.commitment = ?",
        (commitment,),
    )
    return found[0] if found else None


def payload_bytes(conn: Connection, commitment: str) -> bytes | None:
    """A payload's stored bytes; None once erased (or never stored)."""
    row = payload_row(conn, commitment)
    return None if row is None or row["data"] is None else bytes(row["data"])
