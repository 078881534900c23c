"""Upload records: who stored which payload, a quota per party and day, expiry of unused ones."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from provenance.log.statements import format_timestamp, parse_timestamp
from provenance.log.store.engine import query, write_transaction
from provenance.log.store.schema import scrub
from provenance.recent import Recent
from trials.errors import UploadQuotaExceeded

if TYPE_CHECKING:
    from trials.datasets import DatasetSummary

#: The quota counts what a party uploaded in this window, and uploads no statement names expire
#: after it.
WINDOW = timedelta(hours=24)
#: An upload is in use once a protocol or dataset version names it (`payload_trial` under rules 2;
#: logs under rules 1 have only the versions).
_NAMED = (
    "EXISTS (SELECT 1 FROM payload_trial n WHERE n.payload = p.commitment) "
    "OR EXISTS (SELECT 1 FROM protocol_version n WHERE n.payload = p.commitment) "
    "OR EXISTS (SELECT 1 FROM dataset_version n WHERE n.payload = p.commitment)"
)


def _sql(conn: Connection, sql: str) -> str:
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


#: How many datasets' summaries this process keeps after reading them at upload.
SUMMARIES_KEPT = 64
_summaries: Recent[tuple[str, str], DatasetSummary] = Recent(SUMMARIES_KEPT)


def remember_summary(commitment: str, summary: DatasetSummary) -> None:
    """Keep what reading a stored dataset found, under its payload commitment (SHA-256 of salt
    and bytes, so it stands for exactly those bytes): the statement that submits it is then
    checked against the summary, not by reading a dataset of up to a gigabyte again while it
    holds the log's write lock. Only this process keeps it; another reads the dataset again."""
    _summaries.put((commitment, summary.format), summary)


def summary_of(commitment: str, fmt: str) -> DatasetSummary | None:
    """The summary `remember_summary` kept for these bytes read as `fmt`, if any."""
    return _summaries.get((commitment, fmt))


def record_upload(
    conn: Connection, party: str, commitment: str, size: int, quota: int | None, now: datetime
) -> None:
    """Record that `party` uploaded `size` bytes under `commitment`, inside the write transaction
    that stores them; UploadQuotaExceeded if that takes the party past `quota` bytes in the last
    24 hours. The same party uploading the same bytes and salt again is charged once."""
    if uploaded_by(conn, commitment, party):
        return
    if quota is not None:
        _within_quota(conn, party, size, quota, now)
    conn.exec_driver_sql(
        _sql(
            conn,
            "INSERT INTO trial_upload (commitment, party, size, uploaded_at) VALUES (?, ?, ?, ?)",
        ),
        (commitment, party, size, format_timestamp(now)),
    )


def _within_quota(conn: Connection, party: str, size: int, quota: int, now: datetime) -> None:
    recent = query(
        conn,
        "SELECT uploaded_at, size FROM trial_upload WHERE party = ? AND uploaded_at > ? "
        "ORDER BY uploaded_at",
        (party, format_timestamp(now - WINDOW)),
    )
    used = sum(int(n) for _, n in recent)
    excess = used + size - quota
    if excess <= 0:
        return
    retry_after = None if size > quota else _seconds_until_freed(recent, excess, now)
    raise UploadQuotaExceeded(
        f"party {party} may upload {quota} bytes in 24 hours; it uploaded {used} and this "
        f"payload is {size}",
        quota=quota,
        used=used,
        size=size,
        retry_after=retry_after,
    )


def _seconds_until_freed(recent: list[tuple[str, int]], excess: int, now: datetime) -> int:
    """When enough of the window's uploads have aged out of it for `excess` more bytes."""
    freed = 0
    for uploaded_at, size in recent:
        freed += int(size)
        if freed >= excess:
            leaves = parse_timestamp(uploaded_at) + WINDOW
            return max(1, int((leaves - now).total_seconds()) + 1)
    raise AssertionError("the window's uploads exceed the quota by more than they hold")


def uploaded_by(conn: Connection, commitment: str, party: str) -> bool:
    return bool(
        query(
            conn,
            "SELECT 1 FROM trial_upload WHERE commitment = ? AND party = ?",
            (commitment, party),
        )
    )


@dataclass(frozen=True)
class Expired:
    uploads: int
    size: int  # bytes deleted


def expire_uploads(engine: Engine, older_than: timedelta = WINDOW) -> Expired:
    """Delete the payloads no statement names that were stored more than `older_than` ago, and
    scrub them from the database's files as an erasure is. A statement naming one later is
    refused (409): the party uploads the bytes again."""
    cutoff = format_timestamp(datetime.now(UTC) - older_than)
    with write_transaction(engine) as conn:
        # Under the log's write lock: no statement naming one of them can be appended meanwhile.
        unused = query(
            conn,
            f"SELECT p.commitment, p.size FROM trial_payload p "
            f"WHERE p.stored_at < ? AND NOT ({_NAMED})",
            (cutoff,),
        )
        if unused:
            keys = [(commitment,) for commitment, _ in unused]
            with _secure_delete(conn):
                for table in ("trial_payload", "trial_upload"):
                    delete = f"DELETE FROM {table} WHERE commitment = ?"
                    conn.exec_driver_sql(_sql(conn, delete), keys)
    if unused:
        scrub(engine, ["trial_payload"])
    return Expired(len(unused), sum(int(size) for _, size in unused))


@contextlib.contextmanager
def _secure_delete(conn: Connection) -> Iterator[None]:
    """On SQLite, zero the pages a deletion frees instead of only unlinking them."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        conn.exec_driver_sql("PRAGMA secure_delete = OFF")
