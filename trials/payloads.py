"""Off-log payloads: stored by salted commitment, so an erasure leaves nothing personal behind."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from provenance.errors import TooLarge
from provenance.log.errors import BadStatement
from provenance.log.statements import format_timestamp
from provenance.log.store.engine import query, write_transaction
from trials.uploads import record_upload

SALT_BYTES = 32
MAX_PAYLOAD = 32 * 1024 * 1024


def commitment(salt: bytes, data: bytes) -> str:
    """SHA-256(salt ‖ bytes): binds the log to the bytes without revealing or confirming them."""
    return hashlib.sha256(salt + data).hexdigest()


def content_commitment(salt: bytes, content_hash: str) -> str:
    """The same salted binding for a dataset's canonical content hash."""
    return hashlib.sha256(salt + bytes.fromhex(content_hash)).hexdigest()


def parse_salt(value: str | None) -> bytes:
    try:
        salt = bytes.fromhex(value or "")
    except ValueError:
        salt = b""
    if len(salt) != SALT_BYTES:
        raise BadStatement(f"the salt is {SALT_BYTES} random bytes in hex (X-Salt header)")
    return salt


def store_payload(
    engine: Engine,
    data: bytes,
    salt: bytes,
    media_type: str,
    *,
    party: str | None = None,
    quota: int | None = None,
) -> dict[str, Any]:
    """Keep the bytes under their commitment (idempotent), recording `party` as their uploader
    within its `quota` (bytes per 24 hours; None: no limit, for the operator's own seeding). The
    statement that uses them comes later, signed by the party, and is checked against them."""
    if len(data) > MAX_PAYLOAD:
        raise TooLarge(f"payloads are at most {MAX_PAYLOAD} bytes", limit=MAX_PAYLOAD)
    key = commitment(salt, data)
    digest = hashlib.sha256(data).hexdigest()
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        if party is not None:
            record_upload(conn, party, key, len(data), quota, now)
        found = query(conn, "SELECT erased_index FROM trial_payload WHERE commitment = ?", (key,))
        if not found:
            conn.exec_driver_sql(
                "INSERT INTO trial_payload (commitment, salt, sha256, media_type, data, size, "
                "stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)".replace(
                    "?", "?" if conn.dialect.paramstyle == "qmark" else "%s"
                ),
                (key, salt, digest, media_type[:100], data, len(data), format_timestamp(now)),
            )
    return {"commitment": key, "sha256": digest, "size": len(data)}
