"""OpenAPI descriptions of the EPCIS capture interface: its bodies, headers and capture jobs."""

from __future__ import annotations

from typing import Any

from provenance.epcis.query import EPCIS_PAYLOAD_TYPE
from provenance.supply.document_signature import HEADER
from provenance.web.openapi_schemas import ENVELOPE_TYPES, content, ref

#: A capture's envelope signs a whole EPCISDocument (JSON-LD).
CAPTURE_ENVELOPE = {
    "allOf": [ref("Envelope")],
    "properties": {"payloadType": {"const": EPCIS_PAYLOAD_TYPE}},
}
#: A plain document: signed in its DSSE-Signature header.
EPCIS_DOCUMENT = {
    "type": "object",
    "description": f"An EPCIS 2.0 EPCISDocument, signed over its exact bytes in {HEADER}",
    "properties": {"type": {"const": "EPCISDocument"}},
    "required": ["type"],
}
CAPTURE_BODY = {
    "required": True,
    "description": (
        "The DSSE envelope of an EPCISDocument, or (with a DSSE-Signature header) the document"
    ),
    "content": {
        **content(CAPTURE_ENVELOPE, *ENVELOPE_TYPES),
        "application/json": {"schema": {"anyOf": [CAPTURE_ENVELOPE, EPCIS_DOCUMENT]}},
        "application/ld+json": {"schema": EPCIS_DOCUMENT},
    },
}
CAPTURE_HEADERS: dict[str, dict[str, Any]] = {
    HEADER: {
        "required": False,
        "description": (
            "A plain document's signature (RFC 8941 dictionary): keyid=\"<SHA-256 of the "
            'public key, hex>", sig=:<base64 DER ECDSA P-256 over DSSE PAE(application/ld+json, '
            "the body)>:"
        ),
        "schema": {"type": "string"},
    },
    "GS1-Capture-Error-Behaviour": {
        "required": False,
        "description": "rollback (the default, and the only behaviour offered)",
        "schema": {"type": "string", "enum": ["rollback", "proceed", "all"]},
    },
}
_LIMITS = {
    "GS1-EPCIS-Capture-Limit": {"schema": {"type": "integer", "minimum": 1}},
    "GS1-EPCIS-Capture-File-Size-Limit": {"schema": {"type": "integer", "minimum": 1}},
    "GS1-Capture-Error-Behaviour": {"schema": {"type": "string", "const": "rollback"}},
}
CAPTURED = {
    "allOf": [ref("Appended")],
    "properties": {
        "events_captured": {"type": "integer", "minimum": 0},
        "unverified_claims": {"type": "integer", "minimum": 0},
        "payload": {"type": "string", "format": "uri-reference"},
        "captureID": {"type": "string"},
    },
}
_LOCATION = {"Location": {"schema": {"type": "string", "format": "uri-reference"}}}
CAPTURED_RESPONSES = {
    "202": {
        "description": "Logged: Location names the capture job, finished",
        "headers": {**_LOCATION, **_LIMITS},
        "content": content(CAPTURED),
    },
    "200": {
        "description": "Already in the log (a duplicate): Location names its capture job",
        "headers": {**_LOCATION, **_LIMITS},
        "content": content(CAPTURED),
    },
    "401": {"$ref": "#/components/responses/Problem"},
}
CAPTURE_JOB = {
    "type": "object",
    "required": [
        "captureID",
        "createdAt",
        "finishedAt",
        "running",
        "success",
        "captureErrorBehaviour",
        "errors",
    ],
    "properties": {
        "captureID": {"type": "string"},
        "createdAt": {"type": "string", "format": "date-time"},
        "finishedAt": {"type": "string", "format": "date-time"},
        "running": {"type": "boolean"},
        "success": {"type": "boolean"},
        "captureErrorBehaviour": {"type": "string", "enum": ["rollback", "proceed"]},
        "errors": {"type": "array", "maxItems": 0},
        "entry": {"type": "string", "format": "uri-reference"},
        "events_captured": {"type": "integer", "minimum": 0},
        "unverified_claims": {"type": "integer", "minimum": 0},
    },
}
JOBS_RESPONSES = {
    "200": {
        "description": 'The reader\'s capture jobs; Link rel="next" names the next page',
        "headers": {"Link": {"schema": {"type": "string"}}, **_LIMITS},
        "content": content({"type": "array", "items": CAPTURE_JOB}),
    },
    "422": {"$ref": "#/components/responses/Problem"},
}
JOB_RESPONSES = {
    "200": {
        "description": "A capture job of the reader's (a regulator: any)",
        "headers": _LIMITS,
        "content": content(CAPTURE_JOB),
    },
}
