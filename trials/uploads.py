"""Upload records: who stored which payload, a quota per party and day, expiry of unused ones."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from provenance.log.rows import Rows
from provenance.log.statements import format_timestamp, parse_timestamp
from provenance.log.store.engine import query, write_transaction
from provenance.log.store.schema import scrub
from trials.errors import UploadQuotaExceeded
from trials.rows import TRIAL_PAYLOAD_SUMMARY

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


@dataclass(frozen=True)
class ReadAtUpload:
    """What the server found reading an uploaded dataset: what the statement submitting it
    must state."""

    format: str
    content_commitment: str  # SHA-256(salt ‖ content hash): what the statement commits to
    row_count: int
    column_count: int
    domains: tuple[str, ...]


def record_summary(conn: Connection, commitment: str, read: ReadAtUpload) -> None:
    """Store what reading the dataset found, in the transaction that stores its bytes (once:
    the bytes under a commitment never change). The statement that submits it is then checked
    against this row, in whichever process appends it, not by reading a dataset of up to a
    gigabyte again while it holds the log's write lock."""
    if query(conn, "SELECT 1 FROM trial_payload_summary WHERE commitment = ?", (commitment,)):
        return
    insert = (
        "INSERT INTO trial_payload_summary (commitment, format, content_commitment, row_count, "
        "column_count, domains) VALUES (?, ?, ?, ?, ?, ?)"
    )
    values = (
        commitment,
        read.format,
        read.content_commitment,
        read.row_count,
        read.column_count,
        json.dumps(list(read.domains)),
    )
    conn.exec_driver_sql(_sql(conn, insert), values)


def read_at_upload(rows: Rows, commitment: str, fmt: str) -> ReadAtUpload | None:
    """The stored reading of these bytes as `fmt`; None if there is none (bytes uploaded before
    readings were stored, read as another format, or erased: the caller reads the payload)."""
    row = TRIAL_PAYLOAD_SUMMARY.get(rows, (commitment,))
    if row is None or row["erased_index"] is not None or row["format"] != fmt:
        return None
    assert row["content_commitment"] is not None and row["domains"] is not None
    assert row["row_count"] is not None and row["column_count"] is not None
    return ReadAtUpload(
        fmt,
        row["content_commitment"],
        int(row["row_count"]),
        int(row["column_count"]),
        tuple(json.loads(row["domains"])),
    )


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
                for table in ("trial_payload", "trial_payload_summary", "trial_upload"):
                    delete = f"DELETE FROM {table} WHERE commitment = ?"
                    conn.exec_driver_sql(_sql(conn, delete), keys)
    if unused:
        scrub(engine, ["trial_payload", "trial_payload_summary"])
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
