"""Parties, roles and keys: the pure rules of registration, rotation and revocation."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Protocol

from provenance.log.body import exact_members as _exact_members
from provenance.log.body import gln as _gln
from provenance.log.body import text as _text
from provenance.log.errors import BadKey, BadStatement, Conflict, RevokedKey, UnknownKey, WrongRole
from provenance.log.profile import EntryContext, genesis_profile
from provenance.log.signing import key_id as compute_key_id
from provenance.log.signing import parse_public_key
from provenance.log.statements import Statement

#: The role of the registry authority named by the genesis entry; party roles come from the
#: log's personalities.
AUTHORITY = "authority"


@dataclass(frozen=True)
class PartyRecord:
    gln: str
    name: str
    roles: tuple[str, ...]
    registered_index: int


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    gln: str
    public_key: bytes  # DER SubjectPublicKeyInfo
    added_index: int
    added_at: str
    retired_index: int | None = None  # rotated out by this entry
    retired_at: str | None = None
    revoked_from: str | None = None  # effective time of a revocation
    revoked_index: int | None = None
    revocation_reason: str | None = None

    def refusal(self, at: str, rules: int = 1) -> str | None:
        """Why this key may not sign at time `at` (fixed-width UTC strings compare as times).

        Under rules 2 a rotation may be pending: the new key signs from its `added_at`, the old
        one until its `retired_at` (the log's times never go backwards under rules 2)."""
        revoked = self.revoked_from is not None and self.revoked_from <= at
        if rules >= 2 and revoked:
            return f"key is revoked from {self.revoked_from} (entry {self.revoked_index})"
        if rules >= 2 and at < self.added_at:
            return f"key becomes valid at {self.added_at} (a rotation by entry {self.added_index})"
        if self.retired_at is not None and (rules < 2 or self.retired_at <= at):
            return f"key was rotated out by entry {self.retired_index} at {self.retired_at}"
        if revoked:
            return f"key is revoked from {self.revoked_from} (entry {self.revoked_index})"
        return None

    def pending(self, at: str) -> bool:
        """Added by a rotation that has not taken effect at time `at`."""
        return at < self.added_at


@dataclass(frozen=True)
class PersonRecord:
    """A person acting for a party, through one of their keys (each key has its record)."""

    key_id: str
    gln: str
    person: str  # the party's own identifier for the person (e.g. an employee number)
    name: str  # the printed name of their electronic signatures (21 CFR 11.50)
    role: str  # what they do for the party, e.g. "pharmacist" or "clinical data manager"
    registered_index: int
    suspended_from: str | None = None
    suspended_index: int | None = None
    suspension_reason: str | None = None

    def refusal(self, at: str) -> str | None:
        if self.suspended_from is not None and self.suspended_from <= at:
            why = self.suspension_reason or "no reason given"
            return f"{self.name} ({self.person}) is suspended from {self.suspended_from}: {why}"
        return None


@dataclass(frozen=True)
class PutPerson:
    person: PersonRecord


@dataclass(frozen=True)
class PutParty:
    party: PartyRecord


@dataclass(frozen=True)
class PutKey:
    """Insert a new key, or replace the record of an existing one (rotation, revocation)."""

    key: KeyRecord


IdentityChange = PutParty | PutKey | PutPerson


class IdentityView(Protocol):
    """Read access to the current identity projection (database or memory)."""

    def key(self, key_id: str) -> KeyRecord | None: ...

    def party(self, gln: str) -> PartyRecord | None: ...

    def keys_of(self, gln: str) -> list[KeyRecord]: ...

    def person_of(self, key_id: str) -> PersonRecord | None: ...

    def person_keys(self, gln: str, person: str) -> list[PersonRecord]: ...


def public_key_of(body: dict[str, Any], field: str) -> bytes:
    value = body.get(field)
    try:
        der = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        der = b""
    if not der:
        raise BadStatement(f"body.{field} must be a base64 DER SubjectPublicKeyInfo")
    parse_public_key(der)  # BadKey on anything but a P-256 key
    return der


def signer_key(view: IdentityView, statement: Statement, ctx: EntryContext) -> KeyRecord:
    """The signer's key record, if it may sign at the entry's logging time."""
    key = view.key(statement.signer)
    if key is None:
        raise UnknownKey(f"key {statement.signer} is not registered", key_id=statement.signer)
    refusal = key.refusal(ctx.logged_at, ctx.rules)
    if refusal is None:
        person = view.person_of(key.key_id)
        refusal = person.refusal(ctx.logged_at) if person is not None else None
    if refusal is not None:
        raise RevokedKey(refusal, key_id=key.key_id)
    return key


def require_role(view: IdentityView, key: KeyRecord, kind: str, roles: frozenset[str]) -> None:
    party = view.party(key.gln)
    held = set(party.roles) if party else set()
    if not held & roles:
        raise WrongRole(
            f"{kind} needs one of the roles {sorted(roles)}; the signer has {sorted(held)}",
            kind=kind,
        )


def genesis_public_key(authority: object) -> bytes | None:
    """The authority key a genesis body names, if it names one in a readable form."""
    if not isinstance(authority, dict):
        return None
    try:
        return public_key_of(authority, "public_key")
    except (BadStatement, BadKey):
        return None


def plan_genesis(statement: Statement, ctx: EntryContext) -> list[IdentityChange]:
    """Entry 0 names the registry authority and is signed by the key it names."""
    body = statement.body
    optional = {"rules", "demo"} & set(body)
    _exact_members(body, "origin", "log_key", "authority", *optional)
    genesis_profile(body)
    _text(body, "origin")
    _text(body, "log_key", 400)
    authority = body["authority"]
    if not isinstance(authority, dict):
        raise BadStatement("body.authority must be an object")
    _exact_members(authority, "name", "gln", "public_key")
    der = public_key_of(authority, "public_key")
    if compute_key_id(der) != statement.signer:
        raise BadStatement("the genesis statement must be signed by the authority key it names")
    gln = _gln(authority)
    return [
        PutParty(PartyRecord(gln, _text(authority, "name"), (AUTHORITY,), ctx.index)),
        PutKey(KeyRecord(statement.signer, gln, der, ctx.index, ctx.logged_at)),
    ]


def plan_register(
    view: IdentityView, statement: Statement, ctx: EntryContext, known_roles: frozenset[str]
) -> list[IdentityChange]:
    """A party and its first key, registered by the authority with roles the log knows."""
    body = statement.body
    _exact_members(body, "gln", "name", "roles", "public_key")
    gln, name = _gln(body), _text(body, "name")
    roles = body["roles"]
    if (
        not isinstance(roles, list)
        or not roles
        or not all(isinstance(r, str) and r in known_roles for r in roles)
        or len(set(roles)) != len(roles)
    ):
        raise BadStatement(f"body.roles must be a non-empty list of distinct {sorted(known_roles)}")
    der = public_key_of(body, "public_key")
    if view.party(gln) is not None:
        raise Conflict(f"party {gln} is already registered", gln=gln)
    new_id = compute_key_id(der)
    if view.key(new_id) is not None:
        raise Conflict(f"key {new_id} is already registered", key_id=new_id)
    return [
        PutParty(PartyRecord(gln, name, tuple(sorted(roles)), ctx.index)),
        PutKey(KeyRecord(new_id, gln, der, ctx.index, ctx.logged_at)),
    ]
