"""EPCIS 2.0 JSON-LD capture documents: validation and the event fields custody tracking uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# jsonschema ships no type information
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from provenance.epcis.checks import (
    TZ_OFFSET,
    Quantity,
    Where,
    check_identifiers,
    check_ilmd,
    check_location,
    check_pairs,
    check_persistent,
    check_quantities,
    check_uri_list,
    check_vocab,
    describe,
    is_time,
    is_uri,
    pointer_token,
    schema_errors,
)
from provenance.epcis.depth import check_depth
from provenance.epcis.errors import BadEpcis
from provenance.epcis.fields import (
    ALLOWED,
    FIELDS,
    PAIR_LISTS,
    QUANTITY_LISTS,
    REQUIRED,
    REQUIRED_SETS,
    SCHEMA_CHECKED,
)
from provenance.epcis.hash import (
    Prefixes,
    context_prefixes,
    document_ignore_fields,
    event_hash_id,
    utc_millis,
)
from provenance.epcis.vocab import (
    ACTIONS,
    BIZ_STEP,
    BTT,
    DISPOSITION,
    SDT,
    URI,
    document_validator,
    normalise_cbv,
)
from provenance.gs1.epc_uri import epc_gtin_lot_serial

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


def _check_event(
    event: Any, where: Where, prefixes: Prefixes, ignore: tuple[str, ...]
) -> EpcisEvent:
    if type(event) is not dict:
        raise where.fail("an event must be a JSON object")
    kind = event.get("type")
    if kind not in FIELDS:
        raise where.fail(
            f"unsupported event type {kind!r} (expected one of {', '.join(EVENT_TYPES)})", "type"
        )
    if not REQUIRED_SETS[kind].issubset(event):
        missing = [name for name in REQUIRED[kind] if name not in event]
        raise where.fail(f"missing required field(s): {', '.join(missing)}")
    allowed = ALLOWED[kind]
    if not allowed.issuperset(event):
        for key in event:
            if key not in allowed and URI.match(key) is None:
                # JSON-LD would silently drop an unprefixed unknown term: refuse instead
                raise where.fail(f"unknown field {key!r} for {kind}", key)

    event_time = event["eventTime"]
    if not is_time(event_time):
        raise where.fail(
            f"eventTime {event_time!r} is not an RFC 3339 date-time with offset", "eventTime"
        )
    if "recordTime" in event and not is_time(event["recordTime"]):
        raise where.fail("recordTime is not an RFC 3339 date-time with offset", "recordTime")
    offset = event["eventTimeZoneOffset"]
    if type(offset) is not str or TZ_OFFSET.match(offset) is None:
        raise where.fail(
            f"eventTimeZoneOffset {offset!r} is not of the form +hh:mm", "eventTimeZoneOffset"
        )
    action = event.get("action")
    if action is not None and action not in ACTIONS:
        raise where.fail(f"invalid action {action!r} (expected ADD, OBSERVE or DELETE)", "action")
    for key in ("eventID", "parentID", "transformationID"):
        if key in event and not is_uri(event[key]):
            raise where.fail(f"{key} must be a URI", key)
    cert = event.get("certificationInfo")
    if cert is not None and not (
        is_uri(cert) or (type(cert) is list and all(is_uri(c) for c in cert))
    ):
        raise where.fail("certificationInfo must be a URI or an array of URIs", "certificationInfo")

    # Optional fields are checked only when present: most events carry few of them.
    present = event.keys()
    epc_list = check_uri_list(event, "epcList", where) if "epcList" in present else ()
    child_epcs = check_uri_list(event, "childEPCs", where) if "childEPCs" in present else ()
    input_epcs = check_uri_list(event, "inputEPCList", where) if "inputEPCList" in present else ()
    output_epcs = (
        check_uri_list(event, "outputEPCList", where) if "outputEPCList" in present else ()
    )
    quantities: tuple[Quantity, ...] = ()
    child_q = input_q = output_q = quantities
    if not QUANTITY_LISTS.isdisjoint(present):
        quantities = check_quantities(event, "quantityList", where)
        child_q = check_quantities(event, "childQuantityList", where)
        input_q = check_quantities(event, "inputQuantityList", where)
        output_q = check_quantities(event, "outputQuantityList", where)
    check_identifiers(event, kind, where)
    biz_step = check_vocab(event, "bizStep", BIZ_STEP, prefixes, where)
    disposition = check_vocab(event, "disposition", DISPOSITION, prefixes, where)
    if "persistentDisposition" in present:
        check_persistent(event, prefixes, where)
    read_point = check_location(event, "readPoint", where)
    biz_location = check_location(event, "bizLocation", where)
    biz_transactions: tuple[tuple[str, str], ...] = ()
    sources = destinations = biz_transactions
    if not PAIR_LISTS.isdisjoint(present):
        biz_transactions = check_pairs(
            event,
            "bizTransactionList",
            "bizTransaction",
            BTT,
            prefixes,
            where,
            type_required=False,
        )
        if kind == "TransactionEvent" and not biz_transactions:
            raise where.fail("TransactionEvent needs a non-empty bizTransactionList")
        sources = check_pairs(
            event, "sourceList", "source", SDT, prefixes, where, type_required=True
        )
        destinations = check_pairs(
            event, "destinationList", "destination", SDT, prefixes, where, type_required=True
        )
    ilmd, lot, expiry = check_ilmd(event, prefixes, where)
    if not SCHEMA_CHECKED.isdisjoint(event):
        schema_errors(event, where)

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
    if "creationDate" in doc and not is_time(doc["creationDate"]):
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
    error = best_match(document_validator().iter_errors(hollow))
    if error is not None:
        pointer = "".join(f"/{pointer_token(p)}" for p in error.absolute_path)
        raise _fail(f"document: {describe(error)}", pointer)
    return events, doc["@context"], base


def parse_epcis_document(doc: Any) -> tuple[EpcisEvent, ...]:
    """Validate an EPCIS 2.0 JSON-LD document and return its events with their Event Hash IDs.

    Raises BadEpcis naming the first defect; for a defective event the problem carries
    `event` (its 0-based index in eventList) and `pointer` (a JSON pointer into `doc`).
    """
    check_depth(doc)  # before validation and hashing, which recurse into the document
    events, context, base = _envelope(doc)
    prefixes = context_prefixes(context)
    ignore = document_ignore_fields(doc) if type(doc) is dict else ()
    where = Where(base, 0)
    checked = []
    for index, raw in enumerate(events):
        where.index = index  # one Where for all events: it is only read while checking one
        checked.append(_check_event(raw, where, prefixes, ignore))
    return tuple(checked)
