"""EPCIS 2.0 query endpoints: the event query (SimpleEventQuery) and its paging."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, request, url_for
from werkzeug.datastructures import MultiDict

from provenance.access.principal import Principal
from provenance.access.rules import SIGNED_IN, Rule
from provenance.access.web import current_principal
from provenance.epcis.document import normalise_cbv
from provenance.epcis.epc_index import MATCH_FIELDS, match_keys
from provenance.epcis.errors import BadEpcis
from provenance.epcis.hash import utc_millis
from provenance.epcis.query import query_document
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import read_connection
from provenance.supply import event_queries
from provenance.supply.web import page_token
from provenance.web.api import json_response
from provenance.web.context import service
from provenance.web.openapi import openapi

bp = Blueprint("epcis", __name__)

QUERY_LIMIT = 1000


#: The SimpleEventQuery parameters (and the REST binding's paging ones) the query takes.
QUERY_PARAMETERS = frozenset(
    {
        *MATCH_FIELDS,
        "EQ_bizStep",
        "GE_eventTime",
        "LT_eventTime",
        "gtin",
        "lot",
        "perPage",
        "nextPageToken",
    }
)


@bp.get("/epcis/events")
@openapi(query={name: {"schema": {"type": "string"}} for name in QUERY_PARAMETERS})
def events() -> Response:
    """SimpleEventQuery parameters: the EPC matches (MATCH_epc, MATCH_anyEPC, MATCH_parentID,
    …, each a comma-separated list), EQ_bizStep, GE_eventTime, LT_eventTime, and the GS1
    batch keys gtin and lot; answered as an EPCISQueryDocument."""
    return answer_query(request.args, current_principal())


def answer_query(args: MultiDict[str, str], reader: Principal | None) -> Response:
    """The EPCISQueryDocument answering SimpleEventQuery parameters `args`, for `reader`: the
    one query every EPCIS read resource (and a named query) runs."""
    known = QUERY_PARAMETERS
    unknown = sorted(set(args) - known)
    if unknown:
        raise BadEpcis("unsupported query parameters", unsupported=unknown, supported=sorted(known))
    step = args.get("EQ_bizStep")
    if step is not None:
        # A value that is neither a CBV step nor another URI matches no stored event.
        with contextlib.suppress(ValueError):
            step = normalise_cbv(step, "bizStep")
    try:
        limit = min(int(args.get("perPage", QUERY_LIMIT)), QUERY_LIMIT)
    except ValueError:
        raise BadEpcis("perPage must be an integer") from None
    # Parameters are ANDed, the values of one (comma-separated or repeated) ORed.
    epcs = [
        (MATCH_FIELDS[name], match_keys(name, ",".join(args.getlist(name))))
        for name in sorted(MATCH_FIELDS)
        if name in args
    ]
    token = args.get("nextPageToken")
    keys: list[event_queries.EventKey] = []
    with read_connection(service().engine) as conn:
        found = event_queries.epcis_events(
            conn,
            epcs=epcs,
            gtin=args.get("gtin"),
            lot=args.get("lot"),
            biz_step=step,
            since=_time(args.get("GE_eventTime")),
            until=_time(args.get("LT_eventTime")),
            limit=limit + 1,  # one more tells whether another page follows
            reader=reader,
            after=page_token.read(token, _query_of(args)) if token else None,
            page_keys=keys,
        )
    headers = {}
    if len(found) > limit:
        found = found[:limit]
        following = page_token.make(keys[limit - 1], _query_of(args))
        query = [(k, v) for k in sorted(args) if k != "nextPageToken" for v in args.getlist(k)]
        link = url_for("epcis.events") + "?" + urlencode([*query, ("nextPageToken", following)])
        # EPCIS 2.0 REST binding: the next page is the `next` link, carrying the token.
        headers["Link"] = f'<{link}>; rel="next"'
    return json_response(query_document(found, now_timestamp()), headers=headers)


def _query_of(args: Any) -> str:
    """The query a token belongs to: its parameters but the token and the page size."""
    kept = sorted(
        (k, v) for k in args if k not in ("nextPageToken", "perPage") for v in args.getlist(k)
    )
    return urlencode(kept)


def _time(value: str | None) -> str | None:
    """A query time bound, compared as the stored UTC-millisecond form."""
    if value is None:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise BadEpcis(f"{value!r} is not an ISO 8601 date-time") from None
    return utc_millis(value)


ACCESS: dict[str, Rule] = {
    # Each party reads the events it captured and those of batches it handled; regulators all.
    "epcis.events": SIGNED_IN,
}
