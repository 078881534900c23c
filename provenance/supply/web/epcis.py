"""EPCIS 2.0 query endpoints: the event query (SimpleEventQuery) and its paging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, json, request
from werkzeug.datastructures import MultiDict

from provenance.access.principal import Principal
from provenance.access.rules import SIGNED_IN, Rule
from provenance.access.web import current_principal
from provenance.epcis.epc_format import convert_event
from provenance.epcis.query import query_document
from provenance.epcis.simple_query import PARAMETERS, QueryTooLarge, parse
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import read_connection
from provenance.supply import event_queries
from provenance.supply.web import epcis_headers, page_token
from provenance.web.context import service
from provenance.web.openapi import openapi

bp = Blueprint("epcis", __name__)
bp.before_request(epcis_headers.check_request)
bp.after_app_request(epcis_headers.add_headers)

#: The query parameters with a fixed name, as the OpenAPI document declares them (the typed
#: ones, EQ_bizTransaction_<type>, EQ_source_<type> and EQ_destination_<type>, come on top).
QUERY_SPEC: dict[str, Any] = {name: {"schema": {"type": "string"}} for name in sorted(PARAMETERS)}
#: Parameters a token is not bound to: the page size, and how many events remain to be sent.
_UNBOUND = ("nextPageToken", "perPage", "eventCountLimit")


@bp.get("/epcis/events")
@openapi(query=QUERY_SPEC, headers=epcis_headers.REQUEST_HEADERS)
def events() -> Response:
    """SimpleEventQuery: the EPC matches (MATCH_epc, MATCH_anyEPC, …), eventType, EQ_action,
    EQ_bizStep, EQ_disposition, read point, business location, transactions, sources and
    destinations, EQ_eventID, quantities, error declarations, event and record time, orderBy,
    eventCountLimit, maxEventCount and the GS1 batch keys gtin and lot; answered as an
    EPCISQueryDocument, a page at a time."""
    return answer_query(request.args, current_principal())


def answer_query(args: MultiDict[str, str], reader: Principal | None) -> Response:
    """The EPCISQueryDocument answering SimpleEventQuery parameters `args`, for `reader`: the
    one query every EPCIS read resource (and a named query) runs.

    The next page's link is the request's own resource and query string with the token (and
    what remains of eventCountLimit), so a resource whose parameters come from its path or
    from a stored query pages as /epcis/events does."""
    values: Mapping[str, Sequence[str]] = {name: args.getlist(name) for name in args}
    wanted = parse(values)
    bound_to = _query_of(values)
    after = page_token.read(wanted.token, bound_to) if wanted.token else None
    page = wanted.per_page
    if wanted.count_limit is not None:
        page = min(page, wanted.count_limit)
    keys: list[event_queries.EventKey] = []
    with read_connection(service().engine) as conn:
        if wanted.max_count is not None:
            matching = event_queries.count_events(conn, wanted, reader, wanted.max_count + 1)
            if matching > wanted.max_count:
                raise QueryTooLarge(
                    f"more than maxEventCount={wanted.max_count} events match: narrow the query",
                    maxEventCount=wanted.max_count,
                )
        found = event_queries.find_events(
            conn,
            wanted,
            limit=page + 1,  # one more tells whether another page follows
            reader=reader,
            after=after,
            page_keys=keys,
        )
        headers = {}
        if len(found) > page:
            found = found[:page]
            left = None if wanted.count_limit is None else wanted.count_limit - page
            if left != 0:
                following = page_token.make(keys[page - 1], bound_to)
                # EPCIS 2.0 REST binding: the next page is the `next` link, carrying the token.
                headers["Link"] = f'<{_next_link(following, left)}>; rel="next"'
        # Converting to EPC URNs reads the company prefixes: within the same read.
        convert = epcis_headers.epc_converter(conn)
        if convert is not None:
            found = [convert_event(event, convert) for event in found]
    document = query_document(found, now_timestamp())
    return Response(json.dumps(document), mimetype=epcis_headers.media_type(), headers=headers)


def _next_link(token: str, left: int | None) -> str:
    """This resource again, with its query string but the token (and eventCountLimit)."""
    kept = [
        (k, v)
        for k in request.args
        if k not in ("nextPageToken", "eventCountLimit")
        for v in request.args.getlist(k)
    ]
    if left is not None:
        kept.append(("eventCountLimit", str(left)))
    return epcis_headers.request_path() + "?" + urlencode([*kept, ("nextPageToken", token)])


def _query_of(values: Mapping[str, Sequence[str]]) -> str:
    """The query a token belongs to: its parameters but those in _UNBOUND."""
    kept = sorted((k, v) for k in values if k not in _UNBOUND for v in values[k])
    return urlencode(kept)


ACCESS: dict[str, Rule] = {
    # Each party reads the events it captured and those of batches it handled; regulators all.
    "epcis.events": SIGNED_IN,
}
