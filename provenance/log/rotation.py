"""Key rotation and revocation: at once by the authority; after a wait by the key alone.

A key that rotates itself may be a stolen key locking its owner out. Under rules 2 such a
rotation is announced, not applied: the new key signs, and the old one stops, only after
ROTATION_WAIT. Until then the rotation is public (the party's keys show it) and the registry
authority can cancel it by revoking the new key, which keeps the old one. A rotation signed by
the authority takes effect at once, and replaces a pending one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from provenance.log.body import exact_members as _exact_members
from provenance.log.body import gln as _gln
from provenance.log.body import text as _text
from provenance.log.errors import BadStatement, Conflict, WrongRole
from provenance.log.identity import (
    AUTHORITY,
    IdentityChange,
    IdentityView,
    KeyRecord,
    PutKey,
    public_key_of,
)
from provenance.log.people import rotated_person
from provenance.log.profile import EntryContext
from provenance.log.signing import key_id as compute_key_id
from provenance.log.statements import Statement, format_timestamp, is_key_id, parse_timestamp

#: How long a rotation signed only by the old key waits before it takes effect (rules 2).
ROTATION_WAIT = timedelta(hours=72)


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
    if old.refusal(ctx.logged_at, ctx.rules) is not None:
        raise Conflict(f"key {old_id} is no longer valid and cannot be rotated")
    signer_party = view.party(signer.gln)
    is_authority = signer_party is not None and AUTHORITY in signer_party.roles
    if signer.key_id != old.key_id and not is_authority:
        raise WrongRole("a rotation is signed by the old key or by the authority")
    der = public_key_of(body, "new_public_key")
    new_id = compute_key_id(der)
    if view.key(new_id) is not None:
        raise Conflict(f"key {new_id} is already registered", key_id=new_id)
    if ctx.rules < 2:
        return [
            PutKey(replace(old, retired_index=ctx.index, retired_at=ctx.logged_at)),
            PutKey(KeyRecord(new_id, gln, der, ctx.index, ctx.logged_at)),
            *rotated_person(view, old, new_id, ctx),
        ]
    pending = _pending_successors(view, old, ctx)
    if pending and not is_authority:
        raise Conflict(
            f"a rotation of key {old.key_id} is pending until {pending[0].added_at}; only the "
            "registry authority can replace it",
            pending=pending[0].key_id,
        )
    # The authority's rotation is at once and cancels a pending one; the key's own waits.
    effective = ctx.logged_at if is_authority else _after_wait(ctx.logged_at)
    cancelled = [PutKey(_cancelled(key, ctx, "replaced by the authority")) for key in pending]
    return [
        *cancelled,
        PutKey(replace(old, retired_index=ctx.index, retired_at=effective)),
        PutKey(KeyRecord(new_id, gln, der, ctx.index, effective)),
        *rotated_person(view, old, new_id, ctx),
    ]


def plan_revoke(
    view: IdentityView, statement: Statement, ctx: EntryContext
) -> list[IdentityChange]:
    """The authority revokes a key from an effective time; revoking a key whose rotation is
    still pending (rules 2) cancels that rotation, and the key it would replace stays valid."""
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
    changes: list[IdentityChange] = [PutKey(revoked)]
    if ctx.rules >= 2 and target.pending(ctx.logged_at):
        for key in view.keys_of(target.gln):
            if key.retired_index == target.added_index and key.key_id != target.key_id:
                changes.append(PutKey(replace(key, retired_index=None, retired_at=None)))
    return changes


def _pending_successors(view: IdentityView, old: KeyRecord, ctx: EntryContext) -> list[KeyRecord]:
    """Keys a rotation of `old` added that have not taken effect yet (and were not cancelled)."""
    if old.retired_at is None or old.retired_at <= ctx.logged_at:
        return []
    return [
        key
        for key in view.keys_of(old.gln)
        if key.added_index == old.retired_index
        and key.key_id != old.key_id
        and key.revoked_from is None
    ]


def _cancelled(key: KeyRecord, ctx: EntryContext, reason: str) -> KeyRecord:
    return replace(
        key, revoked_from=ctx.logged_at, revoked_index=ctx.index, revocation_reason=reason
    )


def _after_wait(logged_at: str) -> str:
    return format_timestamp(parse_timestamp(logged_at, "logged_at") + ROTATION_WAIT)
