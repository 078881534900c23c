"""GS1 company prefixes: the registry authority assigns them; a GTIN belongs to their holder."""

from __future__ import annotations

from typing import Any

from provenance.gs1.keys import GLN, GTIN
from provenance.log.errors import BadStatement, Conflict, WrongRole
from provenance.log.identity import IdentityView
from provenance.log.ledger import Ledger
from provenance.supply.rows import COMPANY_PREFIX, COMPANY_PREFIX_STEM, CompanyPrefixRow

#: The GS1 General Specifications (glossary, "GS1 Company Prefix") allow four to twelve digits:
#: a GS1 Prefix and at least one more digit. Both bounds are enforced; whether the leading
#: digits are a GS1 Prefix in use is the registry authority's to answer for.
SHORTEST, LONGEST = 4, 12
#: A GTIN-8 held as a GTIN-14 is six zeros and its eight digits, so "00000" and the GTIN-8 after
#: the indicator digit. GS1 keeps that range free of company prefixes and allocates GTIN-8s one
#: at a time, so a prefix there names exactly one GTIN-8: "00000" and its first seven digits.
GTIN8_RANGE = "00000"
#: Only manufacturers register products, so only they hold prefixes.
HOLDER_ROLE = "manufacturer"


def company_prefix(body: dict[str, Any], field: str = "prefix") -> str:
    """A GS1 company prefix in its GS1 form: a U.P.C. Company Prefix (of GTIN-12s) is given
    with its leading zero, as GS1 writes it."""
    value = body.get(field)
    if not (
        isinstance(value, str)
        and SHORTEST <= len(value) <= LONGEST
        and value.isascii()
        and value.isdigit()
    ):
        raise BadStatement(
            f"body.{field} must be a GS1 company prefix of {SHORTEST} to {LONGEST} digits"
        )
    if value.startswith(GTIN8_RANGE) and len(value) != LONGEST:
        raise BadStatement(
            f"body.{field} starts with {GTIN8_RANGE}, the range of GTIN-8s, which are assigned one "
            f"at a time: give {GTIN8_RANGE} and the GTIN-8's first seven digits"
        )
    return value


def assign(ledger: Ledger, view: IdentityView, *, gln: GLN, prefix: str) -> None:
    """Assign `prefix` to a manufacturer, unless it overlaps a prefix held by anyone."""
    holder = view.party(gln)
    if holder is None:
        raise Conflict(f"party {gln} is not registered", gln=gln)
    if HOLDER_ROLE not in holder.roles:
        raise BadStatement(f"party {gln} is not a manufacturer: only manufacturers hold prefixes")
    clash = _overlap(ledger, prefix)
    if clash is not None:
        held, by = clash["prefix"], clash["gln"]
        said = "is already assigned" if held == prefix else f"overlaps prefix {held}, assigned"
        raise Conflict(f"prefix {prefix} {said} to {by}", prefix=prefix, assigned=held, gln=by)
    COMPANY_PREFIX.put(
        ledger,
        {
            "prefix": prefix,
            "gln": gln,
            "assigned_index": ledger.index,
            "assigned_at": ledger.logged_at,
        },
    )
    for stem in _leading_parts(prefix, len(prefix) - 1):
        if COMPANY_PREFIX_STEM.get(ledger, (stem,)) is None:
            COMPANY_PREFIX_STEM.put(ledger, {"stem": stem, "prefix": prefix})


def assignment_of(ledger: Ledger, gtin: GTIN) -> CompanyPrefixRow | None:
    """The assignment whose prefix leads the GTIN's digits after its indicator digit (at most
    one does: assigned prefixes never overlap). A GTIN-12 is held as "00" and its twelve digits,
    so its U.P.C. Company Prefix is found in its GS1 form, with one leading zero."""
    return _longest_assigned(ledger, gtin[1:], LONGEST)


def require_holder(ledger: Ledger, *, party: GLN, gtin: GTIN) -> None:
    """Rules 2: only the holder of a GTIN's company prefix registers it."""
    assignment = assignment_of(ledger, gtin)
    if assignment is None:
        raise WrongRole(
            f"GTIN {gtin}: its GS1 company prefix (leading digits of {gtin[1:]}) is assigned to "
            f"no party, so {party} cannot register it; the registry authority assigns prefixes",
            gtin=gtin,
        )
    if assignment["gln"] != party:
        raise WrongRole(
            f"GTIN {gtin} is under GS1 company prefix {assignment['prefix']}, assigned to "
            f"{assignment['gln']}, not to {party}",
            gtin=gtin,
            prefix=assignment["prefix"],
        )


def _overlap(ledger: Ledger, prefix: str) -> CompanyPrefixRow | None:
    """An assigned prefix that `prefix` would cover, be covered by, or repeat."""
    found = _longest_assigned(ledger, prefix, len(prefix))
    if found is not None:
        return found
    stem = COMPANY_PREFIX_STEM.get(ledger, (prefix,))
    return COMPANY_PREFIX.get(ledger, (stem["prefix"],)) if stem is not None else None


def _longest_assigned(ledger: Ledger, digits: str, longest: int) -> CompanyPrefixRow | None:
    parts = _leading_parts(digits, longest)
    ledger.prefetch(COMPANY_PREFIX.name, [(part,) for part in parts])
    for part in reversed(parts):
        found = COMPANY_PREFIX.get(ledger, (part,))
        if found is not None:
            return found
    return None


def _leading_parts(digits: str, longest: int) -> list[str]:
    """The leading parts of `digits` that could be company prefixes, up to `longest` digits."""
    return [digits[:length] for length in range(SHORTEST, min(longest, len(digits)) + 1)]
