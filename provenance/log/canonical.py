"""RFC 8785 canonical JSON bytes, strict JSON parsing and digests."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from provenance.errors import BadJSON
from provenance.log.errors import BadStatement


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 (JCS) serialisation; values JCS cannot represent exactly are a BadStatement."""
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise BadStatement(f"value cannot be canonicalised (RFC 8785): {exc}") from exc


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise BadJSON(f"duplicate object member {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise BadJSON(f"{name} is not JSON")


def parse_json(data: bytes | str) -> Any:
    """Parse JSON strictly: UTF-8 only, no duplicate members, no NaN/Infinity."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except BadJSON:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadJSON(f"not valid JSON: {exc}") from exc


def parse_json_object(data: bytes | str) -> dict[str, Any]:
    value = parse_json(data)
    if not isinstance(value, dict):
        raise BadJSON("expected a JSON object")
    return value
