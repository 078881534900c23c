"""General CBV 2.0 §8.9.2 pre-hash string of an EPCIS event, for any shape of event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from provenance.epcis.canon import canon_value, utc_millis
from provenance.epcis.context import expanded_vocabulary
from provenance.epcis.tree import UNSORTED_MARKERS, Converter, Element

__all__ = ["EVENT_ORDER", "general_prehash", "position"]


_Order = tuple[tuple[str, "_Order | None"], ...]
_QUANTITY: _Order = (("quantityElement", (("epcClass", None), ("quantity", None), ("uom", None))),)
_EPCS: _Order = (("epc", None),)
_SENSOR_METADATA: _Order = tuple(
    (n, None)
    for n in (
        "time",
        "startTime",
        "endTime",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "bizRules",
    )
)
_SENSOR_REPORT: _Order = tuple(
    (n, None)
    for n in (
        "type",
        "exception",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "time",
        "microorganism",
        "chemicalSubstance",
        "value",
        "component",
        "stringValue",
        "booleanValue",
        "hexBinaryValue",
        "uriValue",
        "minValue",
        "maxValue",
        "meanValue",
        "sDev",
        "percRank",
        "percValue",
        "uom",
        "coordinateReferenceSystem",
    )
)
# CBV 2.0 §8.9.2 table: the canonical order of event fields.
EVENT_ORDER: _Order = (
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", _EPCS),
    ("inputEPCList", _EPCS),
    ("childEPCs", _EPCS),
    ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY),
    ("inputQuantityList", _QUANTITY),
    ("outputEPCList", _EPCS),
    ("outputQuantityList", _QUANTITY),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", (("id", None),)),
    ("bizLocation", (("id", None),)),
    (
        "sensorElementList",
        (
            (
                "sensorElement",
                (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT)),
            ),
        ),
    ),
)
# Not part of what happened, so not part of the hash (CBV 2.0 §8.9.2).
_IGNORED_TOP = frozenset({"recordTime", "eventID", "type", "errorDeclaration"})


@lru_cache(maxsize=1024)
def _is_time(name: str) -> bool:
    lowered = name.lower()
    return "time" in lowered and "offset" not in lowered


def _take_extensions(children: list[Any]) -> list[Any]:
    """User extensions nested in a standard element go after its standard fields."""
    if len(children) <= 1:
        return []
    ext = []
    for child in children:
        name = child[0]
        if isinstance(name, str):
            if "eventTime" in name or "action" in name:
                # top level: extensions are hashed with the other non-standard fields
                return []
            if "{" in name and "/}" in name:
                ext.append(child)
    if ext:
        taken = {id(e) for e in ext}
        children[:] = [c for c in children if id(c) not in taken]
    return ext


_INDEX: dict[int, dict[str, int]] = {}


def position(order: _Order) -> dict[str, int]:
    """Field name -> its place in `order`, computed once per order."""
    index = _INDEX.get(id(order))
    if index is None:
        index = _INDEX[id(order)] = {name: at for at, (name, _) in enumerate(order)}
    return index


def _ordered(children: list[Any], order: _Order) -> str:
    if order is _EPCS:
        return _identifiers(children)
    extensions = _take_extensions(children)
    index = position(order)
    buckets: dict[int, list[Any]] = {}
    for child in children:
        name = child[0]
        if type(name) is str:
            at = index.get(name)
            if at is not None:
                bucket = buckets.get(at)
                if bucket is None:
                    buckets[at] = [child]
                else:
                    bucket.append(child)
    out = ""
    consumed = False
    for at in sorted(buckets):
        sub = order[at][1]
        values: list[str] = []
        for child in buckets[at]:
            text = _element_string(child, sub)
            if text:
                values.append(text)
            if not child[2]:
                consumed = True
        if values:
            if len(values) > 1:
                values.sort()
            out += "".join(values)
    if consumed:
        # what was hashed here leaves the tree; the rest is hashed as non-standard content
        children[:] = [c for c in children if c[2] or type(c[0]) is not str or c[0] not in index]
    if extensions:
        out += _generic(extensions)
    return out


def _identifiers(children: list[Any]) -> str:
    """epcList and the like: sorted "epc=<canonical DL>" entries."""
    values = []
    kept = []
    for child in children:
        if child[0] == "epc":
            if child[2]:
                kept.append(child)  # structured content is hashed with the non-standard rest
            text = child[1].strip() if child[1] else ""
            if text:
                values.append("epc=" + canon_value(text))
        else:
            kept.append(child)
    values.sort()
    children[:] = kept
    return "".join(values)


def _element_string(child: Element, sub: _Order | None) -> str:
    nested = _ordered(child[2], sub) if sub is not None and child[2] else ""
    text = child[1]
    if text:
        text = text.strip()
        text = utc_millis(text) if _is_time(child[0]) else canon_value(text)
        if text:
            text = "=" + text
    if text or nested:
        return str(child[0]) + str(text) + nested
    return ""


def _generic(children: Sequence[Any]) -> str:
    values: list[str] = []
    sort = len(children) > 1
    typed = ""
    for child in children:
        if type(child) is tuple:
            values.append(_generic(child))
            continue
        if child[0] in UNSORTED_MARKERS:
            # source/destination/bizTransaction pairs: "type" first, then its value, whatever
            # order the JSON members come in (as the reference generator hashes them)
            sort = False
        text = child[1].strip()
        if text:
            text = "=" + canon_value(text)
        value = str(child[0]) + text + (_generic(child[2]) if child[2] else "")
        if child[0] == "type" and not typed:
            typed = value
            continue
        values.append(value)
    if sort:
        values.append(typed)
        values.sort()
        return "".join(values)
    return typed + "".join(values)


def general_prehash(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> str:
    """The pre-hash string of an event of any shape, through its element tree."""
    converter = Converter(prefixes)
    children = converter.members(event)
    converter.resolve_bare(expanded_vocabulary(event, prefixes))
    event_type = event.get("type", "")
    head = "eventType=" + (event_type if isinstance(event_type, str) else "")
    ordered = _ordered(children, EVENT_ORDER)
    rest = [c for c in children if c[0] not in _IGNORED_TOP]
    return head + ordered + (_generic(rest) if rest else "")
