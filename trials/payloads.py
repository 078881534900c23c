"""Off-log payloads: stored by salted commitment, so an erasure leaves nothing personal behind."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine

from provenance.errors import TooLarge
from provenance.log.errors import BadStatement
from provenance.log.statements import format_timestamp
from provenance.log.store.engine import query, write_transaction
from trials.dataset_files import dataset_format_of_upload, summarise
from trials.dataset_sources import Source
from trials.datasets import DatasetSummary
from trials.uploads import ReadAtUpload, record_summary, record_upload

SALT_BYTES = 32
#: A payload is kept as one database value: SQLite holds at most 10^9 bytes in one (its default
#: SQLITE_MAX_LENGTH), PostgreSQL 1 GiB.
STORABLE = 1_000_000_000
#: The largest upload, in bytes: environment PROVENANCE_TRIAL_MAX_PAYLOAD, default 900 MiB.
LIMIT_VARIABLE = "PROVENANCE_TRIAL_MAX_PAYLOAD"
_CHUNK = 1 << 20


def payload_limit(value: str | None) -> int:
    """The upload limit a setting names; ValueError for one that is not 1 to `STORABLE` bytes."""
    if value is None or not value.strip():
        return 900 * 1024 * 1024
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= STORABLE:
        raise ValueError(f"{LIMIT_VARIABLE} must be a number of bytes from 1 to {STORABLE}")
    return limit


MAX_PAYLOAD = payload_limit(os.environ.get(LIMIT_VARIABLE))


def commitment(salt: bytes, data: bytes) -> str:
    """SHA-256(salt ‖ bytes): binds the log to the bytes without revealing or confirming them."""
    return hashlib.sha256(salt + data).hexdigest()


def commitment_of_file(salt: bytes, path: Path) -> str:
    """The same commitment for a file, read in chunks."""
    digest = hashlib.sha256(salt)
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_commitment(salt: bytes, content_hash: str) -> str:
    """The same salted binding for a dataset's canonical content hash."""
    return hashlib.sha256(salt + bytes.fromhex(content_hash)).hexdigest()


def read_at(salt: bytes, summary: DatasetSummary) -> ReadAtUpload:
    """What a statement about these bytes (stored under `salt`) must state."""
    return ReadAtUpload(
        summary.format,
        content_commitment(salt, summary.content_hash),
        summary.row_count,
        summary.column_count,
        summary.domains,
    )


def parse_salt(value: str | None) -> bytes:
    try:
        salt = bytes.fromhex(value or "")
    except ValueError:
        salt = b""
    if len(salt) != SALT_BYTES:
        raise BadStatement(f"the salt is {SALT_BYTES} random bytes in hex (X-Salt header)")
    return salt


def _chunks(data: bytes | IO[bytes]) -> Iterator[bytes | memoryview]:
    if isinstance(data, bytes):
        view = memoryview(data)
        for start in range(0, len(view), _CHUNK):
            yield view[start : start + _CHUNK]
        return
    yield from iter(lambda: data.read(_CHUNK), b"")


#: How much of an upload is looked at to tell Dataset-JSON from other JSON.
HEAD_BYTES = 64 * 1024


def store_payload(
    engine: Engine,
    data: bytes | IO[bytes],
    salt: bytes,
    media_type: str,
    *,
    party: str | None = None,
    quota: int | None = None,
) -> dict[str, Any]:
    """Keep the bytes under their commitment (idempotent), recording `party` as their uploader
    within its `quota` (bytes per 24 hours; None: no limit, for the operator's own seeding). The
    statement that uses them comes later, signed by the party, and is checked against them.

    The bytes are spooled to a temporary file while they are hashed, and a dataset (by its
    media type, `DATASET_MEDIA_TYPES`; JSON only if it looks like Dataset-JSON) is read through
    from it: a file that is
    not a readable dataset is refused (422) and nothing is kept, on disk or in the database."""
    with tempfile.NamedTemporaryFile(prefix="provenance-upload-") as spool:
        key_digest, digest, size = hashlib.sha256(salt), hashlib.sha256(), 0
        for chunk in _chunks(data):
            size += len(chunk)
            if size > MAX_PAYLOAD:
                raise TooLarge(f"payloads are at most {MAX_PAYLOAD} bytes", limit=MAX_PAYLOAD)
            key_digest.update(chunk)
            digest.update(chunk)
            spool.write(chunk)
        spool.flush()
        spool.seek(0)
        fmt = dataset_format_of_upload(media_type, spool.read(HEAD_BYTES))
        summary = None if fmt is None else summarise(Source.of_path(Path(spool.name)), fmt)
        key, sha256 = key_digest.hexdigest(), digest.hexdigest()
        now = datetime.now(UTC)
        with write_transaction(engine) as conn:
            if party is not None:
                record_upload(conn, party, key, size, quota, now)
            found = query(conn, "SELECT 1 FROM trial_payload WHERE commitment = ?", (key,))
            if not found:
                row = (key, salt, sha256, media_type[:100], size, format_timestamp(now))
                _insert(conn, row, spool)
            if summary is not None:
                record_summary(conn, key, read_at(salt, summary))
    return {"commitment": key, "sha256": sha256, "size": size}


def _insert(conn: Connection, row: tuple[Any, ...], spool: IO[bytes]) -> None:
    """Insert the payload's row with its bytes from the spool. On SQLite the bytes are written
    into a zero-filled value a chunk at a time (incremental blob I/O), so they are never held
    in memory whole; PostgreSQL takes them as one parameter."""
    key, salt, sha256, media_type, size, stored_at = row
    sqlite = conn.dialect.name == "sqlite"
    insert = (
        "INSERT INTO trial_payload (commitment, salt, sha256, media_type, data, size, stored_at) "
        f"VALUES (?, ?, ?, ?, {'zeroblob(?)' if sqlite else '?'}, ?, ?)"
    )
    spool.seek(0)
    if not sqlite:
        values = (key, salt, sha256, media_type, spool.read(), size, stored_at)
        conn.exec_driver_sql(insert.replace("?", "%s"), values)
        return
    conn.exec_driver_sql(insert, (key, salt, sha256, media_type, size, size, stored_at))
    (rowid,) = query(conn, "SELECT rowid FROM trial_payload WHERE commitment = ?", (key,))[0]
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    with driver.blobopen("trial_payload", "data", rowid) as blob:
        for chunk in iter(lambda: spool.read(_CHUNK), b""):
            blob.write(chunk)
