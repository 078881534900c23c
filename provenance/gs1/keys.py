"""GS1 identifiers: check digits, GLNs, GTINs, NDCs, lots, serials, expiry dates, DL URIs."""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Iterable, Mapping
from typing import NewType

from provenance.gs1.errors import BadIdentifier

#: Identifiers that passed their checks (or were read back from rows written after them);
#: at run time each is a plain str.
GTIN = NewType("GTIN", str)
GLN = NewType("GLN", str)
Lot = NewType("Lot", str)
Serial = NewType("Serial", str)

_DIGITS = re.compile(r"^\d+$")

#: GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1).
CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_NDC10 = re.compile(r"^(?:\d{4}-\d{4}-\d{2}|\d{5}-\d{3}-\d{2}|\d{5}-\d{4}-\d)$")


def check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of the digits that precede it (weights 3,1,3,... from the right)."""
    total = 3 * sum(map(int, digits[::-2])) + sum(map(int, digits[-2::-2]))
    return (10 - total % 10) % 10


def is_valid_gln(value: object) -> bool:
    """A GLN is 13 digits whose last digit is the GS1 check digit of the first twelve."""
    return (
        isinstance(value, str)
        and len(value) == 13
        and _DIGITS.match(value) is not None
        and check_digit(value[:12]) == int(value[12])
    )


def with_check_digit(digits: str) -> str:
    return digits + str(check_digit(digits))


def has_valid_check_digit(value: str) -> bool:
    """True if ``value`` is two or more ASCII digits ending in their GS1 mod-10 check digit."""
    return (
        len(value) >= 2
        and value.isascii()
        and value.isdigit()
        and check_digit(value[:-1]) == int(value[-1])
    )


def is_valid_gtin(value: object) -> bool:
    """A GTIN-14: fourteen digits ending in a correct check digit."""
    return isinstance(value, str) and len(value) == 14 and has_valid_check_digit(value)


def normalise_gtin(value: str) -> GTIN:
    """A GTIN-8, -12, -13 or -14 as its GTIN-14 (left zero padded), check digit verified."""
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        raise BadIdentifier(f"GTIN {value!r} must consist of digits only", identifier=str(value))
    if len(value) not in (8, 12, 13, 14):
        raise BadIdentifier(
            f"GTIN {value!r} has {len(value)} digits; expected 8, 12, 13 or 14", identifier=value
        )
    if not has_valid_check_digit(value):
        expected = check_digit(value[:-1])
        raise BadIdentifier(
            f"GTIN {value!r} has check digit {value[-1]}, expected {expected}", identifier=value
        )
    return GTIN(value.zfill(14))


def ndc_to_gtin(ndc: str) -> GTIN:
    """A US NDC-10 (4-4-2, 5-3-2, 5-4-1 hyphenated, or 10 plain digits) as its GTIN-14."""
    if not isinstance(ndc, str):
        raise BadIdentifier("NDC must be a string", identifier=str(ndc))
    digits = ndc.replace("-", "")
    if digits.isascii() and digits.isdigit() and len(digits) == 11:
        # An 11-digit (5-4-2 billing) NDC was zero padded in one of three segments; which one
        # cannot be recovered from the digits, so guessing would mint the wrong GTIN.
        raise BadIdentifier(
            f"NDC {ndc!r} is an 11-digit billing NDC; give the 10-digit NDC as printed on the"
            " package (4-4-2, 5-3-2 or 5-4-1)",
            identifier=ndc,
        )
    if not (_NDC10.match(ndc) or (len(ndc) == 10 and ndc.isascii() and ndc.isdigit())):
        raise BadIdentifier(
            f"NDC {ndc!r} is not a 10-digit NDC in 4-4-2, 5-3-2 or 5-4-1 form", identifier=ndc
        )
    return GTIN(with_check_digit("003" + digits))


def gtin_to_ndc(gtin: str) -> str | None:
    """The 10-digit NDC inside a GTIN-14 of the form "003" + NDC + check digit, else None."""
    if not is_valid_gtin(gtin) or not gtin.startswith("003"):
        return None
    return gtin[3:13]


def _is_cset82_text(value: object, max_len: int) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= max_len and all(c in CSET82 for c in value)


def is_valid_lot(value: object) -> bool:
    """A batch/lot number (AI 10): 1-20 characters from GS1 character set 82."""
    return _is_cset82_text(value, 20)


def is_valid_serial(value: object) -> bool:
    """A serial number (AI 21): 1-20 characters from GS1 character set 82."""
    return _is_cset82_text(value, 20)


def resolve_century(yy: int, today: datetime.date | None = None) -> int:
    """Four-digit year for a two-digit one, per the GS1 General Specifications section 7.12."""
    now = today or datetime.date.today()
    century, current = divmod(now.year, 100)
    diff = yy - current
    if 51 <= diff <= 99:
        century -= 1
    elif -99 <= diff <= -50:
        century += 1
    return century * 100 + yy


def parse_expiry(yymmdd: str, *, today: datetime.date | None = None) -> datetime.date:
    """A GS1 YYMMDD date (day 00 = last day of the month) with the sliding-century rule."""
    if not isinstance(yymmdd, str) or len(yymmdd) != 6 or not yymmdd.isascii():
        raise BadIdentifier(f"date {yymmdd!r} must be six digits YYMMDD", value=str(yymmdd))
    if not yymmdd.isdigit():
        raise BadIdentifier(f"date {yymmdd!r} must be six digits YYMMDD", value=yymmdd)
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    if not 1 <= mm <= 12:
        raise BadIdentifier(f"date {yymmdd!r} has month {mm:02d}", value=yymmdd)
    year = resolve_century(yy, today)
    last = calendar.monthrange(year, mm)[1]
    if dd > last:
        raise BadIdentifier(f"date {yymmdd!r}: {year}-{mm:02d} has no day {dd:02d}", value=yymmdd)
    return datetime.date(year, mm, dd or last)


def percent_encode(value: str) -> str:
    """Percent-encode everything outside the URI unreserved set, as GS1 Digital Link requires."""
    return "".join(
        c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in value
    )


def digital_link_uri(
    stem: str,
    gtin: str,
    lot: str | None = None,
    serial: str | None = None,
    expiry: str | None = None,
) -> str:
    """A GS1 Digital Link URI: stem/01/GTIN[/10/lot][/21/serial][?17=expiry]."""
    if not isinstance(stem, str) or not re.match(r"^https?://[^/?#]+(/[^?#]*)?$", stem):
        raise BadIdentifier(f"Digital Link stem {stem!r} must be an http(s) URI", stem=str(stem))
    uri = f"{stem.rstrip('/')}/01/{normalise_gtin(gtin)}"
    if lot is not None:
        if not is_valid_lot(lot):
            raise BadIdentifier(f"lot {lot!r} is not 1-20 GS1 set-82 characters", lot=lot)
        uri += "/10/" + percent_encode(lot)
    if serial is not None:
        if not is_valid_serial(serial):
            raise BadIdentifier(f"serial {serial!r} is not 1-20 GS1 set-82 characters")
        uri += "/21/" + percent_encode(serial)
    if expiry is not None:
        parse_expiry(expiry)
        uri += "?17=" + expiry
    return uri


def element_string(ais: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """Bracketed element string "(01)...(17)..." in the given order ("(" in values escaped)."""
    pairs = ais.items() if isinstance(ais, Mapping) else ais
    out = []
    for ai, value in pairs:
        if not (2 <= len(ai) <= 4 and ai.isascii() and ai.isdigit()) or not value:
            raise BadIdentifier(f"cannot render AI {ai!r} with value {value!r}", ai=ai)
        # A bare "(" in a value would read back as the start of the next AI.
        out.append(f"({ai}){value.replace('(', chr(92) + '(')}")
    return "".join(out)
