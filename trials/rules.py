"""What every trial statement shares: Part 11 signatures, reasons, dates and lookups."""

from __future__ import annotations

import re
from typing import Any

from provenance.log import body as f
from provenance.log.errors import BadStatement, Conflict, WrongRole
from provenance.log.ledger import Ledger

#: 21 CFR 11.50(a)(3): the meaning of a signature.
MEANINGS = frozenset({"authorship", "review", "approval", "responsibility"})
PHASES = frozenset({"1", "1/2", "2", "2/3", "3", "4", "N/A"})
REGISTRIES = (
    ("NCT", re.compile(r"^NCT\d{8}$")),
    ("EudraCT", re.compile(r"^\d{4}-\d{6}-\d{2}$")),
    ("CTIS", re.compile(r"^\d{4}-\d{6}-\d{2}-\d{2}$")),
)
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
#: Reasons that explain nothing (compared lower-case, without punctuation).
BOILERPLATE = frozenset(
    {
        "",
        "na",
        "n a",
        "none",
        "update",
        "updated",
        "updates",
        "amendment",
        "amended",
        "change",
        "changes",
        "minor changes",
        "correction",
        "corrections",
        "corrected",
        "fix",
        "fixed",
        "other",
        "various",
        "see above",
        "as discussed",
        "tbd",
        "per sponsor",
        "new version",
        "revised",
        "revision",
        "data update",
        "data correction",
        "administrative",
    }
)


def is_boilerplate(reason: object) -> bool:
    """A reason for change that is empty, generic, or too short to explain anything."""
    if not isinstance(reason, str):
        return True
    words = re.sub(r"[^a-z0-9]+", " ", reason.lower()).strip()
    return words in BOILERPLATE or len(words) < 12


def signature(b: dict[str, Any]) -> tuple[str, str]:
    """(printed name, meaning) from body.signature (21 CFR 11.50)."""
    sig = b.get("signature")
    if not isinstance(sig, dict) or set(sig) != {"printed_name", "meaning"}:
        raise BadStatement("body.signature must be {printed_name, meaning} (21 CFR 11.50)")
    f.text(sig, "printed_name", 200)
    if sig["meaning"] not in MEANINGS:
        raise BadStatement(f"body.signature.meaning must be one of {sorted(MEANINGS)}")
    return str(sig["printed_name"]), str(sig["meaning"])


def date(b: dict[str, Any], field: str) -> str:
    value = b.get(field)
    if not isinstance(value, str) or not _DATE.match(value):
        raise BadStatement(f"body.{field} must be a date YYYY-MM-DD")
    return value


def reason(b: dict[str, Any], field: str = "reason") -> str:
    value = b.get(field)
    if is_boilerplate(value):
        raise BadStatement(
            f"body.{field} must say why (an empty or boilerplate reason is not a reason): {value!r}"
        )
    return str(value)


def audit(
    ledger: Ledger,
    b: dict[str, Any],
    trial: str,
    action: str,
    what: str,
    party: str,
    why: str | None = None,
) -> None:
    printed, meaning = signature(b)
    seq = ledger.next_seq("trial_event")
    ledger.put(
        "trial_event",
        {
            "idx": ledger.index,
            "seq": seq,
            "trial_id": trial,
            "action": action,
            "subject": what,
            "reason": why,
            "party": party,
            "printed_name": printed,
            "meaning": meaning,
            "key_id": ledger.key_id,
            "at": ledger.logged_at,
        },
    )


def require_trial(ledger: Ledger, trial_id: object) -> dict[str, Any]:
    trial = ledger.get("trial", trial_id) if isinstance(trial_id, str) else None
    if trial is None:
        raise Conflict(f"trial {trial_id!r} is not registered", trial=trial_id)
    return trial


def require_sponsor(trial: dict[str, Any], party: str) -> None:
    if trial["sponsor"] != party:
        raise WrongRole(f"only the trial's sponsor {trial['sponsor']} may do this")


def latest_version(ledger: Ledger, table: str, *key: str) -> int:
    """Highest version (0 if none) of rows keyed (*key, version), found by probing the next."""
    version = 0
    while ledger.get(table, *key, version + 1) is not None:
        version += 1
    return version


def latest_protocol(ledger: Ledger, trial_id: str) -> int:
    return latest_version(ledger, "protocol_version", trial_id)


def check_payload(ledger: Ledger, payload: str) -> dict[str, Any] | None:
    """The stored payload a statement names; None if erased after this entry (a replay)."""
    stored = ledger.get("trial_payload", payload)
    if stored is None:
        raise Conflict(f"payload {payload} was not uploaded (POST /api/v1/trials/payloads)")
    if stored["erased_index"] is not None:
        if stored["erased_index"] < ledger.index:
            raise Conflict(f"payload {payload} was erased at entry {stored['erased_index']}")
        return None  # verified when it was first logged; its bytes are gone since
    return stored
