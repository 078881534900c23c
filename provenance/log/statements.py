"""Statements: the signed JSON payloads of the log, their canonical bytes and timestamps."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from provenance.log.canonical import canonical_bytes, parse_json
from provenance.log.errors import BadStatement

REQUIRED_FIELDS = frozenset({"kind", "body", "issued_at", "signer"})
#: The log a statement is meant for (its origin); logs running rules 2 require it.
AUDIENCE_FIELD = "log"
_KIND = re.compile(r"^[a-z][a-z0-9]*(?:[.-][a-z][a-z0-9]*)*$")
_KEY_ID = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

#: How far a statement's issued_at may run ahead of the server clock.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def format_timestamp(moment: datetime) -> str:
    """UTC with millisecond precision and a `Z`, the only timestamp form statements use."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_timestamp() -> str:
    return format_timestamp(datetime.now(UTC))


def parse_timestamp(value: object, field: str = "timestamp") -> datetime:
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        raise BadStatement(f"{field} must be UTC as YYYY-MM-DDTHH:MM:SS.sssZ, got {value!r}")
    try:
        # fromisoformat is a C parse, ten times faster than strptime; strptime stays the
        # reference for what was ever accepted (it also reads non-ASCII digits).
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise BadStatement(f"{field} is not a real time: {value!r}") from exc


def is_key_id(value: object) -> bool:
    return isinstance(value, str) and _KEY_ID.match(value) is not None


@dataclass(frozen=True)
class Statement:
    """A decoded statement: what a party says, when, and with which key."""

    kind: str
    body: dict[str, Any]
    issued_at: str
    signer: str
    #: The origin of the log the signer meant this statement for (None: any log, rules 1).
    log: str | None = None
    #: A decoded form of the body computed while parsing (the events of an EPCIS document), so
    #: the costly part runs before the write lock; not part of the statement's identity.
    decoded: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        members = {
            "kind": self.kind,
            "body": self.body,
            "issued_at": self.issued_at,
            "signer": self.signer,
        }
        if self.log is not None:
            members[AUDIENCE_FIELD] = self.log
        return members

    def payload(self) -> bytes:
        return canonical_bytes(self.to_json())

    @property
    def issued(self) -> datetime:
        return parse_timestamp(self.issued_at, "issued_at")


def make_statement(
    kind: str,
    body: dict[str, Any],
    signer: str,
    issued_at: str | None = None,
    *,
    log: str | None = None,
) -> Statement:
    """Build a statement (client side) for the log whose origin is `log`; validates like the
    server does."""
    statement = Statement(kind, body, issued_at or now_timestamp(), signer, log)
    return statement_from_json(statement.to_json())


def statement_from_json(obj: Any) -> Statement:
    if not isinstance(obj, dict):
        raise BadStatement("a statement is a JSON object")
    missing = REQUIRED_FIELDS - obj.keys()
    extra = obj.keys() - REQUIRED_FIELDS - {AUDIENCE_FIELD}
    if missing or extra:
        raise BadStatement(
            "a statement has exactly the members kind, body, issued_at and signer, and the log "
            "it is meant for",
            missing=sorted(missing),
            unexpected=sorted(extra),
        )
    log = obj.get(AUDIENCE_FIELD)
    if log is not None and (not isinstance(log, str) or not log or len(log) > 255):
        raise BadStatement("log must be the origin of the log the statement is meant for")
    kind, body, issued_at, signer = obj["kind"], obj["body"], obj["issued_at"], obj["signer"]
    if not isinstance(kind, str) or not _KIND.match(kind) or len(kind) > 64:
        raise BadStatement(f"kind must be a dotted lowercase name, got {kind!r}")
    if not isinstance(body, dict):
        raise BadStatement("body must be a JSON object")
    parse_timestamp(issued_at, "issued_at")
    if not is_key_id(signer):
        raise BadStatement("signer must be the 64-hex-digit key id of the signing key")
    return Statement(kind, body, issued_at, signer, log)


def parse_statement(payload: bytes) -> Statement:
    """Decode a DSSE payload; it must be RFC 8785 already, so one statement has one digest."""
    statement = statement_from_json(parse_json(payload))
    if statement.payload() != payload:
        raise BadStatement("payload is not RFC 8785 canonical JSON")
    return statement
