"""The keys an event is found by: its EPCs by field, and every other field a query filters on.

An EPC is indexed in one form whatever form it was captured in: the canonical GS1 Digital Link
URI where it has one, so an EPC URN and its Digital Link find the same events. Every other field
(event type, action, bizStep, disposition, read point, business location, transactions,
sources, destinations, eventID, error declaration, quantities) is indexed as `@<field> <value>`:
the `@` sorts before any URI's first letter and the field name keeps each field's values one
contiguous range of the index, so a collection of a field's values is a walk of that range and a
range filter (quantities, declaration times) one range read."""

from __future__ import annotations

import functools
import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from provenance.epcis.canon import utc_millis
from provenance.epcis.document import EpcisEvent
from provenance.epcis.vocab import normalise_cbv
from provenance.errors import BadParameter
from provenance.gs1.epc_uri import normalise_epc

#: An EPC without a canonical form longer than this is indexed by its digest instead, so
#: every key fits a database index entry.
MAX_KEY = 512

#: EPCIS 2.0 SimpleEventQuery: the event fields each EPC parameter matches.
MATCH_FIELDS: dict[str, tuple[str, ...]] = {
    "MATCH_epc": ("epcList", "childEPCs"),
    "MATCH_parentID": ("parentID",),
    "MATCH_inputEPC": ("inputEPCList",),
    "MATCH_outputEPC": ("outputEPCList",),
    "MATCH_anyEPC": ("epcList", "childEPCs", "parentID", "inputEPCList", "outputEPCList"),
    "MATCH_epcClass": ("quantityList", "childQuantityList"),
    "MATCH_inputEPCClass": ("inputQuantityList",),
    "MATCH_outputEPCClass": ("outputQuantityList",),
    "MATCH_anyEPCClass": (
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
    ),
}

# Where an event type keeps the quantities `EpcisEvent.quantities` gathers.
_QUANTITY_FIELD = {
    "AggregationEvent": "childQuantityList",
    "AssociationEvent": "childQuantityList",
    "TransformationEvent": "outputQuantityList",
}


@functools.lru_cache(maxsize=1 << 16)
def epc_key(epc: str) -> str:
    """The indexed form of an EPC or EPC class: canonical Digital Link, else as given."""
    canonical = normalise_epc(epc)
    if canonical is not None:
        return canonical
    if len(epc) <= MAX_KEY:
        return epc
    return "sha-256:" + hashlib.sha256(epc.encode()).hexdigest()


def event_epcs(event: EpcisEvent) -> list[tuple[str, str]]:
    """(field, key) of every EPC and EPC class the event names and of each other field a query
    filters on (`event_fields`), each pair once."""
    pairs: dict[tuple[str, str], None] = {}
    for name, values in (
        ("epcList", event.epc_list),
        ("childEPCs", event.child_epcs),
        ("parentID", (event.parent_id,) if event.parent_id else ()),
        ("inputEPCList", event.input_epcs),
        ("outputEPCList", event.output_epcs),
    ):
        for epc in values:
            pairs[(name, epc_key(epc))] = None
    quantity_field = _QUANTITY_FIELD.get(event.type, "quantityList")
    for epc_class, _amount, _uom in event.quantities:
        pairs[(quantity_field, epc_key(epc_class))] = None
    for epc_class, _amount, _uom in event.input_quantities:
        pairs[("inputQuantityList", epc_key(epc_class))] = None
    for pair in event_fields(event):
        pairs[pair] = None
    return list(pairs)


def match_keys(parameter: str, value: str) -> list[str]:
    """The EPC keys a MATCH_ parameter's value names: a comma-separated list, any of which
    matches. EPC patterns (`urn:epc:idpat:…`) are refused rather than matched as literals."""
    keys = []
    for item in value.split(","):
        epc = item.strip()
        if not epc:
            raise BadParameter(f"{parameter} lists an empty EPC", parameter=parameter)
        if epc.startswith("urn:epc:idpat:") or "*" in epc:
            raise BadParameter(
                f"{parameter}: EPC patterns are not supported, only exact EPCs",
                parameter=parameter,
                value=epc,
            )
        keys.append(epc_key(epc))
    return list(dict.fromkeys(keys))


#: The fields indexed as `@<field> <value>` (each name fits the index's field column).
VALUE_FIELDS = (
    "eventType",
    "action",
    "bizStep",
    "disposition",
    "dispositionSet",
    "dispositionUnset",
    "readPoint",
    "bizLocation",
    "bizTransaction",
    "source",
    "destination",
    "eventID",
    "errorDeclaration",
    "quantity",
)
#: Quantities are indexed as fixed-width decimals so the index's order is their numeric order:
#: 18 integer digits and 12 decimals (quantities beyond are not indexed).
_QUANTITY_LIMIT = Decimal(10) ** 18
_QUANTITY_STEP = Decimal(1).scaleb(-12)


def value_key(field: str, value: str) -> str:
    """The indexed form of another field's value: `@<field> <value>` (a digest if too long)."""
    key = f"@{field} {value}"
    if len(key) <= MAX_KEY:
        return key
    return f"@{field} sha-256:" + hashlib.sha256(value.encode()).hexdigest()


def field_range(field: str) -> tuple[str, str]:
    """[low, high): the index range holding every value of the field."""
    return f"@{field} ", f"@{field}!"


def typed_value(kind: str, value: str) -> str:
    """A typed value (bizTransaction, source, destination) as indexed: its type, then it."""
    return f"{kind} {epc_key(value)}"


def quantity_key(amount: float | int | str) -> str | None:
    """The indexed form of a quantity, None for one out of the indexed range."""
    try:
        number = Decimal(str(amount))
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number >= _QUANTITY_LIMIT:
        return None
    return value_key("quantity", f"{number.quantize(_QUANTITY_STEP):031.12f}")


def _cbv(value: Any, vocabulary: str) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normalise_cbv(value, vocabulary)
    except ValueError:
        return value


def event_fields(event: EpcisEvent) -> list[tuple[str, str]]:
    """(field, key) of each field but the EPCs a SimpleEventQuery filters on."""
    raw = event.raw
    values: list[tuple[str, str | None]] = [
        ("eventType", event.type),
        ("action", event.action),
        ("bizStep", event.biz_step),
        ("disposition", event.disposition),
        ("readPoint", epc_key(event.read_point) if event.read_point else None),
        ("bizLocation", epc_key(event.biz_location) if event.biz_location else None),
    ]
    persistent = raw.get("persistentDisposition")
    if isinstance(persistent, dict):
        for name, field in (("set", "dispositionSet"), ("unset", "dispositionUnset")):
            listed = persistent.get(name)
            for value in listed if isinstance(listed, list) else ():
                values.append((field, _cbv(value, "disposition")))
    for field, typed in (
        ("bizTransaction", event.biz_transactions),
        ("source", event.sources),
        ("destination", event.destinations),
    ):
        values.extend((field, typed_value(kind, value)) for kind, value in typed if kind)
    event_id = raw.get("eventID")
    if isinstance(event_id, str) and event_id != event.hash_id:
        values.append(("eventID", event_id))
    declaration = raw.get("errorDeclaration")
    if isinstance(declaration, dict):
        declared = declaration.get("declarationTime")
        values.append(
            ("errorDeclaration", utc_millis(declared) if isinstance(declared, str) else "")
        )
    pairs = [(field, value_key(field, value)) for field, value in values if value is not None]
    for _class, amount, _uom in (*event.quantities, *event.input_quantities):
        key = quantity_key(amount) if amount is not None else None
        if key is not None:
            pairs.append(("quantity", key))
    return pairs
