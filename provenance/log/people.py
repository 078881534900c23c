"""People under parties: a party registers the persons who act for it, each with a key.

An organisation's own key (or the authority) registers, suspends and reinstates its people; a
person's key signs as that person, so an electronic signature names one individual whose
printed name comes from the registry (21 CFR 11.50, 11.100), not from text typed when signing.
A party key that belongs to no person is a system key, for integrations.
"""

from __future__ import annotations

import re
from dataclasses import replace

from provenance.log.body import exact_members, text
from provenance.log.body import gln as body_gln
from provenance.log.errors import BadStatement, Conflict, WrongRole
from provenance.log.identity import (
    AUTHORITY,
    IdentityChange,
    IdentityView,
    KeyRecord,
    PersonRecord,
    PutKey,
    PutPerson,
    public_key_of,
)
from provenance.log.profile import EntryContext
from provenance.log.signing import key_id as compute_key_id
from provenance.log.statements import Statement

_PERSON_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def _speaks_for(view: IdentityView, signer: KeyRecord, gln: str) -> None:
    """People are managed by the party's system key or by the registry authority."""
    party = view.party(signer.gln)
    if party is not None and AUTHORITY in party.roles:
        return
    if signer.gln != gln:
        raise WrongRole(f"only party {gln} itself (or the authority) manages its people")
    if view.person_of(signer.key_id) is not None:
        raise WrongRole("a person's key cannot manage people; use the party's system key")


def _person_id(body: dict[str, object]) -> str:
    value = body.get("person")
    if not isinstance(value, str) or not _PERSON_ID.match(value):
        raise BadStatement(
            "body.person is the party's id for the person: 1-64 letters, digits and ._@-"
        )
    return value


def plan_register_person(
    view: IdentityView, signer: KeyRecord, statement: Statement, ctx: EntryContext
) -> list[IdentityChange]:
    body = statement.body
    exact_members(body, "gln", "person", "name", "role", "public_key")
    gln, person = body_gln(body), _person_id(body)
    _speaks_for(view, signer, gln)
    if view.party(gln) is None:
        raise Conflict(f"party {gln} is not registered")
    if view.person_keys(gln, person):
        raise Conflict(f"{person} already acts for {gln}; rotate their key instead")
    der = public_key_of(body, "public_key")
    new_id = compute_key_id(der)
    if view.key(new_id) is not None:
        raise Conflict(f"key {new_id} is already registered", key_id=new_id)
    record = PersonRecord(
        new_id, gln, person, text(body, "name"), text(body, "role", 100), ctx.index
    )
    return [PutKey(KeyRecord(new_id, gln, der, ctx.index, ctx.logged_at)), PutPerson(record)]


def plan_suspend_person(
    view: IdentityView, signer: KeyRecord, statement: Statement, ctx: EntryContext
) -> list[IdentityChange]:
    """Suspended from this entry on: every key of the person is refused until reinstated."""
    body = statement.body
    exact_members(body, "gln", "person", "reason")
    records = _known(view, signer, body)
    if records[0].suspended_from is not None:
        raise Conflict(f"{records[0].name} is already suspended")
    reason = text(body, "reason", 500)
    return [
        PutPerson(
            replace(
                r,
                suspended_from=ctx.logged_at,
                suspended_index=ctx.index,
                suspension_reason=reason,
            )
        )
        for r in records
    ]


def plan_reinstate_person(
    view: IdentityView, signer: KeyRecord, statement: Statement, ctx: EntryContext
) -> list[IdentityChange]:
    body = statement.body
    exact_members(body, "gln", "person", "reason")
    records = _known(view, signer, body)
    if records[0].suspended_from is None:
        raise Conflict(f"{records[0].name} is not suspended")
    text(body, "reason", 500)
    return [
        PutPerson(replace(r, suspended_from=None, suspended_index=None, suspension_reason=None))
        for r in records
    ]


def rotated_person(
    view: IdentityView, old: KeyRecord, new_id: str, ctx: EntryContext
) -> list[IdentityChange]:
    """A person's new key stays that person's (a rotation does not make a system key)."""
    person = view.person_of(old.key_id)
    if person is None:
        return []
    return [PutPerson(replace(person, key_id=new_id, registered_index=ctx.index))]


def _known(view: IdentityView, signer: KeyRecord, body: dict[str, object]) -> list[PersonRecord]:
    gln, person = body_gln(body), _person_id(body)
    _speaks_for(view, signer, gln)
    records = view.person_keys(gln, person)
    if not records:
        raise Conflict(f"no person {person} acts for {gln}")
    return records
