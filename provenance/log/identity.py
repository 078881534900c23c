"""Parties, roles and keys: the pure rules of registration, rotation and revocation."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from typing import Any, Protocol

from provenance.log.body import exact_members as _exact_members
from provenance.log.body import gln as _gln
from provenance.log.body import text as _text
from provenance.log.errors import BadKey, BadStatement, Conflict, RevokedKey, UnknownKey, WrongRole
from provenance.log.profile import EntryContext, genesis_profile
from provenance.log.signing import key_id as compute_key_id
from provenance.log.signing import parse_public_key
from provenance.log.statements import Statement, is_key_id, parse_timestamp

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

    def refusal(self, at: str) -> str | None:
        """Why this key may not sign at time `at` (fixed-width UTC strings compare as times)."""
        if self.retired_at is not None:
            return f"key was rotated out by entry {self.retired_index} at {self.retired_at}"
        if self.revoked_from is not None and self.revoked_from <= at:
            return f"key is revoked from {self.revoked_from} (entry {self.revoked_index})"
        return None


@dataclass(frozen=True)
class PutParty:
    party: PartyRecord


@dataclass(frozen=True)
class PutKey:
    """Insert a new key, or replace the record of an existing one (rotation, revocation)."""

    key: KeyRecord


IdentityChange = PutParty | PutKey


class IdentityView(Protocol):
    """Read access to the current identity projection (database or memory)."""

    def key(self, key_id: str) -> KeyRecord | None: ...

    def party(self, gln: str) -> PartyRecord | None: ...


def _public_key(body: dict[str, Any], field: str) -> bytes:
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
    refusal = key.refusal(ctx.logged_at)
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
        return _public_key(authority, "public_key")
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
    der = _public_key(authority, "public_key")
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
    der = _public_key(body, "public_key")
    if view.party(gln) is not None:
        raise Conflict(f"party {gln} is already registered", gln=gln)
    new_id = compute_key_id(der)
    if view.key(new_id) is not None:
        raise Conflict(f"key {new_id} is already registered", key_id=new_id)
    return [
        PutParty(PartyRecord(gln, name, tuple(sorted(roles)), ctx.index)),
        PutKey(KeyRecord(new_id, gln, der, ctx.index, ctx.logged_at)),
    ]


def plan_rotate(
    view: IdentityView, signer: KeyRecord, statement: Statement, ctx: EntryContext
) -> list[IdentityChange]:
    """Rotation is signed by the key being retired or by the authority."""
    body = statement.body
    _exact_members(body, "gln", "old_key", "new_public_key")
    gln, old_id = _gln(body), body["old_key"]
    if not is_key_id(old_id):
        raise BadStatement("body.old_key must be a key id")
    old = view.key(str(old_id))
    if old is None or old.gln != gln:
        raise Conflict(f"key {old_id} is not a key of party {gln}")
    if old.refusal(ctx.logged_at) is not None:
        raise Conflict(f"key {old_id} is no longer valid and cannot be rotated")
    signer_party = view.party(signer.gln)
    is_authority = signer_party is not None and AUTHORITY in signer_party.roles
    if signer.key_id != old.key_id and not is_authority:
        raise WrongRole("a rotation is signed by the old key or by the authority")
    der = _public_key(body, "new_public_key")
    new_id = compute_key_id(der)
    if view.key(new_id) is not None:
        raise Conflict(f"key {new_id} is already registered", key_id=new_id)
    return [
        PutKey(replace(old, retired_index=ctx.index, retired_at=ctx.logged_at)),
        PutKey(KeyRecord(new_id, gln, der, ctx.index, ctx.logged_at)),
    ]


def plan_revoke(
    view: IdentityView, statement: Statement, ctx: EntryContext
) -> list[IdentityChange]:
    body = statement.body
    _exact_members(body, "key_id", "effective_at", "reason")
    target_id = body["key_id"]
    if not is_key_id(target_id):
        raise BadStatement("body.key_id must be a key id")
    parse_timestamp(body["effective_at"], "body.effective_at")
    reason = _text(body, "reason", 500)
    target = view.key(str(target_id))
    if target is None:
        raise Conflict(f"key {target_id} is not registered")
    if target.revoked_from is not None:
        raise Conflict(f"key {target_id} is already revoked from {target.revoked_from}")
    party = view.party(target.gln)
    if party is not None and AUTHORITY in party.roles:
        raise Conflict("the authority key cannot be revoked; rotate it instead")
    revoked = replace(
        target,
        revoked_from=str(body["effective_at"]),
        revoked_index=ctx.index,
        revocation_reason=reason,
    )
    return [PutKey(revoked)]
