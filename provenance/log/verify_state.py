"""The replay state a verification stores to resume from, as canonical JSON, and back.

What is stored is as trustworthy as the database it sits in: a resumed verification checks it
against the signed checkpoint at its size and the stored entries at its edge, and `--full`
checks everything again without it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict, dataclass, fields
from typing import Any

from provenance.log.canonical import canonical_bytes, parse_json
from provenance.log.identity import KeyRecord, PartyRecord, PersonRecord
from provenance.log.personality import Registry
from provenance.log.profile import LogProfile
from provenance.log.replay import ResumePoint
from provenance.log.store.projection import MemoryView

FORMAT = 1


@dataclass(frozen=True)
class VerifiedState:
    """Where a verification that found the log intact stopped, and for which log and rules."""

    point: ResumePoint
    root: bytes
    origin: str
    registry: str  # fingerprint of the kinds and payload types it replayed with
    full_size: int  # the last verification that checked every entry …
    full_at: str  # … and when it finished


def registry_fingerprint(registry: Registry) -> str:
    """What replaying an entry depends on besides the log: its kinds, payload types, roles."""
    facts = {
        "kinds": sorted(registry.kinds),
        "payload_types": sorted(registry.payload_types),
        "roles": sorted(registry.roles),
    }
    return hashlib.sha256(canonical_bytes(facts)).hexdigest()


def savable(point: ResumePoint) -> bool:
    """Identity kinds change parties, keys and people only; rows elsewhere are not kept."""
    return not point.view.tables


def encode(state: VerifiedState) -> str:
    point = state.point
    view = point.view
    keys = [
        {**asdict(k), "public_key": base64.b64encode(k.public_key).decode()}
        for k in view.keys.values()
    ]
    document = {
        "format": FORMAT,
        "origin": state.origin,
        "registry": state.registry,
        "size": point.size,
        "root": state.root.hex(),
        "frontier": [digest.hex() for digest in point.frontier],
        "prev": point.prev,
        "last_at": point.last_at,
        "profile": asdict(point.profile) if point.profile is not None else None,
        "full_size": state.full_size,
        "full_at": state.full_at,
        "parties": sorted(
            ({**asdict(p), "roles": list(p.roles)} for p in view.parties.values()),
            key=lambda p: str(p["gln"]),
        ),
        "keys": sorted(keys, key=lambda k: str(k["key_id"])),
        "people": sorted((asdict(p) for p in view.people.values()), key=lambda p: p["key_id"]),
    }
    return canonical_bytes(document).decode()


#: The exact Python type of each declared field type of the records (bool is not an int here).
_TYPES: dict[str, type] = {"str": str, "int": int, "bool": bool, "bytes": bytes}
_TYPES["tuple[str, ...]"] = tuple


def _record(kind: type[Any], values: object, **decode: Any) -> Any:
    """A record dataclass from its dict, refusing other members and wrongly typed values."""
    if not isinstance(values, dict) or set(values) != {f.name for f in fields(kind)}:
        raise ValueError(f"a stored {kind.__name__} has other members")
    converted = {**values, **{name: fn(values[name]) for name, fn in decode.items()}}
    for f in fields(kind):
        declared = str(f.type)
        value = converted[f.name]
        if value is None and declared.endswith(" | None"):
            continue
        if type(value) is not _TYPES[declared.removesuffix(" | None")]:
            raise ValueError(f"{kind.__name__}.{f.name} is not a {declared}")
    return kind(**converted)


def _roles(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(role, str) for role in value):
        raise ValueError("roles are a list of strings")
    return tuple(value)


def _der(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("a public key is base64")
    return base64.b64decode(value, validate=True)


def _hash(value: object) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise ValueError("a hash is 64 hex digits")
    return bytes.fromhex(value)


def decode(text: str, key_columns: Any) -> VerifiedState:
    """The state `encode` wrote; ValueError (or KeyError, TypeError) if it is anything else."""
    doc = parse_json(text)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a format-{FORMAT} verification state")
    view = MemoryView(key_columns)
    for party in doc["parties"]:
        record = _record(PartyRecord, party, roles=_roles)
        view.parties[record.gln] = record
    for key in doc["keys"]:
        record = _record(KeyRecord, key, public_key=_der)
        view.keys[record.key_id] = record
    for person in doc["people"]:
        record = _record(PersonRecord, person)
        view.people[record.key_id] = record
    profile = doc["profile"]
    size, last_at, prev = doc["size"], doc["last_at"], doc["prev"]
    if not isinstance(size, int) or not isinstance(last_at, str) or not isinstance(prev, str):
        raise ValueError("size, last_at and prev have other types")
    point = ResumePoint(
        size,
        [_hash(digest) for digest in doc["frontier"]],
        prev,
        last_at,
        _record(LogProfile, profile) if profile is not None else None,
        view,
    )
    full_size, full_at = doc["full_size"], doc["full_at"]
    if not isinstance(full_size, int) or not isinstance(full_at, str):
        raise ValueError("full_size and full_at have other types")
    return VerifiedState(
        point, _hash(doc["root"]), str(doc["origin"]), str(doc["registry"]), full_size, full_at
    )
