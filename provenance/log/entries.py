"""The entry format: the bytes a leaf hash covers, and an entry read back as its statement."""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from provenance.log.canonical import canonical_bytes, parse_json
from provenance.log.errors import BadEnvelope
from provenance.log.personality import Registry
from provenance.log.signing import Envelope, parse_envelope
from provenance.log.statements import Statement
from provenance.log.store import logdb

#: The `prev` of entry 0, which follows no leaf.
ZERO_HASH_HEX = "0" * 64


def entry_bytes(
    index: int, logged_at: str, prev_hex: str, envelope: Envelope, *, detached: bool = False
) -> bytes:
    """The bytes the tiles carry and the leaf hash covers."""
    return canonical_bytes(
        {
            "index": index,
            "logged_at": logged_at,
            "prev": prev_hex,
            "envelope": envelope.to_json(detached=detached),
        }
    )


#: The bytes of a detached payload by its SHA-256, or None if the source lacks them.
PayloadFetch = Callable[[bytes], "bytes | None"]


def open_entry(
    conn: Connection, entry: dict[str, Any], registry: Registry
) -> tuple[Envelope, Statement]:
    """The envelope and statement of a decoded entry, fetching a detached payload."""
    return open_entry_with(functools.partial(logdb.payload_data, conn), entry, registry)


def open_entry_with(
    fetch: PayloadFetch, entry: dict[str, Any], registry: Registry
) -> tuple[Envelope, Statement]:
    """The envelope and statement of a decoded entry; a detached payload comes from `fetch`."""
    envelope_json = entry["envelope"]
    payload = None
    if isinstance(envelope_json, dict) and "payloadSha256" in envelope_json:
        payload = fetch(bytes.fromhex(str(envelope_json["payloadSha256"])))
        if payload is None:
            raise BadEnvelope("the entry's detached payload is missing from the payload store")
    envelope = parse_envelope(
        envelope_json, payload_types=registry.payload_types, detached_payload=payload
    )
    return envelope, registry.statement(envelope)


def decode_entry(data: bytes, registry: Registry) -> dict[str, Any]:
    """An entry's JSON with its statement decoded, for display."""
    entry: dict[str, Any] = parse_json(data)
    envelope = entry["envelope"]
    if "payloadSha256" in envelope:  # a detached payload, served at /log/payload/<sha256>
        codec = registry.codecs.get(str(envelope.get("payloadType")))
        kind = codec.kind if codec is not None else None
        entry["statement"] = {"kind": kind, "payloadSha256": envelope["payloadSha256"]}
    else:
        entry["statement"] = parse_json(base64.b64decode(envelope["payload"]))
    return entry
