"""EPCIS 2.0 documents as exchanged: their media type and JSON-LD context, query documents."""

from __future__ import annotations

from typing import Any

#: The IANA media type of JSON-LD: the DSSE payload type of an EPCIS document signed whole.
EPCIS_PAYLOAD_TYPE = "application/ld+json"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: An `epcisHeader` extension member (an absolute IRI, as EPCIS 2.0 allows for extensions):
#: the origin of the log a signed document is meant for.
LOG_HEADER = "tag:provenance.local,2026:log"


def query_document(events: list[dict[str, Any]], created: str) -> dict[str, Any]:
    """An EPCIS 2.0 EPCISQueryDocument carrying these events."""
    return {
        "@context": [CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": events},
            }
        },
    }
