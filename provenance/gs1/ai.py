"""GS1 Application Identifiers: the AI table, value validation and element-string syntax."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from provenance.gs1.ai_table import TABLE
from provenance.gs1.errors import BadIdentifier
from provenance.gs1.keys import CSET82, has_valid_check_digit

_CSETS = {
    "N": frozenset("0123456789"),
    "X": CSET82,
    "Y": frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    "Z": frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="),
}
_CSET82_ORDER = (
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83)


@dataclass(frozen=True)
class Component:
    cset: str
    min_len: int
    max_len: int
    optional: bool
    linters: tuple[str, ...]


@dataclass(frozen=True)
class AIEntry:
    ai: str
    title: str
    fnc1: bool  # True when a separator must follow the value unless it ends the message
    dl_attribute: bool
    components: tuple[Component, ...]
    #: Alternative key-qualifier sequences when this AI is a Digital Link primary key.
    dl_qualifiers: tuple[tuple[str, ...], ...] | None

    @property
    def fixed_length(self) -> int | None:
        """The value length if every component is mandatory and fixed, else None."""
        if any(c.optional or c.min_len != c.max_len for c in self.components):
            return None
        return sum(c.max_len for c in self.components)

    @property
    def max_length(self) -> int:
        return sum(c.max_len for c in self.components)


def _component(token: str) -> Component:
    optional = token.startswith("[")
    kind, *linters = token.replace("[", "").replace("]", "").split(",")
    lengths = kind[1:]
    low, high = (1, int(lengths[2:])) if lengths.startswith("..") else (int(lengths),) * 2
    return Component(kind[0], low, high, optional, tuple(linters))


def _load() -> dict[str, AIEntry]:
    table: dict[str, AIEntry] = {}
    for line in TABLE.splitlines():
        body, _, title = line.partition(" # ")
        ais, flags, *tokens = body.split()
        spec = [t for t in tokens if not t.startswith("dlpkey")]
        dlpkey = [t for t in tokens if t.startswith("dlpkey")]
        qualifiers = None
        if dlpkey:
            alternatives = dlpkey[0].partition("=")[2]
            qualifiers = (
                tuple(tuple(a.split(",")) for a in alternatives.split("|"))
                if alternatives
                else ((),)
            )
        first, _, last = ais.partition("-")
        for n in range(int(first), int(last or first) + 1):
            ai = str(n).zfill(len(first))
            table[ai] = AIEntry(
                ai, title, "*" not in flags, "?" in flags, tuple(map(_component, spec)), qualifiers
            )
    return table


AI_TABLE: dict[str, AIEntry] = _load()


def lookup_prefix(data: str, start: int = 0) -> AIEntry | None:
    """The AI that ``data`` begins with at ``start`` (GS1 AIs are prefix-free), or None."""
    for n in (2, 3, 4):
        entry = AI_TABLE.get(data[start : start + n])
        if entry is not None:
            return entry
    return None


def _valid_yymmdd(value: str, zero_day: bool) -> bool:
    month, day = int(value[2:4]), int(value[4:6])
    # Two-digit years: every YY divisible by 4 is a leap year within the GS1 century window.
    year = 2000 + int(value[:2])
    return (
        1 <= month <= 12 and (zero_day or day >= 1) and day <= calendar.monthrange(year, month)[1]
    )


def _valid_yyyymmdd(value: str, zero_day: bool) -> bool:
    year, month, day = int(value[:4]), int(value[4:6]), int(value[6:8])
    return (
        year >= 1
        and 1 <= month <= 12
        and (zero_day or day >= 1)
        and day <= calendar.monthrange(year, month)[1]
    )


def _valid_csumalpha(value: str) -> bool:
    if not 2 < len(value) <= len(_PRIMES) + 2 or any(c not in _CSET32 for c in value[-2:]):
        return False
    body = value[:-2]
    total = sum(_CSET82_ORDER.index(c) * _PRIMES[len(body) - 1 - i] for i, c in enumerate(body))
    total %= 1021
    return value[-2:] == _CSET32[total >> 5] + _CSET32[total & 31]


def _valid_pieceoftotal(value: str) -> bool:
    half = len(value) // 2
    piece, total = int(value[:half]), int(value[half:])
    return 1 <= piece <= total


#: Content checks applied; the others (company prefix, ISO code lists, coupons, ...) need
#: external registries and are not enforced here.
_LINTERS: dict[str, Callable[[str], bool]] = {
    "csum": has_valid_check_digit,
    "csumalpha": _valid_csumalpha,
    "yymmd0": lambda v: _valid_yymmdd(v, True),
    "yymmdd": lambda v: _valid_yymmdd(v, False),
    "yyyymmd0": lambda v: _valid_yyyymmdd(v, True),
    "yyyymmdd": lambda v: _valid_yyyymmdd(v, False),
    "nonzero": lambda v: int(v) != 0,
    "zero": lambda v: v == "0",
    "pieceoftotal": _valid_pieceoftotal,
    "winding": lambda v: v in ("0", "1", "9"),
    "yesno": lambda v: v in ("0", "1"),
    "hh": lambda v: int(v) <= 23,
    "mi": lambda v: int(v) <= 59,
    "hhmi": lambda v: int(v[:2]) <= 23 and int(v[2:]) <= 59,
}


def entry_for(ai: str) -> AIEntry:
    entry = AI_TABLE.get(ai)
    if entry is None:
        raise BadIdentifier(f"unknown GS1 Application Identifier ({ai})", ai=ai)
    return entry


def validate(ai: str, value: str) -> AIEntry:
    """Check ``value`` against the format and check-digit/date rules of AI ``ai``."""
    entry = entry_for(ai)
    pos = 0
    for comp in entry.components:
        if pos == len(value) and comp.optional:
            break
        part = value[pos : pos + comp.max_len]
        if len(part) < comp.min_len:
            raise BadIdentifier(
                f"AI ({ai}) value {value!r} is too short ({entry.title})", ai=ai, value=value
            )
        bad = [c for c in part if c not in _CSETS[comp.cset]]
        if bad:
            raise BadIdentifier(
                f"AI ({ai}) value {value!r} contains invalid character {bad[0]!r}",
                ai=ai,
                value=value,
            )
        for linter in comp.linters:
            check = _LINTERS.get(linter)
            if check is not None and not check(part):
                raise BadIdentifier(
                    f"AI ({ai}) value {value!r} fails the {linter} check ({entry.title})",
                    ai=ai,
                    value=value,
                )
        pos += len(part)
    if pos < len(value):
        raise BadIdentifier(
            f"AI ({ai}) value {value!r} is too long (at most {entry.max_length} characters)",
            ai=ai,
            value=value,
        )
    return entry


def is_valid(ai: str, value: str) -> bool:
    """Whether `validate` accepts the value for the AI."""
    try:
        validate(ai, value)
    except BadIdentifier:
        return False
    return True


def unbracketed(ais: Iterable[tuple[str, str]], fnc1: str = "^") -> str:
    """The FNC1 form: leading FNC1, then AIs with FNC1 after each variable-length value."""
    out = []
    needs_separator = False
    for ai, value in ais:
        if needs_separator:
            out.append(fnc1)
        out.append(ai + value)
        needs_separator = entry_for(ai).fnc1
    return fnc1 + "".join(out)


def parse_bracketed(text: str) -> list[tuple[str, str]]:
    """Parse "(01)...(10)..." ("\\(" is a literal parenthesis), validating every AI."""
    if not text.startswith("("):
        raise BadIdentifier("a bracketed element string must start with '('", position=0)
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        close = text.find(")", i)
        if text[i] != "(" or close < 0:
            raise BadIdentifier(f"expected '(AI)' at position {i} of {text!r}", position=i)
        ai = text[i + 1 : close]
        if not (ai.isascii() and ai.isdigit() and 2 <= len(ai) <= 4):
            raise BadIdentifier(f"({ai}) at position {i} is not an AI", position=i)
        i, chars = close + 1, []
        while i < len(text) and text[i] != "(":
            if text.startswith("\\(", i):
                chars.append("(")
                i += 2
            else:
                chars.append(text[i])
                i += 1
        value = "".join(chars)
        if not value:
            raise BadIdentifier(f"AI ({ai}) at position {close - len(ai) - 1} has no value")
        validate(ai, value)
        out.append((ai, value))
    return out
