"""Access rules: one per route, named, so the table of who may do what is written down once.

A rule decides from the principal and the request's facts (its route arguments and query, and
a read connection opened only if the rule needs one). Anonymous requests a rule refuses get 401;
authenticated ones get 403.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from provenance.access.principal import EntryReaders, Principal
from provenance.log.personality import Registry


@dataclass
class Facts:
    """What a rule may look at besides the principal."""

    args: Mapping[str, Any]  # route arguments, then query parameters
    registry: Registry
    connect: Callable[[], Connection]
    _readers: EntryReaders | None = None

    @property
    def conn(self) -> Connection:
        return self.connect()

    def readers(self) -> EntryReaders:
        if self._readers is None:
            from provenance.log.store.projection import DbView

            conn = self.conn
            self._readers = EntryReaders(conn, self.registry, DbView(conn))
        return self._readers


Check = Callable[[Principal, Facts], bool]
#: Beyond any log's size, and beyond what the databases store as an integer.
MAX_INDEX = 2**62


@dataclass(frozen=True)
class Rule:
    """Who may use a route, in words (for the README and the tests) and as a check."""

    name: str
    check: Check

    def allows(self, who: Principal, facts: Facts) -> bool:
        return self.check(who, facts)

    def __or__(self, other: Rule) -> Rule:
        return Rule(
            f"{self.name}, or {other.name}",
            lambda who, facts: self.check(who, facts) or other.check(who, facts),
        )


PUBLIC = Rule("anyone", lambda who, facts: True)
SIGNED_IN = Rule("any registered party", lambda who, facts: who.authenticated)
REGULATORS = Rule("regulators", lambda who, facts: who.regulator)
#: Administration happens on the server's command line, never over HTTP.
NOBODY = Rule("nobody over HTTP (the operator's command line)", lambda who, facts: False)


def roles(*names: str) -> Rule:
    return Rule(f"parties with the role {' or '.join(names)}", lambda who, facts: who.has(*names))


def entry_reader(argument: str = "index") -> Rule:
    """The readers of the log entry whose index is the route argument `argument`."""

    def check(who: Principal, facts: Facts) -> bool:
        index = facts.args.get(argument)
        if not isinstance(index, int) or not 0 <= index < MAX_INDEX:
            return who.authenticated  # no such entry: the route answers 404
        return facts.readers().may_read(who, index)

    return Rule(
        "the entry's signer, the parties it names, regulators; anyone for public kinds", check
    )
