"""Statement kinds: what a kind declares, what its rule sees, and the core kinds of every log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from provenance.log import identity, people, rotation
from provenance.log.errors import BadStatement
from provenance.log.identity import AUTHORITY, KeyRecord
from provenance.log.ledger import Ledger, RowView
from provenance.log.profile import EntryContext
from provenance.log.statements import MAX_CLOCK_SKEW, Statement, parse_timestamp

GENESIS = "log.genesis"
#: Rules 2: how long before it is logged a statement may have been issued. A signature older
#: than this is refused, so a statement cannot be held back and played into the log later.
MAX_STATEMENT_AGE = timedelta(hours=24)
#: Stands for every party role the log knows (the roles its personalities declare).
ANY_PARTY = "*"


class View(identity.IdentityView, RowView, Protocol):
    """The projection a rule reads, and applies its changes to."""

    def apply(self, changes: Sequence[object]) -> None: ...


@dataclass(frozen=True)
class Pending:
    """A signed statement about to become an entry: everything its kind's rule may look at."""

    view: View
    key: KeyRecord  # the signer's key, valid at the entry's logging time
    statement: Statement
    entry: EntryContext
    roles: frozenset[str]  # every party role this log knows


Planner = Callable[[Pending], list[object]]


@dataclass(frozen=True)
class KindRule:
    """One statement kind: who may sign it, and the changes appending it makes."""

    kind: str
    roles: frozenset[str]  # the signer's party needs one of these (ANY_PARTY: any party role)
    plan: Planner
    summary: str
    #: Changes who may sign: replayed when the log is verified with public keys only.
    identity: bool = False
    #: Rules 2: the oldest a statement of this kind may be when logged (see MAX_STATEMENT_AGE).
    max_age: timedelta = MAX_STATEMENT_AGE

    def allowed_roles(self, known: frozenset[str]) -> frozenset[str]:
        if ANY_PARTY not in self.roles:
            return self.roles
        return (self.roles - {ANY_PARTY}) | known


@dataclass(frozen=True)
class Op:
    """What a ledger kind's operation works on: the entry's working copy, the projection it
    reads parties from, the signer's party (GLN) and roles, and the statement body."""

    ledger: Ledger
    view: View
    party: str
    roles: tuple[str, ...]
    body: dict[str, Any]
    #: The rules of the log (its genesis declares them): a rule added in rules 2 checks this,
    #: so entries accepted under rules 1 replay as they were accepted.
    rules: int = 1


Operation = Callable[[Op], object]


def ledger_kind(kind: str, roles: frozenset[str], summary: str) -> Callable[[Operation], KindRule]:
    """Declare `kind` as an operation on a ledger over the projection: whatever it writes
    there becomes the entry's changes, and a refusal leaves the projection untouched."""

    def declare(operation: Operation) -> KindRule:
        def plan(pending: Pending) -> list[object]:
            entry, key = pending.entry, pending.key
            ledger = Ledger(pending.view, entry.index, entry.logged_at, key.key_id)
            party = pending.view.party(key.gln)
            roles = party.roles if party else ()
            body = pending.statement.body
            operation(Op(ledger, pending.view, key.gln, roles, body, entry.rules))
            return ledger.changes()

        return KindRule(kind, roles, plan, summary)

    return declare


def signing_key_der(view: identity.IdentityView, statement: Statement) -> bytes | None:
    """The public key a statement claims to be signed with, if the log knows it."""
    if statement.kind == GENESIS:  # genesis names its own key
        return identity.genesis_public_key(statement.body.get("authority"))
    key = view.key(statement.signer)
    return key.public_key if key else None


def check_issued_at(statement: Statement, ctx: EntryContext) -> None:
    """A statement cannot be issued after it is logged (beyond clock skew)."""
    limit = parse_timestamp(ctx.logged_at, "logged_at") + MAX_CLOCK_SKEW
    if statement.issued > limit:
        raise BadStatement(
            f"issued_at {statement.issued_at} is in the future (logged at {ctx.logged_at})"
        )


def check_audience_and_age(statement: Statement, ctx: EntryContext, max_age: timedelta) -> None:
    """Rules 2: a statement names the log it is meant for, and is fresh when logged.

    Naming the log keeps a statement accepted by one log from being replayed into another that
    knows the same key; the age bound keeps a signed statement from being held back."""
    if ctx.rules < 2:
        return
    if statement.log != ctx.origin:
        named = "names no log" if statement.log is None else f"is meant for log {statement.log!r}"
        raise BadStatement(f"the statement {named}; this log is {ctx.origin!r}", log=ctx.origin)
    logged = parse_timestamp(ctx.logged_at, "logged_at")
    if logged - statement.issued > max_age:
        raise BadStatement(
            f"issued_at {statement.issued_at} is more than {_span(max_age)} before it was "
            f"logged ({ctx.logged_at}); sign it again",
        )


def _span(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours // 24} days" if hours % 24 == 0 and hours > 24 else f"{hours} hours"


def _plan_attestation(pending: Pending) -> list[object]:
    body = pending.statement.body
    if set(body) != {"subject", "claim"}:
        raise BadStatement("body must have exactly the members claim and subject")
    subject = body["subject"]
    if not isinstance(subject, str) or not subject or len(subject) > 500:
        raise BadStatement("body.subject must be a non-empty string of at most 500 chars")
    if not isinstance(body["claim"], dict):
        raise BadStatement("body.claim must be a JSON object")
    return []


PARTY_REGISTER = KindRule(
    "party.register",
    frozenset({AUTHORITY}),
    lambda p: list(identity.plan_register(p.view, p.statement, p.entry, p.roles)),
    "register a party (GLN, name, roles) and its first public key",
    identity=True,
)
KEY_ROTATE = KindRule(
    "key.rotate",
    frozenset({ANY_PARTY, AUTHORITY}),
    lambda p: list(rotation.plan_rotate(p.view, p.key, p.statement, p.entry)),
    "replace a party's key: at once by the authority, after a wait by the old key (rules 2)",
    identity=True,
)
KEY_REVOKE = KindRule(
    "key.revoke",
    frozenset({AUTHORITY}),
    lambda p: list(rotation.plan_revoke(p.view, p.statement, p.entry)),
    "revoke a key from an effective time",
    identity=True,
)
ATTESTATION = KindRule(
    "attestation",
    frozenset({ANY_PARTY}),
    _plan_attestation,
    "a signed claim about a subject by any registered party",
)
PersonPlanner = Callable[
    [identity.IdentityView, identity.KeyRecord, Statement, EntryContext],
    list[identity.IdentityChange],
]


def _person_kind(kind: str, plan: PersonPlanner, summary: str) -> KindRule:
    """A kind about a party's people: signed by the party (or the authority), an identity
    change."""
    return KindRule(
        kind,
        frozenset({ANY_PARTY, AUTHORITY}),
        lambda p: list(plan(p.view, p.key, p.statement, p.entry)),
        summary,
        identity=True,
    )


PERSON_REGISTER = _person_kind(
    "person.register",
    people.plan_register_person,
    "a party registers a person who acts for it, with the person's own key",
)
PERSON_SUSPEND = _person_kind(
    "person.suspend",
    people.plan_suspend_person,
    "a party suspends a person: the person's keys are refused from this entry on",
)
PERSON_REINSTATE = _person_kind(
    "person.reinstate", people.plan_reinstate_person, "a party reinstates a suspended person"
)
#: The kinds every log accepts besides its genesis entry, whatever its personalities.
CORE_KINDS = (
    PARTY_REGISTER,
    KEY_ROTATE,
    KEY_REVOKE,
    ATTESTATION,
    PERSON_REGISTER,
    PERSON_SUSPEND,
    PERSON_REINSTATE,
)
