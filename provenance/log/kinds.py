"""The statement kinds the log accepts: who may sign each one and what it changes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from provenance.errors import BadStatement, Conflict
from provenance.log import identity
from provenance.log.identity import AUTHORITY, PARTY_ROLES, EntryContext, KeyRecord
from provenance.log.statements import MAX_CLOCK_SKEW, Statement, parse_timestamp
from provenance.supply.custody import Ledger, RowView


class View(identity.IdentityView, RowView, Protocol):
    """The projection a rule reads, and applies its changes to."""

    def apply(self, changes: Sequence[object]) -> None: ...


Planner = Callable[[View, KeyRecord, Statement, EntryContext], list[object]]


@dataclass(frozen=True)
class KindRule:
    kind: str
    roles: frozenset[str]  # the signer's party needs one of these
    plan: Planner
    summary: str


RULES: dict[str, KindRule] = {}
GENESIS = "log.genesis"
#: Kinds that change who may sign: replayed when the log is verified.
IDENTITY_KINDS = frozenset({GENESIS, "party.register", "key.rotate", "key.revoke"})


def register_kind(rule: KindRule) -> KindRule:
    RULES[rule.kind] = rule
    return rule


#: An operation on a ledger: (ledger, view, signer's GLN, signer's roles, statement body).
LedgerOperation = Callable[[Ledger, View, str, tuple[str, ...], dict[str, Any]], object]


def ledger_kind(
    kind: str, roles: frozenset[str], summary: str
) -> Callable[[LedgerOperation], LedgerOperation]:
    """Register `kind` as an operation on a ledger over the projection: whatever it writes
    there becomes the entry's changes, and a refusal leaves the projection untouched."""

    def wrap(operation: LedgerOperation) -> LedgerOperation:
        def plan(view: View, key: KeyRecord, st: Statement, ctx: EntryContext) -> list[object]:
            ledger = Ledger(view, ctx.index, ctx.logged_at, key.key_id)
            party = view.party(key.gln)
            operation(ledger, view, key.gln, party.roles if party else (), st.body)
            return ledger.changes()

        register_kind(KindRule(kind, roles, plan, summary))
        return operation

    return wrap


def signing_key_der(view: View, statement: Statement) -> bytes | None:
    """The public key a statement claims to be signed with, if the log knows it."""
    if statement.kind == GENESIS:
        authority = statement.body.get("authority")
        der = identity.genesis_public_key(authority)
        return der
    key = view.key(statement.signer)
    return key.public_key if key else None


def evaluate(view: View, statement: Statement, ctx: EntryContext) -> list[object]:
    """Check a statement against the projection; return the changes appending it makes."""
    check_issued_at(statement, ctx)
    if ctx.index == 0:
        if statement.kind != GENESIS:
            raise BadStatement("the first entry of a log must be its log.genesis statement")
        return list(identity.plan_genesis(statement, ctx))
    if statement.kind == GENESIS:
        raise Conflict("this log already has its genesis entry (index 0)")
    rule, key = check_signer(view, statement, ctx)
    return rule.plan(view, key, statement, ctx)


def check_issued_at(statement: Statement, ctx: EntryContext) -> None:
    """A statement cannot be issued after it is logged (beyond clock skew)."""
    limit = parse_timestamp(ctx.logged_at, "logged_at") + MAX_CLOCK_SKEW
    if statement.issued > limit:
        raise BadStatement(
            f"issued_at {statement.issued_at} is in the future (logged at {ctx.logged_at})"
        )


def check_signer(
    view: identity.IdentityView, statement: Statement, ctx: EntryContext
) -> tuple[KindRule, KeyRecord]:
    """The kind is known and the signer's key may sign it at the entry's time."""
    rule = RULES.get(statement.kind)
    if rule is None:
        raise BadStatement(f"unknown statement kind {statement.kind!r}", known=sorted(RULES))
    key = identity.signer_key(view, statement, ctx)
    identity.require_role(view, key, statement.kind, rule.roles)
    return rule, key


def _plan_attestation(
    view: View, key: KeyRecord, statement: Statement, ctx: EntryContext
) -> list[object]:
    body = statement.body
    if set(body) != {"subject", "claim"}:
        raise BadStatement("body must have exactly the members claim and subject")
    subject = body["subject"]
    if not isinstance(subject, str) or not subject or len(subject) > 500:
        raise BadStatement("body.subject must be a non-empty string of at most 500 chars")
    if not isinstance(body["claim"], dict):
        raise BadStatement("body.claim must be a JSON object")
    return []


register_kind(
    KindRule(
        "party.register",
        frozenset({AUTHORITY}),
        lambda view, key, st, ctx: list(identity.plan_register(view, st, ctx)),
        "register a party (GLN, name, roles) and its first public key",
    )
)
register_kind(
    KindRule(
        "key.rotate",
        PARTY_ROLES | {AUTHORITY},
        lambda view, key, st, ctx: list(identity.plan_rotate(view, key, st, ctx)),
        "replace a party's key; signed by the old key or the authority",
    )
)
register_kind(
    KindRule(
        "key.revoke",
        frozenset({AUTHORITY}),
        lambda view, key, st, ctx: list(identity.plan_revoke(view, st, ctx)),
        "revoke a key from an effective time",
    )
)
register_kind(
    KindRule(
        "attestation",
        PARTY_ROLES,
        _plan_attestation,
        "a signed claim about a subject by any registered party",
    )
)
