"""EPCIS 2.0 capture endpoint: a signed EPCIS document logged as one entry."""

from __future__ import annotations

from flask import Blueprint, Response, url_for

from provenance.access.rules import Rule
from provenance.access.web import body_limit
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE
from provenance.log.errors import BadEnvelope
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.supply import event_queries
from provenance.web.api import SIGNED_STATEMENT, appended_json, json_body, json_response
from provenance.web.context import service
from provenance.web.openapi import openapi
from provenance.web.openapi_schemas import appended_responses, envelope_body, ref

bp = Blueprint("epcis_capture", __name__)

#: A 10,000-event document, base64 inside its envelope, fits.
MAX_CAPTURE_BYTES = 32 * 1024 * 1024


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


ACCESS: dict[str, Rule] = {
    "epcis_capture.capture": SIGNED_STATEMENT,  # the document is signed whole by a registered key
}
