"""Off-log payloads: stored by salted commitment, so an erasure leaves nothing personal behind."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine

from provenance.errors import TooLarge
from provenance.log.errors import BadStatement
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import query, write_transaction

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


def store_payload(engine: Engine, data: bytes, salt: bytes, media_type: str) -> dict[str, Any]:
    """Keep the bytes under their commitment (idempotent); the statement that uses them comes
    later, signed by the party, and is checked against them."""
    if len(data) > MAX_PAYLOAD:
        raise TooLarge(f"payloads are at most {MAX_PAYLOAD} bytes", limit=MAX_PAYLOAD)
    key = commitment(salt, data)
    digest = hashlib.sha256(data).hexdigest()
    with write_transaction(engine) as conn:
        found = query(conn, "SELECT erased_index FROM trial_payload WHERE commitment = ?", (key,))
        if not found:
            conn.exec_driver_sql(
                "INSERT INTO trial_payload (commitment, salt, sha256, media_type, data, size, "
                "stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)".replace(
                    "?", "?" if conn.dialect.paramstyle == "qmark" else "%s"
                ),
                (key, salt, digest, media_type[:100], data, len(data), now_timestamp()),
            )
    return {"commitment": key, "sha256": digest, "size": len(data)}
