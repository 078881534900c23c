"""EPCIS 2.0 endpoints: signed capture and the event query."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, request, url_for

from provenance.access.rules import SIGNED_IN, Rule
from provenance.access.web import body_limit, current_principal
from provenance.epcis.document import normalise_cbv
from provenance.epcis.epc_index import MATCH_FIELDS, match_keys
from provenance.epcis.errors import BadEpcis
from provenance.epcis.hash import utc_millis
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE, query_document
from provenance.log.errors import BadEnvelope
from provenance.log.statements import now_timestamp
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.supply import event_queries
from provenance.supply.web import page_token
from provenance.web.api import SIGNED_STATEMENT, appended_json, json_body, json_response
from provenance.web.context import service
from provenance.web.openapi import openapi
from provenance.web.openapi_schemas import appended_responses, envelope_body, ref

bp = Blueprint("epcis", __name__)

#: A 10,000-event document, base64 inside its envelope, fits.
MAX_CAPTURE_BYTES = 32 * 1024 * 1024
QUERY_LIMIT = 1000


#: A capture's envelope signs a whole EPCISDocument (JSON-LD).
CAPTURE_ENVELOPE = {
    "allOf": [ref("Envelope")],
    "properties": {"payloadType": {"const": EPCIS_PAYLOAD_TYPE}},
}
CAPTURED = {
    "allOf": [ref("Appended")],
    "properties": {
        "events_captured": {"type": "integer", "minimum": 0},
        "payload": {"type": "string", "format": "uri-reference"},
    },
}


@bp.post("/epcis/capture")
@body_limit(MAX_CAPTURE_BYTES)
@openapi(
    request_body=envelope_body(CAPTURE_ENVELOPE, "The DSSE envelope of an EPCISDocument"),
    responses=appended_responses(CAPTURED),
)
def capture() -> Response:
    """One DSSE envelope (payloadType application/ld+json) over a whole EPCISDocument."""
    envelope = json_body("the DSSE envelope of the EPCIS document")
    if not isinstance(envelope, dict) or envelope.get("payloadType") != EPCIS_PAYLOAD_TYPE:
        raise BadEnvelope(f"an EPCIS capture envelope has payloadType {EPCIS_PAYLOAD_TYPE}")
    appended = service().log.submit(envelope)
    with read_connection(service().engine) as conn:
        captured = event_queries.events_captured(conn, appended.index)
        digest = logdb.payload_digest(conn, appended.index)
    body = appended_json(appended)
    body["events_captured"] = captured
    body["payload"] = url_for("log.payload", digest=digest.hex() if digest else "")
    return json_response(body, 200 if appended.duplicate else 201, {"Location": body["entry"]})


@bp.get("/epcis/events")
def events() -> Response:
    """SimpleEventQuery parameters: the EPC matches (MATCH_epc, MATCH_anyEPC, MATCH_parentID,
    …, each a comma-separated list), EQ_bizStep, GE_eventTime, LT_eventTime, and the GS1
    batch keys gtin and lot; answered as an EPCISQueryDocument."""
    args = request.args
    known = {
        *MATCH_FIELDS,
        "EQ_bizStep",
        "GE_eventTime",
        "LT_eventTime",
        "gtin",
        "lot",
        "perPage",
        "nextPageToken",
    }
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
            reader=current_principal(),
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
    "epcis.capture": SIGNED_STATEMENT,  # the document is signed whole by a registered key
    # Each party reads the events it captured and those of batches it handled; regulators all.
    "epcis.events": SIGNED_IN,
}
