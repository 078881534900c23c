"""Query documents carry the namespaces their events' extensions use, so their IDs recompute."""

from __future__ import annotations

from typing import Any

from provenance.epcis.hash import event_hash_id
from provenance.epcis.query import (
    CONTEXT,
    NAMESPACES_MEMBER,
    document_namespaces,
    event_namespaces,
    query_document,
)

DOCUMENT_CONTEXT: list[Any] = [
    CONTEXT,
    {"ex": "https://ns.example.com/epcis/", "unused": "https://unused.example.com/"},
]
EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2024-01-01T00:00:00Z",
    "eventTimeZoneOffset": "+00:00",
    "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "ex:temperature": {"ex:value": "4", "ex:unit": "ex:CEL"},
}


def test_an_event_keeps_only_the_namespaces_it_uses() -> None:
    defined = document_namespaces(DOCUMENT_CONTEXT)
    assert "cbv" not in defined and "gs1" not in defined  # the standard ones need no carrying
    assert event_namespaces(EVENT, defined) == {"ex": "https://ns.example.com/epcis/"}
    assert event_namespaces({"type": "ObjectEvent"}, defined) == {}


def test_the_answer_lets_a_reader_recompute_the_event_hash_id() -> None:
    expected = event_hash_id(EVENT, DOCUMENT_CONTEXT)
    assert event_hash_id(EVENT, [CONTEXT]) != expected  # without the namespace it differs
    spaces = event_namespaces(EVENT, document_namespaces(DOCUMENT_CONTEXT))
    answer = query_document([{**EVENT, NAMESPACES_MEMBER: spaces}], "2024-01-02T00:00:00Z")
    (answered,) = answer["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert answered == EVENT  # as stored, the namespaces in the document's @context
    assert answer["@context"] == [CONTEXT, spaces]
    assert event_hash_id(answered, answer["@context"]) == expected


def test_a_prefix_bound_two_ways_stays_with_its_event() -> None:
    first = {**EVENT, NAMESPACES_MEMBER: {"ex": "https://one.example/"}}
    second = {**EVENT, NAMESPACES_MEMBER: {"ex": "https://two.example/"}}
    own = {"@context": [{"ex": "https://own.example/"}], **EVENT}
    third = {**own, NAMESPACES_MEMBER: {"ex": "https://three.example/"}}
    answer = query_document([first, second, third], "2024-01-02T00:00:00Z")
    events = answer["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert answer["@context"] == [CONTEXT, {"ex": "https://one.example/"}]
    assert events[0] == EVENT
    assert events[1] == {"@context": {"ex": "https://two.example/"}, **EVENT}
    assert events[2] == own  # its own @context is hashed as captured: never changed
    assert query_document([EVENT], "2024-01-02T00:00:00Z")["@context"] == [CONTEXT]
