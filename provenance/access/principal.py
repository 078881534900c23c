"""Who is asking: anonymous, or a registered key's party, and what the log lets it read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from provenance.errors import Error
from provenance.log.canonical import parse_json
from provenance.log.entries import open_entry
from provenance.log.identity import AUTHORITY, IdentityView
from provenance.log.personality import Registry
from provenance.log.store import logdb

#: The party role that reads everything, and writes nothing it did not sign.
REGULATOR = "regulator"


@dataclass(frozen=True)
class Principal:
    """The requester: a registered key's party (`via` says how it proved it), or nobody."""

    key_id: str | None = None
    gln: str | None = None
    name: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    via: str = "anonymous"  # "signature" (RFC 9421), "session" (a browser), or "anonymous"
    #: The person acting for the party (their printed name), or None for a system key.
    person: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.gln is not None

    @property
    def regulator(self) -> bool:
        return REGULATOR in self.roles

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def describe(self) -> str:
        if not self.authenticated:
            return "anonymous"
        who = f"{self.person} for " if self.person else ""
        return f"{who}{self.name} ({self.gln}, {', '.join(sorted(self.roles))})"


ANONYMOUS = Principal()


def principal_of(view: IdentityView, key_id: str, at: str, rules: int, via: str) -> Principal:
    """The principal a key proves, if the key may sign at time `at`; else anonymous."""
    key = view.key(key_id)
    if key is None or key.refusal(at, rules) is not None:
        return ANONYMOUS
    party = view.party(key.gln)
    if party is None or AUTHORITY in party.roles:
        return ANONYMOUS  # the registry authority signs statements, it does not browse
    person = view.person_of(key_id)
    if person is not None and person.refusal(at) is not None:
        return ANONYMOUS  # a suspended person reads nothing more
    name = person.name if person is not None else None
    return Principal(key.key_id, party.gln, party.name, frozenset(party.roles), via, name)


@dataclass
class EntryReaders:
    """Who may read a log entry's contents: its signer's party, the parties it names (as its
    personality says), regulators, and anyone for the kinds declared public."""

    conn: Connection
    registry: Registry
    view: IdentityView
    _cache: dict[int, tuple[str, frozenset[str], str]] = field(default_factory=dict)

    def facts(self, index: int) -> tuple[str, frozenset[str], str] | None:
        """(kind, named parties, signer's GLN) of entry `index`, or None if there is none."""
        if index not in self._cache:
            data = logdb.entry_data(self.conn, index)
            if data is None:
                return None
            self._cache[index] = self._read(data)
        return self._cache[index]

    def _read(self, data: bytes) -> tuple[str, frozenset[str], str]:
        entry: dict[str, Any] = parse_json(data)
        try:
            _, statement = open_entry(self.conn, entry, self.registry)
        except Error:
            return "", frozenset(), ""  # unreadable: regulators only
        key = self.view.key(statement.signer)
        named = self.registry.named_parties(statement, self.conn)
        return statement.kind, named, key.gln if key else ""

    def may_read(self, who: Principal, index: int) -> bool:
        facts = self.facts(index)
        if facts is None:
            return who.authenticated  # the caller answers 404 for a missing entry
        kind, named, signer = facts
        if kind in self.registry.public_kinds or who.regulator:
            return True
        return who.gln is not None and (who.gln == signer or who.gln in named)


Readers = Callable[[Connection], EntryReaders]
