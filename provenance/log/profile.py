"""What a log's genesis declares (its rules, whether it is a demo) and where an entry lands.

A log keeps the rules it was created with for its whole life, so entries written under older
rules replay exactly as they were accepted. Release 0.1.0 wrote genesis entries without these
members: such a log runs rules 1.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from provenance.log.canonical import parse_json
from provenance.log.errors import BadStatement

#: The rules a new log is created with. 2: statements name their log and are fresh when logged;
#: key rotation by the key alone waits; products need an assigned GS1 company prefix; trial data
#: is written only by the trial's sponsor and its listed sites.
CURRENT_RULES = 2


@dataclass(frozen=True)
class LogProfile:
    origin: str
    rules: int = 1
    demo: bool = False  # keys of its parties were made on the server: never real data


def genesis_profile(body: dict[str, Any]) -> LogProfile:
    """The profile a genesis body declares (checked here; the rest of the body elsewhere)."""
    rules = body.get("rules", 1)
    if type(rules) is not int or not 1 <= rules <= CURRENT_RULES:
        raise BadStatement(f"body.rules must be an integer from 1 to {CURRENT_RULES}")
    demo = body.get("demo", False)
    if demo is not False and demo is not True:
        raise BadStatement("body.demo must be true or absent")
    if "rules" in body and rules == 1:
        raise BadStatement("rules 1 is declared by leaving body.rules out")
    if "demo" in body and not demo:
        raise BadStatement("a log that is not a demo leaves body.demo out")
    return LogProfile(str(body.get("origin", "")), rules, demo)


@dataclass(frozen=True)
class EntryContext:
    """Where a statement lands: its log index, the server's logging time, and the rules and
    origin of the log (declared by its genesis entry)."""

    index: int
    logged_at: str
    rules: int = 1
    origin: str = ""


def entry_context(
    index: int, logged_at: str, profile: LogProfile | None, genesis_body: dict[str, Any]
) -> EntryContext:
    """The context of an entry; the genesis entry (no profile yet) runs under the one it
    declares, or rules 1 if what it declares is not valid (its own check then refuses it)."""
    if profile is None:
        try:
            profile = genesis_profile(genesis_body)
        except BadStatement:
            profile = LogProfile(str(genesis_body.get("origin", "")))
    return EntryContext(index, logged_at, profile.rules, profile.origin)


def profile_of_genesis(data: bytes) -> LogProfile:
    """The profile declared by the stored genesis entry's bytes."""
    entry = parse_json(data)
    body = parse_json(base64.b64decode(entry["envelope"]["payload"]))["body"]
    return genesis_profile(body)
