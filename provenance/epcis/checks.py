"""Checks of the individual fields of one EPCIS 2.0 event, with problem details naming them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

# jsonschema ships no type information
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]

from provenance.epcis.errors import BadEpcis
from provenance.epcis.vocab import DISPOSITION, URI, Cbv, cbv_value, event_validator, valid_time

__all__ = [
    "TZ_OFFSET",
    "Quantity",
    "Where",
    "check_identifiers",
    "check_ilmd",
    "check_location",
    "check_pairs",
    "check_persistent",
    "check_quantities",
    "check_uri_list",
    "check_vocab",
    "describe",
    "is_time",
    "is_uri",
    "pointer_token",
    "schema_errors",
]


Quantity = tuple[str, float | None, str | None]


TZ_OFFSET = re.compile(r"[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00)\Z")
_UOM = re.compile(r"[A-Z0-9]{2,3}\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MDA = "urn:epcglobal:cbv:mda:"
_LOT_NUMBER = _MDA + "lotNumber"
_EXPIRATION_DATE = _MDA + "itemExpirationDate"
_NO_ILMD: Mapping[str, Any] = MappingProxyType({})


class Where:
    """Location of the event being checked, for problem details."""

    __slots__ = ("base", "index")

    def __init__(self, base: str, index: int) -> None:
        self.base = base
        self.index = index

    def fail(self, detail: str, *path: str | int) -> BadEpcis:
        pointer = self.base + f"/{self.index}" + "".join(f"/{pointer_token(p)}" for p in path)
        return BadEpcis(f"event {self.index}: {detail}", event=self.index, pointer=pointer)


def pointer_token(token: str | int) -> str:
    """RFC 6901 reference token."""
    return str(token).replace("~", "~0").replace("/", "~1")


def is_uri(value: Any) -> bool:
    return type(value) is str and URI.match(value) is not None


def is_time(value: Any) -> bool:
    return type(value) is str and valid_time(value)


@lru_cache(maxsize=1024)  # a document names the same few fields in every event
def _is_namespaced(key: str) -> bool:
    """Whether a field name is a compact IRI or an absolute URI ("prefix:name")."""
    return ":" in key and URI.match(key) is not None


@lru_cache(maxsize=4096)  # expiry dates repeat across lots
def _valid_date(text: str) -> bool:
    """Whether "YYYY-MM-DD" names a day of the calendar."""
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def check_uri_list(event: Mapping[str, Any], key: str, where: Where) -> tuple[str, ...]:
    items = event.get(key)
    if items is None:
        return ()
    if type(items) is not list:
        raise where.fail(f"{key} must be an array of URIs", key)
    for item in items:
        if type(item) is not str or URI.match(item) is None:
            n = next(n for n, item in enumerate(items) if not is_uri(item))
            raise where.fail(f"{key}[{n}] is not a URI: {items[n]!r}", key, n)
    if len(set(items)) != len(items):
        raise where.fail(f"{key} lists the same EPC more than once", key)
    return tuple(items)


def _objects(
    event: Mapping[str, Any], key: str, where: Where, allowed: tuple[str, ...], array: str
) -> list[tuple[int, dict[str, Any]]]:
    """The members of an array of objects with only `allowed` fields, numbered."""
    items = event.get(key)
    if items is None:
        return []
    if type(items) is not list:
        raise where.fail(f"{key} must be {array}", key)
    for n, item in enumerate(items):
        if type(item) is not dict:
            raise where.fail(f"{key}[{n}] must be an object", key, n)
        for name in item:
            if name not in allowed:
                raise where.fail(f"{key}[{n}] has unknown field {name!r}", key, n, name)
    return list(enumerate(items))


def check_quantities(event: Mapping[str, Any], key: str, where: Where) -> tuple[Quantity, ...]:
    out = []
    allowed = ("epcClass", "quantity", "uom")
    for n, item in _objects(event, key, where, allowed, "an array of quantity elements"):
        epc_class = item.get("epcClass")
        if not is_uri(epc_class):
            raise where.fail(f"{key}[{n}].epcClass must be a URI", key, n, "epcClass")
        quantity = item.get("quantity")
        # optional in EPCIS 2.0: a quantity element without one names an unknown amount
        if quantity is not None and type(quantity) not in (int, float):
            raise where.fail(
                f"{key}[{n}].quantity must be a number, not {quantity!r}", key, n, "quantity"
            )
        uom = item.get("uom")
        if uom is not None and (type(uom) is not str or _UOM.match(uom) is None):
            raise where.fail(
                f"{key}[{n}].uom must be a UN/ECE Rec 20 code, not {uom!r}", key, n, "uom"
            )
        out.append((str(epc_class), None if quantity is None else float(quantity), uom))
    return tuple(out)


def check_location(event: Mapping[str, Any], key: str, where: Where) -> str | None:
    value = event.get(key)
    if value is None:
        return None
    uri = value.get("id") if type(value) is dict else None
    if type(uri) is not str or URI.match(uri) is None:
        raise where.fail(f"{key} must be an object whose id is a URI", key)
    return uri


def check_pairs(
    event: Mapping[str, Any],
    key: str,
    value_key: str,
    cbv: Cbv,
    prefixes: Mapping[str, str],
    where: Where,
    *,
    type_required: bool,
) -> tuple[tuple[str, str], ...]:
    out = []
    for n, item in _objects(event, key, where, ("type", value_key), "an array"):
        if not is_uri(item.get(value_key)):
            raise where.fail(f"{key}[{n}].{value_key} must be a URI", key, n, value_key)
        kind = item.get("type")
        if kind is None:
            if type_required:
                raise where.fail(f"{key}[{n}] needs a type", key, n)
            short = ""
        else:
            try:
                short = cbv_value(cbv, kind, prefixes)
            except ValueError as exc:
                raise where.fail(str(exc), key, n, "type") from None
        out.append((short, item[value_key]))
    return tuple(out)


def check_vocab(
    event: Mapping[str, Any], key: str, cbv: Cbv, prefixes: Mapping[str, str], where: Where
) -> str | None:
    value = event.get(key)
    if value is None:
        return None
    try:
        return cbv_value(cbv, value, prefixes)
    except ValueError as exc:
        raise where.fail(str(exc), key) from None


def check_persistent(event: Mapping[str, Any], prefixes: Mapping[str, str], where: Where) -> None:
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
                cbv_value(DISPOSITION, item, prefixes)
            except ValueError as exc:
                raise where.fail(str(exc), "persistentDisposition", part, n) from None


def check_ilmd(
    event: Mapping[str, Any], prefixes: Mapping[str, str], where: Where
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


def check_identifiers(event: Mapping[str, Any], kind: str, where: Where) -> None:
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


def schema_errors(event: Mapping[str, Any], where: Where) -> None:
    error = best_match(event_validator().iter_errors(event))
    if error is not None:
        raise where.fail(describe(error), *error.absolute_path)


def describe(error: ValidationError) -> str:
    path = "/".join(str(p) for p in error.absolute_path)
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"{path}: {message}" if path else message
