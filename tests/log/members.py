"""A personality for tests of the log core: one party role and no kinds of its own."""

from __future__ import annotations

from provenance.log.personality import Personality, Registry

MEMBER = "member"
MEMBERS = Personality("members", roles=frozenset({MEMBER}))


def core_registry() -> Registry:
    """What a log knows with no domain installed, plus a role to register parties under."""
    return Registry([MEMBERS])
