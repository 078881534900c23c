"""EPCIS capture jobs (REST binding): each capture entry of the log is a job, finished when made.

Capture is synchronous and all-or-nothing, so a job exists only once its document is logged:
it is the log entry, named by its index; the `capture_job` projection row, written by the same
entry, files it under the signing party."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from provenance.log.store.engine import query
from provenance.supply.capture import UNVERIFIED_MARK

#: The only behaviour on error this service offers: a document is captured whole or not at all.
ERROR_BEHAVIOUR = "rollback"


@dataclass(frozen=True)
class CaptureJob:
    index: int
    party: str  # GLN of the party whose key signed the document
    logged_at: str


def job(conn: Connection, index: int) -> CaptureJob | None:
    """The capture job of the entry at `index`; None if that entry is not a capture."""
    rows = query(conn, "SELECT idx, gln, logged_at FROM capture_job WHERE idx = ?", (index,))
    return CaptureJob(int(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None


def jobs(conn: Connection, party: str | None, after: int, limit: int) -> list[CaptureJob]:
    """Capture jobs after entry `after`, oldest first: those `party` signed (None: every one).
    By key on `capture_job` (a party's jobs by its index), as fast at ten million entries as
    at ten."""
    sql = "SELECT idx, gln, logged_at FROM capture_job WHERE idx > ?"
    params: list[object] = [after]
    if party is not None:
        sql += " AND gln = ?"
        params.append(party)
    rows = query(conn, f"{sql} ORDER BY idx LIMIT {int(limit)}", tuple(params))
    return [CaptureJob(int(idx), str(gln), str(at)) for idx, gln, at in rows]


def unverified_claims(conn: Connection, index: int) -> int:
    """How many events the entry at `index` stored as unverified claims (packs of no batch here).

    The mark cannot come from the document: capture refuses events that carry it."""
    sql = "SELECT count(*) FROM epcis_event WHERE idx = ? AND event LIKE ?"
    ((count,),) = query(conn, sql, (index, f"%{UNVERIFIED_MARK}%"))
    return int(count)


def job_json(found: CaptureJob) -> dict[str, Any]:
    """The binding's CaptureJob object: finished, successful (a refused document is no job)."""
    return {
        "captureID": str(found.index),
        "createdAt": found.logged_at,
        "finishedAt": found.logged_at,
        "running": False,
        "success": True,
        "captureErrorBehaviour": ERROR_BEHAVIOUR,
        "errors": [],
    }
