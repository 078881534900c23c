"""What every trial statement shares: Part 11 signatures, reasons, dates and lookups."""

from __future__ import annotations

import re
from typing import Any

from provenance.log import body as f
from provenance.log.errors import BadStatement, Conflict, WrongRole
from provenance.log.kinds import Op
from provenance.log.ledger import Ledger
from provenance.log.rows import Table
from trials.reasons import BOILERPLATE, MIN_LENGTH, reason_problem
from trials.rows import (
    PROTOCOL_VERSION,
    TRIAL,
    TRIAL_EVENT,
    TRIAL_PAYLOAD,
    TrialEventRow,
    TrialPayloadRow,
    TrialRow,
)

#: 21 CFR 11.50(a)(3): the meaning of a signature.
MEANINGS = frozenset({"authorship", "review", "approval", "responsibility"})
PHASES = frozenset({"1", "1/2", "2", "2/3", "3", "4", "N/A"})
REGISTRIES = (
    ("NCT", re.compile(r"^NCT\d{8}$")),
    ("EudraCT", re.compile(r"^\d{4}-\d{6}-\d{2}$")),
    ("CTIS", re.compile(r"^\d{4}-\d{6}-\d{2}-\d{2}$")),
)
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def is_boilerplate(reason: object) -> bool:
    """A reason for change that is empty, generic, or too short to explain anything (the rule of
    logs written under rules 1; `trials.reasons` holds the stricter one of rules 2)."""
    if not isinstance(reason, str):
        return True
    words = re.sub(r"[^a-z0-9]+", " ", reason.lower()).strip()
    return words in RULES_1_BOILERPLATE or len(words) < 12


#: The boilerplate rules 1 refused: a log written under them replays as it was accepted.
RULES_1_BOILERPLATE = BOILERPLATE - {
    "nil", "null", "test", "testing", "placeholder", "dummy", "asdf", "reason", "no reason",
    "because", "ok", "yes", "done", "erase", "erasure", "delete", "deleted", "removed",
    "request", "x", "xx", "xxx", "see note", "see notes", "see comment", "as requested",
    "requested", "tba", "todo",
}  # fmt: skip
#: From rules 2 a reason needs the minimum content of `trials.reasons.reason_problem`, erasure
#: reasons included, and a locked trial takes no statement that changes its data.
REASON_AND_LOCK_RULES = 2


#: From rules 2 every trial statement is an electronic signature of a registered person.
PERSON_SIGNATURE_RULES = 2


def signature(op: Op) -> tuple[str, str]:
    """(printed name, meaning) of a trial statement's signature (21 CFR 11.50).

    Under rules 2 the signer must be a registered person (11.100: unique to one individual)
    and the printed name is the one their party registered, never text sent with the
    statement; a log of rules 1 replays the printed name its statements carried."""
    sig = op.body.get("signature")
    if op.rules < PERSON_SIGNATURE_RULES:
        if not isinstance(sig, dict) or set(sig) != {"printed_name", "meaning"}:
            raise BadStatement("body.signature must be {printed_name, meaning} (21 CFR 11.50)")
        f.text(sig, "printed_name", 200)
    elif not isinstance(sig, dict) or set(sig) != {"meaning"}:
        raise BadStatement(
            "body.signature must be {meaning}: the printed name comes from the signer's "
            "registration as a person (21 CFR 11.50)"
        )
    if sig["meaning"] not in MEANINGS:
        raise BadStatement(f"body.signature.meaning must be one of {sorted(MEANINGS)}")
    if op.rules < PERSON_SIGNATURE_RULES:
        return str(sig["printed_name"]), str(sig["meaning"])
    person = op.view.person_of(op.ledger.key_id)
    if person is None:
        raise WrongRole(
            "a trial statement is an electronic signature of one person (21 CFR 11.100): sign "
            "it with the key of a person registered for the party (person.register), not with "
            "the party's system key"
        )
    return person.name, str(sig["meaning"])


def date(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not _DATE.match(value):
        raise BadStatement(f"body.{field} must be a date YYYY-MM-DD")
    return value


def reason(body: dict[str, Any], field: str = "reason", *, rules: int = 1) -> str:
    """The statement's reason for a change; refused (422) when it explains nothing."""
    value = body.get(field)
    if rules >= REASON_AND_LOCK_RULES:
        problem = reason_problem(value)
        if problem is not None:
            raise BadStatement(
                f"body.{field} must say why; {value!r} is not a reason: {problem}",
                rule="a reason is not boilerplate or a placeholder, has at least "
                f"{MIN_LENGTH} letters and digits and two different words",
            )
    elif is_boilerplate(value):
        raise BadStatement(
            f"body.{field} must say why (an empty or boilerplate reason is not a reason): {value!r}"
        )
    return str(value)


def require_unlocked(op: Op, trial: TrialRow) -> None:
    """Rules 2: a locked trial takes no statement that changes its data (409)."""
    if op.rules >= REASON_AND_LOCK_RULES and trial["locked"]:
        raise Conflict(
            f"trial {trial['trial_id']} is locked: unlock it (with a reason) first",
            trial=trial["trial_id"],
        )


def audit(op: Op, *, trial_id: str, action: str, what: str, why: str | None = None) -> None:
    """Add the statement to the trial's audit trail, with its signature manifestation."""
    printed, meaning = signature(op)
    ledger = op.ledger
    row = TrialEventRow(
        idx=ledger.index,
        seq=ledger.next_seq("trial_event"),
        trial_id=trial_id,
        action=action,
        subject=what,
        reason=why,
        party=op.party,
        printed_name=printed,
        meaning=meaning,
        key_id=ledger.key_id,
        at=ledger.logged_at,
    )
    TRIAL_EVENT.put(ledger, row)


def require_trial(ledger: Ledger, trial_id: object) -> TrialRow:
    trial = TRIAL.get(ledger, (trial_id,)) if isinstance(trial_id, str) else None
    if trial is None:
        raise Conflict(f"trial {trial_id!r} is not registered", trial=trial_id)
    return trial


def require_sponsor(trial: TrialRow, party: str) -> None:
    if trial["sponsor"] != party:
        raise WrongRole(f"only the trial's sponsor {trial['sponsor']} may do this")


def sponsored_trial(op: Op) -> TrialRow:
    """The registered trial the statement names, which its signer must sponsor."""
    trial = require_trial(op.ledger, op.body.get("trial"))
    require_sponsor(trial, op.party)
    return trial


def latest_version(ledger: Ledger, table: Table[Any, Any], *key: str) -> int:
    """Highest version (0 if none) of rows keyed (*key, version), found by probing the next."""
    version = 0
    while table.get(ledger, (*key, version + 1)) is not None:
        version += 1
    return version


def latest_protocol(ledger: Ledger, trial_id: str) -> int:
    return latest_version(ledger, PROTOCOL_VERSION, trial_id)


def check_payload(ledger: Ledger, payload: str) -> TrialPayloadRow | None:
    """The stored payload a statement names; None if erased after this entry (a replay)."""
    stored = TRIAL_PAYLOAD.get(ledger, (payload,))
    if stored is None:
        raise Conflict(f"payload {payload} was not uploaded (POST /api/v1/trials/payloads)")
    if stored["erased_index"] is not None:
        if stored["erased_index"] < ledger.index:
            raise Conflict(f"payload {payload} was erased at entry {stored['erased_index']}")
        return None  # verified when it was first logged; its bytes are gone since
    return stored
