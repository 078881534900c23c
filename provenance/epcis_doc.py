"""EPCIS 2.0 JSON-LD capture documents: validation and the event fields custody tracking uses."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

# jsonschema ships no type information; its use is confined to the two helpers below
from jsonschema import Draft7Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]

from provenance.epcis_hash import (
    Prefixes,
    context_prefixes,
    document_ignore_fields,
    event_hash_id,
    normalise_epc,
    utc_millis,
)
from provenance.errors import BadEpcis
from provenance.gs1 import check_digit

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENTS",
    "EpcisEvent",
    "epc_gtin_lot_serial",
    "normalise_cbv",
    "parse_epcis_document",
]

#: Upper bound on events per capture document; larger captures must be split.
MAX_EVENTS = 10_000

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)

Quantity = tuple[str, float, str | None]


@dataclass(frozen=True)
class EpcisEvent:
    """One validated event of an EPCIS 2.0 document, with CBV values in short form."""

    position: int
    type: str
    action: str | None
    event_time: str
    event_time_zone_offset: str
    biz_step: str | None
    disposition: str | None
    parent_id: str | None
    epc_list: tuple[str, ...]
    child_epcs: tuple[str, ...]
    input_epcs: tuple[str, ...]
    output_epcs: tuple[str, ...]
    #: the EPCs the event is about: epcList, childEPCs and outputEPCList, in that order
    epcs: tuple[str, ...]
    #: (epcClass, quantity, uom) from quantityList, childQuantityList and outputQuantityList
    quantities: tuple[Quantity, ...]
    input_quantities: tuple[Quantity, ...]
    read_point: str | None
    biz_location: str | None
    biz_transactions: tuple[tuple[str, str], ...]
    sources: tuple[tuple[str, str], ...]
    destinations: tuple[tuple[str, str], ...]
    ilmd: Mapping[str, Any] = field(hash=False)
    lot: str | None
    expiry: str | None
    hash_id: str
    raw: Mapping[str, Any] = field(hash=False, compare=False, repr=False)


# --- Schema and vocabulary (package data copied from gs1/EPCIS, see epcis_schema/SOURCE.md) ---


def _data(name: str) -> Any:
    text = resources.files("provenance").joinpath("epcis_schema", name).read_text("utf-8")
    return json.loads(text)


_VOCABULARY = _data("cbv2_vocabulary.json")


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = _data("EPCIS-JSON-Schema.json")
    return schema


@cache
def _document_validator() -> Draft7Validator:
    return Draft7Validator(_schema())


@cache
def _event_validator() -> Draft7Validator:
    # The schema's own per-event definition, for the parts not checked by hand below.
    sub = {"definitions": _schema()["definitions"], "$ref": "#/definitions/EPCIS-Document-Event"}
    return Draft7Validator(sub)


class _Cbv:
    """One CBV 2.0 vocabulary (CBV 2.0 §7): bare term, legacy URN and web URI forms."""

    def __init__(self, field_name: str, terms: Sequence[str], urn: str, web: str) -> None:
        self.field = field_name
        self.terms = frozenset(terms)
        self.prefixes = (urn, web)


_BIZ_STEP = _Cbv(
    "bizStep",
    _VOCABULARY["bizStep"],
    "urn:epcglobal:cbv:bizstep:",
    "https://ref.gs1.org/cbv/BizStep-",
)
_DISPOSITION = _Cbv(
    "disposition",
    _VOCABULARY["disposition"],
    "urn:epcglobal:cbv:disp:",
    "https://ref.gs1.org/cbv/Disp-",
)
_BTT = _Cbv(
    "bizTransaction type",
    _VOCABULARY["bizTransactionType"],
    "urn:epcglobal:cbv:btt:",
    "https://ref.gs1.org/cbv/BTT-",
)
_SDT = _Cbv(
    "source/destination type",
    _VOCABULARY["sourceDestType"],
    "urn:epcglobal:cbv:sdt:",
    "https://ref.gs1.org/cbv/SDT-",
)
_VOCABULARIES = {"bizStep": _BIZ_STEP, "disposition": _DISPOSITION, "btt": _BTT, "sdt": _SDT}
# URIs in the CBV's own namespaces that are not one of its terms are errors, not extensions.
_CBV_SPACES = (
    "urn:epcglobal:cbv:",
    "https://ref.gs1.org/cbv/",
    "http://ref.gs1.org/cbv/",
    "https://ns.gs1.org/cbv/",
    "http://ns.gs1.org/cbv/",
)

# RFC 3986 absolute URI (scheme ":" something); JSON-LD compact IRIs have the same shape.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+\Z")
# RFC 3339 date-time with a mandatory offset (EPCIS 2.0 §8.4 / xsd:dateTimeStamp).
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})\Z")
_TZ_OFFSET = re.compile(r"[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00)\Z")
_UOM = re.compile(r"[A-Z0-9]{2,3}\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ACTIONS = frozenset(_VOCABULARY["actions"])
_MDA = "urn:epcglobal:cbv:mda:"
_LOT_NUMBER = _MDA + "lotNumber"
_EXPIRATION_DATE = _MDA + "itemExpirationDate"
_NO_ILMD: Mapping[str, Any] = MappingProxyType({})

_COMMON = frozenset(
    {
        "@context",
        "type",
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "certificationInfo",
        "errorDeclaration",
    }
)
# Per event type: its own fields (EPCIS 2.0 §7.4) and those it must have.
_FIELDS = {
    "ObjectEvent": frozenset(
        {
            "action",
            "epcList",
            "quantityList",
            "bizStep",
            "disposition",
            "persistentDisposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "ilmd",
        }
    ),
    "AggregationEvent": frozenset(
        {
            "parentID",
            "childEPCs",
            "childQuantityList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
        }
    ),
    "TransactionEvent": frozenset(
        {
            "bizTransactionList",
            "parentID",
            "epcList",
            "quantityList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "sourceList",
            "destinationList",
            "sensorElementList",
        }
    ),
    "TransformationEvent": frozenset(
        {
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
            "transformationID",
            "bizStep",
            "disposition",
            "persistentDisposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "ilmd",
        }
    ),
    "AssociationEvent": frozenset(
        {
            "parentID",
            "childEPCs",
            "childQuantityList",
            "action",
            "bizStep",
            "disposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
        }
    ),
}
_REQUIRED = {
    "ObjectEvent": ("eventTime", "eventTimeZoneOffset", "action"),
    "AggregationEvent": ("eventTime", "eventTimeZoneOffset", "action"),
    "TransactionEvent": ("eventTime", "eventTimeZoneOffset", "action", "bizTransactionList"),
    "TransformationEvent": ("eventTime", "eventTimeZoneOffset"),
    "AssociationEvent": ("eventTime", "eventTimeZoneOffset", "action", "parentID"),
}
_ALLOWED = {kind: own | _COMMON for kind, own in _FIELDS.items()}
_REQUIRED_SETS = {kind: frozenset(names) for kind, names in _REQUIRED.items()}
_QUANTITY_LISTS = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_PAIR_LISTS = frozenset({"bizTransactionList", "sourceList", "destinationList"})
# Structures whose many sub-fields are left to the official JSON Schema.
_SCHEMA_CHECKED = frozenset({"sensorElementList", "errorDeclaration"})


class _Where:
    """Location of the event being checked, for problem details."""

    __slots__ = ("base", "index")

    def __init__(self, base: str, index: int) -> None:
        self.base = base
        self.index = index

    def fail(self, detail: str, *path: str | int) -> BadEpcis:
        pointer = self.base + f"/{self.index}" + "".join(f"/{_escape(p)}" for p in path)
        return BadEpcis(f"event {self.index}: {detail}", event=self.index, pointer=pointer)


def _escape(token: str | int) -> str:
    """RFC 6901 reference token."""
    return str(token).replace("~", "~0").replace("/", "~1")


def _is_uri(value: Any) -> bool:
    return type(value) is str and _URI.match(value) is not None


def _is_time(value: Any) -> bool:
    return type(value) is str and _valid_time(value)


@lru_cache(maxsize=4096)  # the events of a document mostly share a few timestamps
def _valid_time(text: str) -> bool:
    if _DATE_TIME.match(text) is None:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1024)  # a document names the same few fields in every event
def _is_namespaced(key: str) -> bool:
    """Whether a field name is a compact IRI or an absolute URI ("prefix:name")."""
    return ":" in key and _URI.match(key) is not None


@lru_cache(maxsize=4096)  # expiry dates repeat across lots
def _valid_date(text: str) -> bool:
    """Whether "YYYY-MM-DD" names a day of the calendar."""
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def normalise_cbv(value: str, vocabulary: str, prefixes: Mapping[str, str] | None = None) -> str:
    """A CBV value in any of its forms -> the short CBV term; other URIs unchanged.

    `vocabulary` is "bizStep", "disposition", "btt" or "sdt". Raises ValueError for a value
    that is neither a CBV 2.0 term nor a URI outside the CBV namespaces.
    """
    cbv = _VOCABULARIES[vocabulary]
    return _cbv_value(cbv, value, prefixes or {})


def _cbv_value(cbv: _Cbv, value: Any, prefixes: Mapping[str, str]) -> str:
    if type(value) is not str:
        raise ValueError(f"{cbv.field} must be a string")
    if value in cbv.terms:
        return value
    full = value
    head, sep, rest = value.partition(":")
    if sep and head in prefixes and not rest.startswith("//"):
        full = prefixes[head] + rest  # a JSON-LD compact IRI such as cbv:BizStep-shipping
    for prefix in cbv.prefixes:
        if full.startswith(prefix):
            term = full[len(prefix) :]
            if term in cbv.terms:
                return term
            break
    if full.startswith(_CBV_SPACES) or _URI.match(full) is None:
        raise ValueError(
            f"non-standard {cbv.field} {value!r}: not a CBV 2.0 value "
            "(a private vocabulary must use a URI outside the CBV namespace)"
        )
    return value


def _check_uri_list(event: Mapping[str, Any], key: str, where: _Where) -> tuple[str, ...]:
    items = event.get(key)
    if items is None:
        return ()
    if type(items) is not list:
        raise where.fail(f"{key} must be an array of URIs", key)
    for item in items:
        if type(item) is not str or _URI.match(item) is None:
            n = next(n for n, item in enumerate(items) if not _is_uri(item))
            raise where.fail(f"{key}[{n}] is not a URI: {items[n]!r}", key, n)
    if len(set(items)) != len(items):
        raise where.fail(f"{key} lists the same EPC more than once", key)
    return tuple(items)


def _check_quantities(event: Mapping[str, Any], key: str, where: _Where) -> tuple[Quantity, ...]:
    items = event.get(key)
    if items is None:
        return ()
    if type(items) is not list:
        raise where.fail(f"{key} must be an array of quantity elements", key)
    out = []
    for n, item in enumerate(items):
        if type(item) is not dict:
            raise where.fail(f"{key}[{n}] must be an object", key, n)
        for name in item:
            if name not in ("epcClass", "quantity", "uom"):
                raise where.fail(f"{key}[{n}] has unknown field {name!r}", key, n, name)
        epc_class = item.get("epcClass")
        if not _is_uri(epc_class):
            raise where.fail(f"{key}[{n}].epcClass must be a URI", key, n, "epcClass")
        quantity = item.get("quantity")
        if quantity is None:
            # EPCIS allows "unknown quantity"; custody cannot balance an unknown amount
            raise where.fail(f"{key}[{n}].quantity is required", key, n)
        if type(quantity) not in (int, float):
            raise where.fail(
                f"{key}[{n}].quantity must be a number, not {quantity!r}", key, n, "quantity"
            )
        uom = item.get("uom")
        if uom is not None and (type(uom) is not str or _UOM.match(uom) is None):
            raise where.fail(
                f"{key}[{n}].uom must be a UN/ECE Rec 20 code, not {uom!r}", key, n, "uom"
            )
        out.append((str(epc_class), float(quantity), uom))
    return tuple(out)


def _check_location(event: Mapping[str, Any], key: str, where: _Where) -> str | None:
    value = event.get(key)
    if value is None:
        return None
    uri = value.get("id") if type(value) is dict else None
    if type(uri) is not str or _URI.match(uri) is None:
        raise where.fail(f"{key} must be an object whose id is a URI", key)
    return uri


def _check_pairs(
    event: Mapping[str, Any],
    key: str,
    value_key: str,
    cbv: _Cbv,
    prefixes: Mapping[str, str],
    where: _Where,
    *,
    type_required: bool,
) -> tuple[tuple[str, str], ...]:
    items = event.get(key)
    if items is None:
        return ()
    if type(items) is not list:
        raise where.fail(f"{key} must be an array", key)
    out = []
    for n, item in enumerate(items):
        if type(item) is not dict:
            raise where.fail(f"{key}[{n}] must be an object", key, n)
        for name in item:
            if name not in ("type", value_key):
                raise where.fail(f"{key}[{n}] has unknown field {name!r}", key, n, name)
        if not _is_uri(item.get(value_key)):
            raise where.fail(f"{key}[{n}].{value_key} must be a URI", key, n, value_key)
        kind = item.get("type")
        if kind is None:
            if type_required:
                raise where.fail(f"{key}[{n}] needs a type", key, n)
            short = ""
        else:
            try:
                short = _cbv_value(cbv, kind, prefixes)
            except ValueError as exc:
                raise where.fail(str(exc), key, n, "type") from None
        out.append((short, item[value_key]))
    return tuple(out)


def _check_vocab(
    event: Mapping[str, Any], key: str, cbv: _Cbv, prefixes: Mapping[str, str], where: _Where
) -> str | None:
    value = event.get(key)
    if value is None:
        return None
    try:
        return _cbv_value(cbv, value, prefixes)
    except ValueError as exc:
        raise where.fail(str(exc), key) from None


def _check_persistent(event: Mapping[str, Any], prefixes: Mapping[str, str], where: _Where) -> None:
    value = event.get("persistentDisposition")
    if value is None:
        return
    if type(value) is not dict or not value or any(k not in ("set", "unset") for k in value):
        raise where.fail(
            "persistentDisposition must be an object with set and/or unset",
            "persistentDisposition",
        )
    for part, items in value.items():
        if type(items) is not list or not items or len(set(map(str, items))) != len(items):
            raise where.fail(
                f"persistentDisposition.{part} must be a non-empty array of distinct values",
                "persistentDisposition",
                part,
            )
        for n, item in enumerate(items):
            try:
                _cbv_value(_DISPOSITION, item, prefixes)
            except ValueError as exc:
                raise where.fail(str(exc), "persistentDisposition", part, n) from None


def _check_ilmd(
    event: Mapping[str, Any], prefixes: Mapping[str, str], where: _Where
) -> tuple[Mapping[str, Any], str | None, str | None]:
    ilmd = event.get("ilmd")
    if ilmd is None:
        return _NO_ILMD, None, None
    if type(ilmd) is not dict:
        raise where.fail("ilmd must be an object", "ilmd")
    # EPCIS 2.0 §7.3.6: instance/lot master data is only defined when objects come into being.
    if event["type"] == "ObjectEvent" and event.get("action") != "ADD":
        raise where.fail(
            f"ilmd is only allowed with action ADD, not {event.get('action')!r}", "ilmd"
        )
    lot = expiry = None
    for key, value in ilmd.items():
        head, _, local = key.partition(":")
        if not _is_namespaced(key):
            raise where.fail(
                f"ilmd field {key!r} has no namespace (use a prefix such as cbvmda:)", "ilmd", key
            )
        full = prefixes[head] + local if head in prefixes else key
        if full == _LOT_NUMBER:
            if type(value) is not str or not value:
                raise where.fail("ilmd lotNumber must be a non-empty string", "ilmd", key)
            lot = value
        elif full == _EXPIRATION_DATE:
            if type(value) is not str or _DATE.match(value) is None:
                raise where.fail("ilmd itemExpirationDate must be a date YYYY-MM-DD", "ilmd", key)
            if not _valid_date(value[:10]):
                raise where.fail(f"ilmd itemExpirationDate {value!r} is not a date", "ilmd", key)
            expiry = value[:10]
    return MappingProxyType(ilmd), lot, expiry


def _check_identifiers(event: Mapping[str, Any], kind: str, where: _Where) -> None:
    """Which EPCs / quantities an event of each type must name (EPCIS 2.0 §7.4)."""
    if kind == "ObjectEvent":
        ok = (
            "epcList" in event
            or _has_items(event, "quantityList")
            or (_has_items(event, "sensorElementList") and "readPoint" in event)
        )
        need = "epcList or quantityList"
    elif kind == "TransactionEvent":
        ok = (
            "epcList" in event
            or _has_items(event, "quantityList")
            or event.get("action") == "DELETE"
        )
        need = "epcList or quantityList"
    elif kind == "TransformationEvent":
        inputs = _has_items(event, "inputEPCList") or _has_items(event, "inputQuantityList")
        outputs = _has_items(event, "outputEPCList") or _has_items(event, "outputQuantityList")
        ok = (inputs and outputs) or ((inputs or outputs) and "transformationID" in event)
        need = "inputs and outputs (or one of them with a transformationID)"
    else:
        ok = (
            _has_items(event, "childEPCs")
            or _has_items(event, "childQuantityList")
            or event.get("action") == "DELETE"
        )
        need = "childEPCs or childQuantityList"
    if not ok:
        raise where.fail(f"{kind} without identifiers: needs {need}")


def _has_items(event: Mapping[str, Any], key: str) -> bool:
    value = event.get(key)
    return type(value) is list and len(value) > 0


def _schema_errors(event: Mapping[str, Any], where: _Where) -> None:
    error = best_match(_event_validator().iter_errors(event))
    if error is not None:
        raise where.fail(_describe(error), *error.absolute_path)


def _describe(error: ValidationError) -> str:
    path = "/".join(str(p) for p in error.absolute_path)
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"{path}: {message}" if path else message


def _check_event(
    event: Any, where: _Where, prefixes: Prefixes, ignore: tuple[str, ...]
) -> EpcisEvent:
    if type(event) is not dict:
        raise where.fail("an event must be a JSON object")
    kind = event.get("type")
    if kind not in _FIELDS:
        raise where.fail(
            f"unsupported event type {kind!r} (expected one of {', '.join(EVENT_TYPES)})", "type"
        )
    if not _REQUIRED_SETS[kind].issubset(event):
        missing = [name for name in _REQUIRED[kind] if name not in event]
        raise where.fail(f"missing required field(s): {', '.join(missing)}")
    allowed = _ALLOWED[kind]
    if not allowed.issuperset(event):
        for key in event:
            if key not in allowed and _URI.match(key) is None:
                # JSON-LD would silently drop an unprefixed unknown term: refuse instead
                raise where.fail(f"unknown field {key!r} for {kind}", key)

    event_time = event["eventTime"]
    if not _is_time(event_time):
        raise where.fail(
            f"eventTime {event_time!r} is not an RFC 3339 date-time with offset", "eventTime"
        )
    if "recordTime" in event and not _is_time(event["recordTime"]):
        raise where.fail("recordTime is not an RFC 3339 date-time with offset", "recordTime")
    offset = event["eventTimeZoneOffset"]
    if type(offset) is not str or _TZ_OFFSET.match(offset) is None:
        raise where.fail(
            f"eventTimeZoneOffset {offset!r} is not of the form +hh:mm", "eventTimeZoneOffset"
        )
    action = event.get("action")
    if action is not None and action not in _ACTIONS:
        raise where.fail(f"invalid action {action!r} (expected ADD, OBSERVE or DELETE)", "action")
    for key in ("eventID", "parentID", "transformationID"):
        if key in event and not _is_uri(event[key]):
            raise where.fail(f"{key} must be a URI", key)
    cert = event.get("certificationInfo")
    if cert is not None and not (
        _is_uri(cert) or (type(cert) is list and all(_is_uri(c) for c in cert))
    ):
        raise where.fail("certificationInfo must be a URI or an array of URIs", "certificationInfo")

    # Optional fields are checked only when present: most events carry few of them.
    present = event.keys()
    epc_list = _check_uri_list(event, "epcList", where) if "epcList" in present else ()
    child_epcs = _check_uri_list(event, "childEPCs", where) if "childEPCs" in present else ()
    input_epcs = _check_uri_list(event, "inputEPCList", where) if "inputEPCList" in present else ()
    output_epcs = (
        _check_uri_list(event, "outputEPCList", where) if "outputEPCList" in present else ()
    )
    quantities: tuple[Quantity, ...] = ()
    child_q = input_q = output_q = quantities
    if not _QUANTITY_LISTS.isdisjoint(present):
        quantities = _check_quantities(event, "quantityList", where)
        child_q = _check_quantities(event, "childQuantityList", where)
        input_q = _check_quantities(event, "inputQuantityList", where)
        output_q = _check_quantities(event, "outputQuantityList", where)
    _check_identifiers(event, kind, where)
    biz_step = _check_vocab(event, "bizStep", _BIZ_STEP, prefixes, where)
    disposition = _check_vocab(event, "disposition", _DISPOSITION, prefixes, where)
    if "persistentDisposition" in present:
        _check_persistent(event, prefixes, where)
    read_point = _check_location(event, "readPoint", where)
    biz_location = _check_location(event, "bizLocation", where)
    biz_transactions: tuple[tuple[str, str], ...] = ()
    sources = destinations = biz_transactions
    if not _PAIR_LISTS.isdisjoint(present):
        biz_transactions = _check_pairs(
            event,
            "bizTransactionList",
            "bizTransaction",
            _BTT,
            prefixes,
            where,
            type_required=False,
        )
        if kind == "TransactionEvent" and not biz_transactions:
            raise where.fail("TransactionEvent needs a non-empty bizTransactionList")
        sources = _check_pairs(
            event, "sourceList", "source", _SDT, prefixes, where, type_required=True
        )
        destinations = _check_pairs(
            event, "destinationList", "destination", _SDT, prefixes, where, type_required=True
        )
    ilmd, lot, expiry = _check_ilmd(event, prefixes, where)
    if not _SCHEMA_CHECKED.isdisjoint(event):
        _schema_errors(event, where)

    epcs = epc_list + child_epcs + output_epcs
    if len(epcs) not in (len(epc_list), len(child_epcs), len(output_epcs)):
        epcs = tuple(dict.fromkeys(epcs))  # a list on its own is free of duplicates already
    return _new_event(
        position=where.index,
        type=kind,
        action=action,
        event_time=utc_millis(event_time),
        event_time_zone_offset=offset,
        biz_step=biz_step,
        disposition=disposition,
        parent_id=event.get("parentID"),
        epc_list=epc_list,
        child_epcs=child_epcs,
        input_epcs=input_epcs,
        output_epcs=output_epcs,
        epcs=epcs,
        quantities=quantities + child_q + output_q,
        input_quantities=input_q,
        read_point=read_point,
        biz_location=biz_location,
        biz_transactions=biz_transactions,
        sources=sources,
        destinations=destinations,
        ilmd=ilmd,
        lot=lot,
        expiry=expiry,
        hash_id=event_hash_id(event, prefixes, ignore_fields=ignore),
        raw=MappingProxyType(event),
    )


def _new_event(**fields: Any) -> EpcisEvent:
    """EpcisEvent(**fields), minus the frozen dataclass __init__'s object.__setattr__ call per
    field (together some 7% of the time an event takes to check); the tests hold the two equal."""
    event: EpcisEvent = object.__new__(EpcisEvent)
    event.__dict__.update(fields)
    return event


def _fail(detail: str, pointer: str, **extensions: Any) -> BadEpcis:
    return BadEpcis(detail, pointer=pointer, **extensions)


def _envelope(doc: Any) -> tuple[list[Any], Any, str]:
    """Check the document around the events; return (events, @context, eventList pointer)."""
    if type(doc) is not dict:
        raise _fail("an EPCIS document must be a JSON object", "")
    kind = doc.get("type")
    if "@context" not in doc:
        raise _fail("missing @context: an EPCIS 2.0 JSON-LD document needs its context", "")
    if kind in EVENT_TYPES:
        # EPCIS 2.0 §8.1 also lets a capture carry a single bare event.
        single = {k: v for k, v in doc.items() if k != "@context"}
        return [single], doc["@context"], ""
    if kind not in ("EPCISDocument", "EPCISQueryDocument"):
        raise _fail(f"type must be EPCISDocument, not {kind!r}", "/type")
    version = doc.get("schemaVersion")
    if version != "2.0" and (kind == "EPCISDocument" or version is not None):
        raise _fail(f'schemaVersion must be "2.0", not {version!r}', "/schemaVersion")
    body = doc.get("epcisBody")
    if type(body) is not dict:
        raise _fail("epcisBody must be an object", "/epcisBody")
    holder: Any
    results: Any = None
    if kind == "EPCISDocument":
        holder, base = body, "/epcisBody/eventList"
    else:
        results = body.get("queryResults")
        holder = results.get("resultsBody") if type(results) is dict else None
        base = "/epcisBody/queryResults/resultsBody/eventList"
        if type(holder) is not dict:
            raise _fail("EPCISQueryDocument needs queryResults.resultsBody", "/epcisBody")
    events = holder.get("eventList")
    if type(events) is not list:
        raise _fail("eventList must be an array", base)
    if len(events) > MAX_EVENTS:
        raise _fail(
            f"too many events: {len(events)} (at most {MAX_EVENTS} per document)",
            base,
            limit=MAX_EVENTS,
        )
    if "creationDate" in doc and not _is_time(doc["creationDate"]):
        raise _fail("creationDate is not an RFC 3339 date-time with offset", "/creationDate")
    # The envelope against the official schema, with the events left to the checks above.
    hollow = dict(doc)
    if kind == "EPCISDocument":
        hollow["epcisBody"] = {**body, "eventList": []}
    else:
        assert type(results) is dict
        hollow["epcisBody"] = {
            **body,
            "queryResults": {**results, "resultsBody": {**holder, "eventList": []}},
        }
    error = best_match(_document_validator().iter_errors(hollow))
    if error is not None:
        pointer = "".join(f"/{_escape(p)}" for p in error.absolute_path)
        raise _fail(f"document: {_describe(error)}", pointer)
    return events, doc["@context"], base


def parse_epcis_document(doc: Any) -> tuple[EpcisEvent, ...]:
    """Validate an EPCIS 2.0 JSON-LD document and return its events with their Event Hash IDs.

    Raises BadEpcis naming the first defect; for a defective event the problem carries
    `event` (its 0-based index in eventList) and `pointer` (a JSON pointer into `doc`).
    """
    events, context, base = _envelope(doc)
    prefixes = context_prefixes(context)
    ignore = document_ignore_fields(doc) if type(doc) is dict else ()
    where = _Where(base, 0)
    checked = []
    for index, raw in enumerate(events):
        where.index = index  # one _Where for all events: it is only read while checking one
        checked.append(_check_event(raw, where, prefixes, ignore))
    return tuple(checked)


# --- GS1 keys in EPCs ----------------------------------------------------------------------------

_DL_GTIN = re.compile(
    r"https?://[^/?#]+(?:/[^?#]*?)?/(?:01|gtin)/(\d{8}|\d{12,14})((?:/[^/?#]+/[^/?#]+)*)/?(?:[?#].*)?\Z"
)


def _gtin14(digits: str) -> str | None:
    gtin = digits.rjust(14, "0")
    return gtin if check_digit(gtin[:13]) == int(gtin[13]) else None


def epc_gtin_lot_serial(epc: str) -> tuple[str, str | None, str | None] | None:
    """(GTIN-14, lot, serial) named by an EPC: SGTIN/LGTIN URN or GS1 Digital Link URI.

    SGTIN "urn:epc:id:sgtin:0614141.107346.2017" -> ("10614141073464", None, "2017"): TDS §6.3.1
    moves the item reference's leading indicator digit to the front and appends the check digit.
    """
    if type(epc) is not str:
        return None
    if epc.startswith("urn:epc:"):
        if not epc.startswith(
            ("urn:epc:id:sgtin:", "urn:epc:class:lgtin:", "urn:epc:idpat:sgtin:")
        ):
            return None
        dl = normalise_epc(epc)
        if dl is None:
            return None
        parts = dl[len("https://id.gs1.org/01/") :].split("/")
        gtin = parts[0]
        lot = unquote(parts[2]) if len(parts) == 3 and parts[1] == "10" else None
        serial = unquote(parts[2]) if len(parts) == 3 and parts[1] == "21" else None
        return gtin, lot, serial
    m = _DL_GTIN.match(epc)
    if m is None:
        return None
    gtin14 = _gtin14(m.group(1))
    if gtin14 is None:
        return None
    qualifiers = m.group(2).split("/")[1:]
    values = dict(zip(qualifiers[::2], qualifiers[1::2], strict=True))
    lot = values.get("10", values.get("lot"))
    serial = values.get("21", values.get("ser"))
    return gtin14, unquote(lot) if lot else None, unquote(serial) if serial else None
