"""Candidate readings of GS1 scanner data whose GS (FNC1) separators may have been lost (pure)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from provenance.gs1.ai import AIEntry, is_valid, lookup_prefix, unbracketed
from provenance.gs1.keys import element_string

GS = "\x1d"
#: Readings enumerated at most: a real pack code has three or four AIs, so a handful of
#: readings; the bound keeps a hostile input (20 digits of "1010…") cheap.
MAX_CANDIDATES = 16
#: Longer data is not split: a pack's DataMatrix holds well under 100 characters of AI data.
MAX_DATA_LENGTH = 256
#: Symbology identifiers whose data is GS1 AI data (ISO/IEC 15424), stripped before splitting.
_AI_PREFIXES = ("]d2", "]Q3", "]C1", "]e0")
_WHITESPACE = " \t\r\n\v\f\x00"


@dataclass(frozen=True)
class Split:
    """One reading of the data: its AIs, and the values after which a separator was assumed."""

    ais: tuple[tuple[str, str], ...]
    #: (AI, value) of each variable-length field this reading ends early, where a GS was lost.
    cut_after: tuple[tuple[str, str], ...] = ()

    @property
    def values(self) -> dict[str, str]:
        return dict(self.ais)

    def bracketed(self) -> str:
        return element_string(self.ais)

    def describe(self) -> str:
        """What the reading assumed, for a person: `GS assumed after (10) AMX2611A`."""
        if not self.cut_after:
            return f"read as {self.bracketed()}"
        cuts = ", ".join(f"({ai}) {value}" for ai, value in self.cut_after)
        return f"missing GS separator assumed after {cuts}: read as {self.bracketed()}"


def _ends(entry: AIEntry, data: str, start: int) -> Iterator[tuple[int, bool]]:
    """Where a field's value may end: (end, whether a lost separator is assumed there)."""
    if not entry.fnc1:
        yield start + (entry.fixed_length or 0), False
        return
    hard = data.find(GS, start)
    hard = len(data) if hard < 0 else hard
    # The value as delimited first (no assumption), then ever shorter ones.
    if hard - start <= entry.max_length:
        yield hard, False
    for end in range(min(hard, start + entry.max_length), start, -1):
        if end != hard:
            yield end, True


def _readings(data: str, i: int, seen: frozenset[str]) -> Iterator[Split]:
    if i == len(data):
        yield Split(())
        return
    entry = lookup_prefix(data, i)
    if entry is None or entry.ai in seen:
        return  # no AI here, or one a message may carry only once
    start = i + len(entry.ai)
    for end, assumed in _ends(entry, data, start):
        value = data[start:end]
        if end > len(data) or not is_valid(entry.ai, value):
            continue
        following = end + 1 if end < len(data) and data[end] == GS else end
        if following == len(data) and following != end:
            continue  # a trailing separator: not a reading of clean data
        cut = ((entry.ai, value),) if assumed else ()
        for rest in _readings(data, following, seen | {entry.ai}):
            yield Split(((entry.ai, value), *rest.ais), cut + rest.cut_after)


def candidate_splits(data: str, *, limit: int = MAX_CANDIDATES) -> list[Split]:
    """Every reading of GS-separated AI data (no symbology identifier, no leading GS) that
    assumes a lost separator inside some variable-length values, fewest assumptions first; the
    reading as delimited (no assumption), if valid, comes first. Each AI at most once."""
    found: list[Split] = []
    if len(data) > MAX_DATA_LENGTH:
        return found
    for split in _readings(data, 0, frozenset()):
        found.append(split)
        if len(found) >= limit:
            break
    return sorted(found, key=lambda s: len(s.cut_after))


def candidates_of_ais(ais: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> list[Split]:
    """The readings of a parsed scan's data: its AIs joined with GS after every
    variable-length value, as the symbol carried them, then split again."""
    return candidate_splits(unbracketed(ais, GS)[1:])


def scanner_data(text: str) -> str | None:
    """The AI data of a wedge's raw scan (symbology identifier, surrounding whitespace and a
    leading GS removed), or None if it does not look like AI data starting with a GTIN."""
    data = text.strip(_WHITESPACE)
    if data[:3] in _AI_PREFIXES:
        data = data[3:]
    data = data.lstrip(GS)
    return data if data.startswith("01") and data[2:16].isdigit() else None
