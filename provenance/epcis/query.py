"""EPCIS 2.0 documents as exchanged: their media type and JSON-LD context, query documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provenance.epcis.context import STANDARD_PREFIXES, context_prefixes

#: The IANA media type of JSON-LD: the DSSE payload type of an EPCIS document signed whole.
EPCIS_PAYLOAD_TYPE = "application/ld+json"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: An `epcisHeader` extension member (an absolute IRI, as EPCIS 2.0 allows for extensions):
#: the origin of the log a signed document is meant for.
LOG_HEADER = "tag:provenance.local,2026:log"
#: A stored event's member (never answered, never accepted from a document): the namespace
#: prefixes of its document's @context its extensions use, for the answer's @context.
NAMESPACES_MEMBER = "tag:provenance.local,2026:namespaces"


def document_namespaces(context: Any) -> dict[str, str]:
    """The namespace prefixes a document's @context defines beyond the standard ones."""
    return {
        prefix: iri
        for prefix, iri in context_prefixes(context).items()
        if STANDARD_PREFIXES.get(prefix) != iri
    }


def event_namespaces(event: Mapping[str, Any], defined: Mapping[str, str]) -> dict[str, str]:
    """Those of its document's namespaces (`document_namespaces`) an event's members or values
    use: what a reader needs to expand its extensions, and so to compute its Event Hash ID,
    once the event is answered outside that document."""
    if not defined:
        return {}
    used: set[str] = set()
    _prefixes_used(event, used)
    return {prefix: defined[prefix] for prefix in sorted(used) if prefix in defined}


def _prefixes_used(node: Any, used: set[str]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(key, str) and ":" in key:
                used.add(key.partition(":")[0])
            _prefixes_used(value, used)
    elif isinstance(node, list):
        for item in node:
            _prefixes_used(item, used)
    elif isinstance(node, str) and ":" in node and not node.startswith(("http", "urn:")):
        used.add(node.partition(":")[0])


def query_document(events: list[dict[str, Any]], created: str) -> dict[str, Any]:
    """An EPCIS 2.0 EPCISQueryDocument carrying these events.

    The namespaces an event was stored with (its `NAMESPACES_MEMBER`, see `event_namespaces`)
    go into the answer's @context; where two events bind one prefix to different IRIs, the
    later gets them as an @context of its own (JSON-LD scopes it to the event) unless it has
    one already. An event's own @context stays as captured: the Event Hash ID covers it."""
    merged: dict[str, str] = {}
    answered = []
    for event in events:
        spaces = event.get(NAMESPACES_MEMBER)
        if spaces is not None:
            event = {k: v for k, v in event.items() if k != NAMESPACES_MEMBER}
            if all(merged.get(k, v) == v for k, v in spaces.items()):
                merged.update(spaces)
            elif "@context" not in event:
                event = {"@context": spaces, **event}
        answered.append(event)
    return {
        "@context": [CONTEXT, merged] if merged else [CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": answered},
            }
        },
    }
