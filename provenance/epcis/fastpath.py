"""Fast path of the CBV 2.0 §8.9.2 pre-hash string, for events of the common plain shapes."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from provenance.epcis.canon import canon, canon_value, may_be_number, utc_millis
from provenance.epcis.context import (
    VOCAB_BIZSTEP,
    VOCAB_BTT,
    VOCAB_DISP,
    VOCAB_PREFIXES,
    VOCAB_SDT,
    expand_curie,
)
from provenance.epcis.prehash import EVENT_ORDER, position
from provenance.epcis.tree import SKIP_KEYS, UNSORTED_MARKERS, suffix_index

__all__ = ["fast_prehash"]


# Most captured events use only the standard fields below with their standard shapes, and at
# most an ilmd of namespaced strings. For those the pre-hash string is built straight from the
# JSON in one pass; the result is the same as the general path's (the tests compare the two on
# every vector and on each shape accepted here), only several times cheaper.

_SKIP, _SCALAR, _TIME, _IDS, _QUANTITIES, _LOCATION, _PAIRS, _ILMD = range(8)


def _fast_field(name: str, kind: int) -> tuple[int, int]:
    """(kind, position in EVENT_ORDER; -1 for fields hashed after the ordered ones)."""
    return kind, -1 if kind == _SKIP else position(EVENT_ORDER).get(name, -1)


_FAST_FIELDS: dict[str, tuple[int, int]] = {
    **{n: _fast_field(n, _SKIP) for n in ("type", "recordTime", "eventID")},
    "eventTime": _fast_field("eventTime", _TIME),
    **{
        n: _fast_field(n, _SCALAR)
        for n in (
            "eventTimeZoneOffset",
            "parentID",
            "action",
            "transformationID",
            "bizStep",
            "disposition",
        )
    },
    **{n: _fast_field(n, _IDS) for n in ("epcList", "inputEPCList", "childEPCs", "outputEPCList")},
    **{
        n: _fast_field(n, _QUANTITIES)
        for n in ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
    },
    **{n: _fast_field(n, _LOCATION) for n in ("readPoint", "bizLocation")},
    **{n: _fast_field(n, _PAIRS) for n in ("bizTransactionList", "sourceList", "destinationList")},
    "ilmd": _fast_field("ilmd", _ILMD),
}
# The @vocab-typed fields among them (see epcis_context.expanded_vocabulary).
_FAST_TYPED = (("bizStep", VOCAB_BIZSTEP), ("disposition", VOCAB_DISP))
_FAST_TYPED_PAIRS = (
    ("bizTransactionList", VOCAB_BTT),
    ("sourceList", VOCAB_SDT),
    ("destinationList", VOCAB_SDT),
)
_QUANTITY_KEYS = frozenset({"epcClass", "quantity", "uom"})
_PAIR_KEYS = frozenset({"type", "bizTransaction", "source", "destination"})
_NO_INDEX: dict[str, str | None] = {}
_SLOTS = len(EVENT_ORDER)


def fast_prehash(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> str | None:
    """The pre-hash string of an event of the shapes in _FAST_FIELDS, else None."""
    vocabulary = _typed_vocabulary(event, prefixes)
    literals: set[str] = set()
    index = suffix_index(frozenset(vocabulary)) if vocabulary else _NO_INDEX
    text = _fast_build(event, prefixes, index, literals)
    if text is not None and not literals.issubset(vocabulary):
        # Full vocabulary IRIs written elsewhere in the event also resolve bare terms (rare).
        index = suffix_index(frozenset(vocabulary | literals))
        text = _fast_build(event, prefixes, index, literals)
    return text


def _typed_vocabulary(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> set[str]:
    """`expanded_vocabulary` of an event the fast path accepts (it rejects other shapes)."""
    found: set[str] = set()
    for key, terms in _FAST_TYPED:
        value = event.get(key)
        if type(value) is str:
            iri = terms.get(value) or expand_curie(value, prefixes)  # as in epcis_context._vocab
            if iri.startswith(VOCAB_PREFIXES):
                found.add(iri)
    for key, terms in _FAST_TYPED_PAIRS:
        items = event.get(key)
        if type(items) is list:
            for item in items:
                value = item.get("type") if type(item) is dict else None
                if type(value) is str:
                    iri = terms.get(value) or expand_curie(value, prefixes)
                    if iri.startswith(VOCAB_PREFIXES):
                        found.add(iri)
    return found


def _fast_build(
    event: Mapping[str, Any],
    prefixes: Mapping[str, str],
    index: Mapping[str, str | None],
    literals: set[str],
) -> str | None:
    """The pre-hash string, bare terms resolved with `index`; None for shapes not handled here.
    Adds the vocabulary IRIs written out in the event to `literals` (as Converter.text)."""
    slots = [""] * _SLOTS
    tail = []
    values: list[str]
    for key, value in event.items():
        field = _FAST_FIELDS.get(key)
        if field is None:
            return None
        kind, slot = field
        if kind <= _TIME:  # _SKIP, _SCALAR, _TIME
            if type(value) is not str:
                return None
            if kind == _SCALAR:
                text = _fast_value(value, prefixes, index, literals)
                if text:
                    slots[slot] = key + "=" + text
            elif kind == _TIME:
                # expanded and stripped as other values, then a timestamp, not canonicalised
                text = _fast_text(value, prefixes, index, literals).strip()
                if text:
                    slots[slot] = key + "=" + utc_millis(text)
            elif value.startswith(VOCAB_PREFIXES):
                literals.add(value)
        elif kind == _IDS:
            if type(value) is not list:
                return None
            values = []
            for epc in value:
                if type(epc) is not str:
                    return None
                text = _fast_value(epc, prefixes, index, literals)
                if text:
                    values.append("epc=" + text)
            if values:
                values.sort()
                slots[slot] = key + "".join(values)
        elif kind == _LOCATION:
            uri = value.get("id") if type(value) is dict and len(value) == 1 else None
            if type(uri) is not str:
                return None
            text = _fast_value(uri, prefixes, index, literals)
            if text:
                slots[slot] = key + "id=" + text
        elif kind == _PAIRS:
            if type(value) is not list:
                return None
            values = []
            for item in value:
                pair = _fast_pair(item, prefixes, index, literals)
                if pair is None:
                    return None
                values.append(pair)
            if values:
                values.sort()
                tail.append(key + "".join(values))
        elif kind == _ILMD:
            part = _fast_ilmd(value, prefixes, index, literals)
            if part is None:
                return None
            tail.append(key + part)
        else:  # _QUANTITIES
            part = _fast_quantities(value, prefixes, index, literals)
            if part is None:
                return None
            if part:
                slots[slot] = key + part
    if len(tail) > 1:
        tail.sort()
    event_type: str = event.get("type", "")
    return "eventType=" + event_type + "".join(slots) + "".join(tail)


def _fast_text(
    text: str, prefixes: Mapping[str, str], index: Mapping[str, str | None], literals: set[str]
) -> str:
    """A JSON string as the general path reads it (`Converter.text`): a compact IRI expanded,
    a vocabulary IRI noted in `literals`, a bare term resolved (`Converter.resolve_bare`)."""
    if ":" in text:
        if text.startswith(VOCAB_PREFIXES):
            literals.add(text)
        prefix, _, rest = text.partition(":")
        return prefixes[prefix] + rest if prefix in prefixes and not rest.startswith("//") else text
    return (index.get(text) or text) if text else text


def _fast_value(
    text: str, prefixes: Mapping[str, str], index: Mapping[str, str | None], literals: set[str]
) -> str:
    """`_fast_text`, stripped and canonicalised ("" if blank); inlined, as it runs per value."""
    if ":" in text:
        if text.startswith(("https://", "http://")):  # never a compact IRI
            if text.startswith(VOCAB_PREFIXES):
                literals.add(text)
        else:
            prefix, _, rest = text.partition(":")
            if prefix in prefixes and not rest.startswith("//"):
                text = prefixes[prefix] + rest
    elif text:
        text = index.get(text) or text
    text = text.strip()
    if "." not in text and not may_be_number(text[:1]) and "urn:epcglobal:cbv:" not in text:
        return text  # what canon would return: no CBV URN, no number, no EPC (all have a '.')
    return canon(text) if len(text) < 2048 else text


def _fast_pair(
    item: Any, prefixes: Mapping[str, str], index: Mapping[str, str | None], literals: set[str]
) -> str | None:
    # A third field would be left out of the pair but not out of the vocabulary: general path.
    if type(item) is not dict or len(item) > 2 or not _PAIR_KEYS.issuperset(item):
        return None
    parts = []
    typed = ""
    ordered = False  # with its identifier, "type" comes first (see epcis_prehash._generic)
    for key, raw in item.items():
        if type(raw) is not str:
            return None
        text = _fast_value(raw, prefixes, index, literals)
        part = key + "=" + text if text else key
        if key == "type":
            typed = part
        else:
            parts.append(part)
        if key in UNSORTED_MARKERS:
            ordered = True
    if not ordered:
        return "".join(sorted([typed, *parts]))
    return typed + "".join(parts)


def _fast_quantities(
    items: Any, prefixes: Mapping[str, str], index: Mapping[str, str | None], literals: set[str]
) -> str | None:
    if type(items) is not list:
        return None
    values = []
    for item in items:
        if type(item) is not dict or not _QUANTITY_KEYS.issuperset(item):
            return None
        text = ""
        for key in ("epcClass", "quantity", "uom"):
            if key not in item:
                continue
            raw = item[key]
            if key == "quantity":
                if raw is None:
                    continue
                if type(raw) not in (int, float):
                    return None
                part = canon_value(str(raw))
            else:
                if type(raw) is not str:
                    return None
                part = _fast_value(raw, prefixes, index, literals)
            if part:
                text += key + "=" + part
        if text:
            values.append("quantityElement" + text)
    values.sort()
    return "".join(values)


def _fast_ilmd(
    fields: Any, prefixes: Mapping[str, str], index: Mapping[str, str | None], literals: set[str]
) -> str | None:
    if type(fields) is not dict:
        return None
    values = []
    for key, raw in fields.items():
        name = _ilmd_name(key, prefixes)
        if name is None or type(raw) is not str:
            return None
        text = _fast_value(raw, prefixes, index, literals)
        values.append(name + "=" + text if text else name)
    values.sort()
    return "".join(values)


def _ilmd_name(key: Any, prefixes: Mapping[str, str]) -> str | None:
    """The element name of a namespaced ilmd field (`Converter.key`); None for names the fast
    path leaves alone (no known prefix, skipped by the general path, or read as a list)."""
    parts = _ilmd_parts(key) if type(key) is str else None
    if parts is None or parts[0] not in prefixes:
        return None
    return "{" + prefixes[parts[0]] + "}" + parts[1]


@lru_cache(maxsize=1024)
def _ilmd_parts(key: str) -> tuple[str, str] | None:
    prefix, sep, local = key.partition(":")
    if not sep or key in SKIP_KEYS or local.endswith("List"):
        return None
    return prefix, local
