"""The one plug-in point of the log: what a personality declares, and the registry of a log.

A personality tailors the domain-free log to an ecosystem (the supply chain, clinical trials):
its statement kinds, the projection tables they write, the party roles they name and any DSSE
payload type besides statements. The log never imports a personality; whoever builds a log
passes the personalities in, and `Registry` is all the log, `verify` and `rebuild` consult.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, MetaData

from provenance.log.errors import BadEnvelope, BadStatement, Conflict
from provenance.log.identity import AUTHORITY, KeyRecord, signer_key
from provenance.log.kinds import ANY_PARTY, CORE_KINDS, GENESIS, KindRule, Pending, View
from provenance.log.profile import EntryContext
from provenance.log.signing import PAYLOAD_TYPE, Envelope
from provenance.log.statements import Statement, parse_statement

from . import identity, kinds

#: Identity is public, so that anyone can check every signature with the log's own keys.
CORE_PUBLIC_KINDS = frozenset({GENESIS, "party.register", "key.rotate", "key.revoke"})
#: The identity projection of every log, in rebuild order.
IDENTITY_TABLES: Mapping[str, tuple[str, ...]] = {
    "party": ("gln",),
    "party_key": ("key_id",),
    "person_key": ("key_id",),
}


@dataclass(frozen=True)
class PayloadCodec:
    """A DSSE payload type other than a statement, e.g. an EPCIS document signed whole."""

    payload_type: str
    kind: str  # the statement kind the decoded payload is
    decode: Callable[[Envelope], Statement]
    #: The payload outgrows a tile entry: the entry names it by SHA-256 and the log stores the
    #: bytes beside it.
    detached: bool = False


#: The indices of the entries about one subject of a proof bundle (a batch, a trial), found from
#: the subject's parameters (route arguments) in the personality's own tables; NotFound if
#: there is no such subject.
SubjectEntries = Callable[[Connection, Mapping[str, str]], list[int]]


@dataclass(frozen=True)
class Personality:
    """What a domain adds to the log; declared once, in the domain's own package."""

    name: str
    kinds: tuple[KindRule, ...] = ()
    #: Projection tables its kinds write, with their primary keys, in the order a rebuild empties
    #: and fingerprints them.
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Tables its kinds read like rows whose contents do not come from the log (a rebuild keeps
    #: them), with their primary keys.
    off_log: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    metadata: MetaData | None = None  # the schema of all its tables
    roles: frozenset[str] = frozenset()
    codecs: tuple[PayloadCodec, ...] = ()
    #: Kinds whose entries anyone may read (their facts are meant to be public, e.g. recalls).
    public_kinds: frozenset[str] = frozenset()
    #: The GLNs of the parties a statement of its kinds concerns besides its signer (named in
    #: it, or holding what it names, read through the connection): they may read its entry.
    readers: Callable[[Statement, Connection], Iterable[str]] | None = None
    #: Subjects proof bundles are made for, by name (e.g. "batch"): how to find their entries.
    bundle_subjects: Mapping[str, SubjectEntries] = field(default_factory=dict)


class Registry:
    """Everything one log knows: the core kinds plus those of the personalities it is given."""

    def __init__(self, personalities: Sequence[Personality] = ()) -> None:
        self.personalities = tuple(personalities)
        self.kinds: dict[str, KindRule] = {rule.kind: rule for rule in CORE_KINDS}
        self.projection: dict[str, tuple[str, ...]] = {}
        self.off_log: dict[str, tuple[str, ...]] = {}
        self.codecs: dict[str, PayloadCodec] = {}
        self.bundle_subjects: dict[str, SubjectEntries] = {}
        roles: set[str] = set()
        names: set[str] = set()
        for personality in self.personalities:
            _unique(personality.name, names, "itself", personality)
            names.add(personality.name)
            for rule in personality.kinds:
                _unique(rule.kind, {*self.kinds, GENESIS}, "statement kind", personality)
                self.kinds[rule.kind] = rule
            for table, columns in {**personality.tables, **personality.off_log}.items():  # noqa: B007
                taken = {*IDENTITY_TABLES, *self.projection, *self.off_log}
                _unique(table, taken, "table", personality)
            self.projection.update(personality.tables)
            self.off_log.update(personality.off_log)
            for codec in personality.codecs:
                _unique(
                    codec.payload_type, {PAYLOAD_TYPE, *self.codecs}, "payload type", personality
                )
                self.codecs[codec.payload_type] = codec
            for subject, find in personality.bundle_subjects.items():
                _unique(subject, set(self.bundle_subjects), "bundle subject", personality)
                self.bundle_subjects[subject] = find
            for role in personality.roles:
                if role in (AUTHORITY, ANY_PARTY):
                    raise ValueError(f"personality {personality.name} may not declare {role!r}")
            roles |= personality.roles
        self.roles = frozenset(roles)
        #: Primary keys of every table a rule may read like rows.
        self.key_columns: dict[str, tuple[str, ...]] = {**self.projection, **self.off_log}
        self.payload_types = frozenset({PAYLOAD_TYPE, *self.codecs})
        self.metadata = tuple(p.metadata for p in self.personalities if p.metadata is not None)
        self.public_kinds = frozenset(
            {*CORE_PUBLIC_KINDS, *(k for p in self.personalities for k in p.public_kinds)}
        )
        self._readers = {
            rule.kind: p.readers for p in self.personalities if p.readers for rule in p.kinds
        }
        for codec in self.codecs.values():
            owner = next(p for p in self.personalities if codec in p.codecs)
            if owner.readers is not None:
                self._readers.setdefault(codec.kind, owner.readers)

    def statement(self, envelope: Envelope) -> Statement:
        """The statement an envelope makes, decoded by its payload type."""
        codec = self.codecs.get(envelope.payload_type)
        if codec is not None:
            return codec.decode(envelope)
        if envelope.payload_type != PAYLOAD_TYPE:
            raise BadEnvelope(f"payloadType must be one of {', '.join(sorted(self.payload_types))}")
        return parse_statement(envelope.payload)

    def named_parties(self, statement: Statement, conn: Connection) -> frozenset[str]:
        """The parties (GLNs) a statement concerns, who may read its entry besides its signer."""
        readers = self._readers.get(statement.kind)
        if readers is None:
            return frozenset()
        try:
            return frozenset(str(gln) for gln in readers(statement, conn) if gln)
        except (KeyError, TypeError, ValueError, AttributeError):
            return frozenset()  # a malformed body names nobody

    def is_detached(self, payload_type: str) -> bool:
        codec = self.codecs.get(payload_type)
        return codec is not None and codec.detached

    def evaluate(self, view: View, statement: Statement, ctx: EntryContext) -> list[object]:
        """Check a statement against the projection; return the changes appending it makes."""
        kinds.check_issued_at(statement, ctx)
        if ctx.index == 0:
            if statement.kind != GENESIS:
                raise BadStatement("the first entry of a log must be its log.genesis statement")
            return list(identity.plan_genesis(statement, ctx))
        if statement.kind == GENESIS:
            raise Conflict("this log already has its genesis entry (index 0)")
        rule, key = self.check_signer(view, statement, ctx)
        kinds.check_audience_and_age(statement, ctx, rule.max_age)
        return rule.plan(Pending(view, key, statement, ctx, self.roles))

    def check_signer(
        self, view: identity.IdentityView, statement: Statement, ctx: EntryContext
    ) -> tuple[KindRule, KeyRecord]:
        """The kind is known and the signer's key may sign it at the entry's time."""
        rule = self.kinds.get(statement.kind)
        if rule is None:
            raise BadStatement(
                f"unknown statement kind {statement.kind!r}", known=sorted(self.kinds)
            )
        key = signer_key(view, statement, ctx)
        identity.require_role(view, key, statement.kind, rule.allowed_roles(self.roles))
        return rule, key

    def replay_identity(
        self, view: View, rule: KindRule, key: KeyRecord, statement: Statement, ctx: EntryContext
    ) -> list[object]:
        """The changes an identity kind makes (verify replays only these)."""
        return rule.plan(Pending(view, key, statement, ctx, self.roles)) if rule.identity else []


def _unique(name: str, taken: set[str], what: str, personality: Personality) -> None:
    if name in taken:
        raise ValueError(f"personality {personality.name} declares {what} {name!r} again")
