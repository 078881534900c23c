"""SimpleEventQuery parameters (EPCIS 2.0 §8.2.7.1, REST binding) read into index filters."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from provenance.epcis.canon import utc_millis
from provenance.epcis.epc_index import (
    MATCH_FIELDS,
    epc_key,
    field_range,
    match_keys,
    quantity_key,
    typed_value,
    value_key,
)
from provenance.epcis.errors import BadEpcis
from provenance.epcis.vocab import normalise_cbv
from provenance.errors import BadParameter, Error

#: The most events one page holds, whatever perPage asks.
PAGE_LIMIT = 1000
#: Counts above this (eventCountLimit, maxEventCount) are read as this: more than any log holds.
COUNT_LIMIT = 10**12

#: Parameters whose values (pipe-separated, or the parameter repeated) are any-of keys of one
#: indexed field, with the normaliser that puts a value in its indexed form.
_EQUALS: dict[str, tuple[str, Callable[[str], str]]] = {
    "eventType": ("eventType", str),
    "EQ_action": ("action", str),
    "EQ_bizStep": ("bizStep", lambda v: _cbv(v, "bizStep")),
    "EQ_disposition": ("disposition", lambda v: _cbv(v, "disposition")),
    "EQ_persistentDisposition_set": ("dispositionSet", lambda v: _cbv(v, "disposition")),
    "EQ_persistentDisposition_unset": ("dispositionUnset", lambda v: _cbv(v, "disposition")),
    "EQ_readPoint": ("readPoint", epc_key),
    # No master data describes a hierarchy of locations here: WD_ matches as EQ_ does.
    "WD_readPoint": ("readPoint", epc_key),
    "EQ_bizLocation": ("bizLocation", epc_key),
    "WD_bizLocation": ("bizLocation", epc_key),
}
#: Parameters whose name carries a type: EQ_bizTransaction_<type>, EQ_source_<type>, …
_TYPED = {
    "EQ_bizTransaction_": ("bizTransaction", "btt"),
    "EQ_source_": ("source", "sdt"),
    "EQ_destination_": ("destination", "sdt"),
}
_QUANTITY = {
    "EQ_quantity": "=",
    "GT_quantity": ">",
    "GE_quantity": ">=",
    "LT_quantity": "<",
    "LE_quantity": "<=",
}
_ORDERS = ("eventTime", "recordTime")

#: Every parameter with a fixed name the query takes (the typed ones come on top).
PARAMETERS = frozenset(
    {
        *MATCH_FIELDS,
        *_EQUALS,
        *_QUANTITY,
        "GE_eventTime",
        "LT_eventTime",
        "GE_recordTime",
        "LT_recordTime",
        "EQ_eventID",
        "EXISTS_errorDeclaration",
        "GE_errorDeclarationTime",
        "LT_errorDeclarationTime",
        "orderBy",
        "orderDirection",
        "eventCountLimit",
        "maxEventCount",
        "gtin",
        "lot",
        "perPage",
        "nextPageToken",
    }
)
#: How typed parameters are named, for the refusal of an unknown one.
TYPED_PARAMETERS = tuple(f"{prefix}<type>" for prefix in _TYPED)


class QueryTooLarge(Error):
    slug, status, title = "query-too-large", 413, "More events match than maxEventCount allows"


class NotAcceptable(Error):
    slug, status, title = "not-acceptable", 406, "No answer in the version or form asked for"


PROBLEMS: tuple[type[Error], ...] = (QueryTooLarge, NotAcceptable)


@dataclass(frozen=True)
class Range:
    """An index range filter: field, comparison and key (quantities, declaration times)."""

    field: str
    op: str
    key: str


@dataclass(frozen=True)
class SimpleQuery:
    """A SimpleEventQuery as index reads: every filter must hold (keys of one filter are
    alternatives)."""

    #: (fields, keys): the event has one of the keys in one of the fields
    matches: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    ranges: tuple[Range, ...] = ()
    event_ids: tuple[str, ...] = ()
    gtin: str | None = None
    lot: str | None = None
    since: str | None = None
    until: str | None = None
    recorded_since: str | None = None
    recorded_until: str | None = None
    order: str = "eventTime"
    descending: bool = False
    per_page: int = PAGE_LIMIT
    count_limit: int | None = None
    max_count: int | None = None
    token: str | None = None


def _cbv(value: str, vocabulary: str) -> str:
    # A value that is neither a CBV term nor another URI matches no stored event.
    with contextlib.suppress(ValueError):
        return normalise_cbv(value, vocabulary)
    return value


def split(values: Sequence[str], *, commas: bool = False) -> list[str]:
    """A list parameter's values: pipe-separated (REST binding), or the parameter repeated;
    MATCH_ parameters also take commas."""
    items: list[str] = []
    for value in values:
        for part in value.split("|"):
            items.extend(part.split(",") if commas else (part,))
    return items


def parse(args: Mapping[str, Sequence[str]]) -> SimpleQuery:
    """The query `args` (each parameter's values) ask; BadEpcis or BadParameter if malformed."""
    unknown = sorted(n for n in args if n not in PARAMETERS and not n.startswith(tuple(_TYPED)))
    if unknown:
        supported = sorted(PARAMETERS) + list(TYPED_PARAMETERS)
        raise BadEpcis("unsupported query parameters", unsupported=unknown, supported=supported)

    def one(name: str) -> str | None:
        values = args.get(name)
        return values[-1] if values else None

    matches: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for name in sorted(MATCH_FIELDS):
        if name in args:
            epcs = match_keys(name, ",".join(split(args[name], commas=True)))
            matches.append((MATCH_FIELDS[name], tuple(epcs)))
    for name, (index_field, normal) in sorted(_EQUALS.items()):
        if name in args:
            values = _nonempty(name, split(args[name]))
            equal = tuple(dict.fromkeys(value_key(index_field, normal(v)) for v in values))
            matches.append(((index_field,), equal))
    for name in sorted(args):
        prefix = next((p for p in _TYPED if name.startswith(p)), None)
        if prefix is None:
            continue
        index_field, vocabulary = _TYPED[prefix]
        kind = _cbv(name[len(prefix) :], vocabulary)
        values = _nonempty(name, split(args[name]))
        typed = tuple(dict.fromkeys(value_key(index_field, typed_value(kind, v)) for v in values))
        matches.append(((index_field,), typed))
    ranges = [*_quantities(args), *_declarations(args, one)]
    order = one("orderBy")
    if order is not None and order not in _ORDERS:
        raise BadParameter("orderBy must be eventTime or recordTime", parameter="orderBy")
    direction = one("orderDirection")
    if direction not in (None, "ASC", "DESC"):
        raise BadParameter("orderDirection must be ASC or DESC", parameter="orderDirection")
    count_limit, max_count = _count(one, "eventCountLimit"), _count(one, "maxEventCount")
    if count_limit is not None and max_count is not None:
        raise BadParameter("eventCountLimit and maxEventCount exclude each other")
    if count_limit is not None and order is None:
        raise BadParameter("eventCountLimit needs orderBy", parameter="eventCountLimit")
    per_page = _count(one, "perPage")
    return SimpleQuery(
        matches=tuple(matches),
        ranges=tuple(ranges),
        event_ids=tuple(dict.fromkeys(_nonempty("EQ_eventID", split(args.get("EQ_eventID", ()))))),
        gtin=one("gtin"),
        lot=one("lot"),
        since=time_bound(one("GE_eventTime")),
        until=time_bound(one("LT_eventTime")),
        recorded_since=time_bound(one("GE_recordTime")),
        recorded_until=time_bound(one("LT_recordTime")),
        order=order or "eventTime",
        # SimpleEventQuery's default direction is DESC once orderBy is given; without it the
        # answer is oldest first, as it always was.
        descending=(direction or ("DESC" if order else "ASC")) == "DESC",
        per_page=min(per_page, PAGE_LIMIT) if per_page is not None else PAGE_LIMIT,
        count_limit=count_limit,
        max_count=max_count,
        token=one("nextPageToken"),
    )


def _nonempty(name: str, values: list[str]) -> list[str]:
    if any(not v for v in values):
        raise BadParameter(f"{name} lists an empty value", parameter=name)
    return values


def _count(one: Callable[[str], str | None], name: str) -> int | None:
    value = one(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise BadParameter(f"{name} must be a positive integer", parameter=name)
    return min(int(value), COUNT_LIMIT)


def _quantities(args: Mapping[str, Sequence[str]]) -> list[Range]:
    found = []
    for name, op in sorted(_QUANTITY.items()):
        if name not in args:
            continue
        raw = args[name][-1]
        key = quantity_key(raw) if raw.strip() and raw.strip()[0].isdigit() else None
        if key is None:
            raise BadParameter(f"{name} must be a number from 0 up to 10^18", parameter=name)
        found.append(Range("quantity", op, key))
    return found


def _declarations(
    args: Mapping[str, Sequence[str]], one: Callable[[str], str | None]
) -> list[Range]:
    exists = one("EXISTS_errorDeclaration")
    if exists not in (None, "", "true", "false"):
        raise BadParameter("EXISTS_errorDeclaration is true or false")
    found = []
    low, _high = field_range("errorDeclaration")
    if exists in ("", "true"):
        found.append(Range("errorDeclaration", ">=", low))
    for name, op in (("GE_errorDeclarationTime", ">="), ("LT_errorDeclarationTime", "<")):
        bound = time_bound(one(name))
        if bound is not None:
            found.append(Range("errorDeclaration", op, value_key("errorDeclaration", bound)))
    return found


def time_bound(value: str | None) -> str | None:
    """A query time bound, compared as the stored UTC-millisecond form."""
    if value is None:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise BadEpcis(f"{value!r} is not an ISO 8601 date-time") from None
    return utc_millis(value)
