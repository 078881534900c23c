"""EPCIS 2.0 document validation and event extraction."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

from provenance.epcis.document import (
    MAX_EVENTS,
    EpcisEvent,
    epc_gtin_lot_serial,
    normalise_cbv,
    parse_epcis_document,
)
from provenance.epcis.errors import BadEpcis
from provenance.epcis.hash import event_hash_id
from tests.paths import VECTORS

VECTORS = VECTORS / "epcis"
GS1_EXAMPLES = sorted((VECTORS / "gs1-examples").glob("*.jsonld"))
INVALID = VECTORS / "invalid"
CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _doc(*events: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T10:00:00Z",
        "epcisBody": {"eventList": list(events)},
        **extra,
    }


SHIP: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2024-03-01T10:00:00.000+01:00",
    "eventTimeZoneOffset": "+01:00",
    "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
    "bizTransactionList": [
        {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1"}
    ],
    "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
    "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:0614142.00001"}],
}


def _reject(doc: Any) -> BadEpcis:
    with pytest.raises(BadEpcis) as caught:
        parse_epcis_document(doc)
    return caught.value


# --- the official examples and the invalid corpus ----------------------------------------------


def test_vectors_present() -> None:
    assert len(GS1_EXAMPLES) == 12
    assert len(list(INVALID.glob("*.json"))) == 15


@pytest.mark.parametrize("path", GS1_EXAMPLES, ids=lambda p: p.name)
def test_gs1_examples_accepted(path: Path) -> None:
    doc = _load(path)
    events = parse_epcis_document(doc)
    body = doc["epcisBody"]
    raw = (
        body["eventList"]
        if "eventList" in body
        else body["queryResults"]["resultsBody"]["eventList"]
    )
    assert len(events) == len(raw)
    for n, event in enumerate(events):
        assert event.position == n
        assert event.raw == raw[n]
        assert event.hash_id == event_hash_id(raw[n], doc["@context"])
        assert event.event_time.endswith("Z") and len(event.event_time) == 24


# file -> (index of the first defective event or None for a document defect, words in detail)
INVALID_CASES: dict[str, tuple[int | None, tuple[str, ...]]] = {
    "Combination_of_events_with_missing_mandatory_fields.json": (0, ("missing", "action")),
    "Combination_of_multiple_invalid_fields.json": (0, ("bizStep", "transforming")),
    "Combination_of_non_standard_bizStep_and_disposition.json": (0, ("bizStep", "transforming")),
    "EPCISDocument_without_context.json": (None, ("@context",)),
    "ObjectEvent_with_ilmd_field_without_namespace.json": (0, ("ilmd", "materialType")),
    "ObjectEvent_with_invalid_action.json": (0, ("action", "CREATE")),
    "ObjectEvent_with_invalid_certificationInfo.json": (0, ("certificationInfo",)),
    "ObjectEvent_with_invalid_eventTime_format.json": (0, ("eventTime", "22-07-2026")),
    "ObjectEvent_with_non_standard_bizStep.json": (0, ("non-standard bizStep", "transforming")),
    "ObjectEvent_with_non_standard_bizStep_in_second_event.json": (1, ("bizStep", "transforming")),
    "ObjectEvent_with_non_standard_disposition.json": (
        0,
        ("non-standard disposition", "in_transport"),
    ),
    "ObjectEvent_with_quantity_as_text.json": (0, ("quantity", "number", "twenty")),
    "ObjectEvent_with_unknown_field_in_quantityList.json": (0, ("quantityList", "weight")),
    "ObjectEvent_without_action_and_eventTime.json": (0, ("missing", "eventTime", "action")),
    "ObjectEvent_without_identifier_list.json": (0, ("epcList", "quantityList")),
}


def test_invalid_cases_cover_the_corpus() -> None:
    assert sorted(INVALID_CASES) == sorted(p.name for p in INVALID.glob("*.json"))


@pytest.mark.parametrize("name", sorted(INVALID_CASES))
def test_invalid_rejected(name: str) -> None:
    index, words = INVALID_CASES[name]
    problem = _reject(_load(INVALID / name)).problem()
    for word in words:
        assert word in problem["detail"], (word, problem["detail"])
    assert problem["status"] == 422
    if index is None:
        assert "event" not in problem
    else:
        assert problem["event"] == index
        assert problem["detail"].startswith(f"event {index}: ")
        assert problem["pointer"].startswith(f"/epcisBody/eventList/{index}")


# --- extraction ----------------------------------------------------------------------------


def test_shipping_event_fields() -> None:
    (event,) = parse_epcis_document(_doc(SHIP))
    assert isinstance(event, EpcisEvent)
    assert event.type == "ObjectEvent"
    assert event.action == "OBSERVE"
    assert event.event_time == "2024-03-01T09:00:00.000Z"
    assert event.event_time_zone_offset == "+01:00"
    assert event.biz_step == "shipping"
    assert event.disposition == "in_transit"
    assert event.epcs == event.epc_list == ("urn:epc:id:sgtin:0614141.107346.2017",)
    assert event.read_point == "urn:epc:id:sgln:0614141.07346.1234"
    assert event.biz_location is None
    assert event.biz_transactions == (("po", "urn:epcglobal:cbv:bt:0614141073467:1"),)
    assert event.sources == (("owning_party", "urn:epc:id:pgln:0614141.00001"),)
    assert event.destinations == (("owning_party", "urn:epc:id:pgln:0614142.00001"),)
    assert event.quantities == ()
    assert dict(event.ilmd) == {}
    assert event.lot is None and event.expiry is None
    assert event.hash_id == event_hash_id(SHIP, CONTEXT)


def test_commissioning_with_ilmd_lot_and_expiry() -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T10:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["https://id.gs1.org/01/09521141012345/21/S1"],
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 5, "uom": "EA"}
        ],
        "action": "ADD",
        "bizStep": "urn:epcglobal:cbv:bizstep:commissioning",
        "disposition": "https://ref.gs1.org/cbv/Disp-active",
        "ilmd": {"cbvmda:lotNumber": "L42", "cbvmda:itemExpirationDate": "2026-12-31"},
    }
    (parsed,) = parse_epcis_document(_doc(event))
    assert parsed.biz_step == "commissioning"
    assert parsed.disposition == "active"
    assert parsed.lot == "L42"
    assert parsed.expiry == "2026-12-31"
    assert parsed.quantities == (("urn:epc:class:lgtin:4012345.012345.998877", 5.0, "EA"),)


def test_aggregation_and_transformation_identifiers() -> None:
    pack = {
        "type": "AggregationEvent",
        "eventTime": "2024-03-01T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "parentID": "urn:epc:id:sscc:0614141.1234567890",
        "childEPCs": ["urn:epc:id:sgtin:0614141.107346.1", "urn:epc:id:sgtin:0614141.107346.2"],
        "action": "ADD",
        "bizStep": "packing",
    }
    make = {
        "type": "TransformationEvent",
        "eventTime": "2024-03-01T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "inputEPCList": ["urn:epc:id:sgtin:0614141.107346.1"],
        "outputEPCList": ["urn:epc:id:sgtin:0614141.107346.9"],
        "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.1", "quantity": 2}],
        "bizStep": "commissioning",
    }
    agg, trans = parse_epcis_document(_doc(pack, make))
    assert agg.parent_id == "urn:epc:id:sscc:0614141.1234567890"
    assert agg.epcs == agg.child_epcs and len(agg.epcs) == 2
    assert trans.action is None
    assert trans.input_epcs == ("urn:epc:id:sgtin:0614141.107346.1",)
    assert trans.epcs == trans.output_epcs == ("urn:epc:id:sgtin:0614141.107346.9",)
    assert trans.input_quantities == (("urn:epc:class:lgtin:4012345.012345.1", 2.0, None),)


def test_single_event_capture_shape() -> None:
    (event,) = parse_epcis_document({"@context": CONTEXT, **SHIP})
    assert event.hash_id == event_hash_id(SHIP, CONTEXT)


def test_query_document_pointer() -> None:
    doc = {
        "@context": CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T10:00:00Z",
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": [SHIP, {**SHIP, "action": "MOVE"}]},
            }
        },
    }
    problem = _reject(doc).problem()
    assert problem["event"] == 1
    assert problem["pointer"] == "/epcisBody/queryResults/resultsBody/eventList/1/action"


# --- rejections ----------------------------------------------------------------------------


def test_too_many_events() -> None:
    doc = _doc(*([SHIP] * (MAX_EVENTS + 1)))
    problem = _reject(doc).problem()
    assert problem["limit"] == MAX_EVENTS
    assert "too many events" in problem["detail"]


def test_exactly_max_events_accepted() -> None:
    assert len(parse_epcis_document(_doc(*([SHIP] * MAX_EVENTS)))) == MAX_EVENTS


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"ilmd": {"cbvmda:lotNumber": "L1"}}, ("ilmd", "ADD")),
        ({"bizStep": "urn:epcglobal:cbv:bizstep:teleporting"}, ("non-standard bizStep",)),
        ({"bizStep": "https://ref.gs1.org/cbv/BizStep-teleporting"}, ("non-standard bizStep",)),
        ({"disposition": "urn:epcglobal:cbv:disp:lost"}, ("non-standard disposition",)),
        ({"eventTimeZoneOffset": "+1:00"}, ("eventTimeZoneOffset",)),
        ({"eventTime": "2024-03-01T10:00:00"}, ("eventTime",)),
        ({"eventTime": "2024-02-30T10:00:00Z"}, ("eventTime",)),
        ({"epcList": ["not a uri"]}, ("epcList[0]",)),
        ({"epcList": ["urn:x:1", "urn:x:1"]}, ("more than once",)),
        ({"readPoint": "urn:epc:id:sgln:0614141.07346.1234"}, ("readPoint",)),
        ({"sourceList": [{"type": "owner", "source": "urn:x:1"}]}, ("source/destination type",)),
        ({"sourceList": [{"source": "urn:x:1"}]}, ("needs a type",)),
        ({"bizTransactionList": [{"type": "po"}]}, ("bizTransaction must be a URI",)),
        ({"colour": "red"}, ("unknown field", "colour")),
        ({"quantityList": [{"epcClass": "urn:x:c", "quantity": 1, "uom": "kg"}]}, ("uom",)),
        ({"type": "SensorEvent"}, ("unsupported event type",)),
    ],
)
def test_event_defects(change: dict[str, Any], words: tuple[str, ...]) -> None:
    event = {**SHIP, **change}
    problem = _reject(_doc(SHIP, event)).problem()
    assert problem["event"] == 1
    for word in words:
        assert word in problem["detail"], (word, problem["detail"])


def test_sensor_data_checked_against_schema() -> None:
    event = {**SHIP, "sensorElementList": [{"sensorReport": [{"value": "hot"}]}]}
    problem = _reject(_doc(event)).problem()
    assert problem["event"] == 0
    assert "sensorElementList" in problem["pointer"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"schemaVersion": "1.2"}, ("schemaVersion",)),
        ({"type": "Something"}, ("type",)),
        ({"epcisBody": {"eventList": {}}}, ("eventList",)),
        ({"epcisBody": {}}, ("eventList",)),
        ({"creationDate": "yesterday"}, ("creationDate",)),
        ({"sender": 5}, ("sender",)),
    ],
)
def test_document_defects(change: dict[str, Any], words: tuple[str, ...]) -> None:
    problem = _reject({**_doc(SHIP), **change}).problem()
    assert "event" not in problem
    for word in words:
        assert word in problem["detail"], (word, problem["detail"])


def test_not_an_object() -> None:
    assert "JSON object" in _reject([SHIP]).detail


def test_input_is_not_modified() -> None:
    doc = _doc(SHIP)
    before = copy.deepcopy(doc)
    parse_epcis_document(doc)
    assert doc == before


def test_events_are_ordinary_frozen_dataclasses() -> None:
    """Events built by the parser equal, hash and behave as EpcisEvent(...) built directly."""
    docs = [_doc(SHIP, SHIP)] + [_load(path) for path in GS1_EXAMPLES]
    names = [f.name for f in dataclasses.fields(EpcisEvent)]
    events = [event for doc in docs for event in parse_epcis_document(doc)]
    assert len(events) >= 20
    for event in events:
        assert list(vars(event)) == names
        direct = EpcisEvent(**{name: getattr(event, name) for name in names})
        assert event == direct and hash(event) == hash(direct) and repr(event) == repr(direct)
        assert dataclasses.replace(event, lot="X").lot == "X"
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.lot = "X"  # type: ignore[misc]


def test_many_epcs_in_linear_time() -> None:
    epcs = [f"https://id.gs1.org/01/09506000134352/21/S{n}" for n in range(20_000)]
    started = time.perf_counter()
    (event,) = parse_epcis_document(_doc({**SHIP, "epcList": epcs}))
    assert time.perf_counter() - started < 10
    assert event.epcs == tuple(epcs)
    assert event.hash_id == event_hash_id({**SHIP, "epcList": epcs}, CONTEXT)
    problem = _reject(_doc({**SHIP, "epcList": [*epcs, epcs[0]]}))
    assert "more than once" in problem.detail


# --- helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "vocabulary", "expected"),
    [
        ("shipping", "bizStep", "shipping"),
        ("urn:epcglobal:cbv:bizstep:shipping", "bizStep", "shipping"),
        ("https://ref.gs1.org/cbv/BizStep-retail_selling", "bizStep", "retail_selling"),
        ("cbv:BizStep-dispensing", "bizStep", "dispensing"),
        ("https://example.com/steps/relabel", "bizStep", "https://example.com/steps/relabel"),
        ("urn:epcglobal:cbv:disp:in_transit", "disposition", "in_transit"),
        ("https://ref.gs1.org/cbv/BTT-desadv", "btt", "desadv"),
        ("urn:epcglobal:cbv:sdt:possessing_party", "sdt", "possessing_party"),
    ],
)
def test_normalise_cbv(value: str, vocabulary: str, expected: str) -> None:
    prefixes = {"cbv": "https://ref.gs1.org/cbv/"}
    assert normalise_cbv(value, vocabulary, prefixes) == expected


@pytest.mark.parametrize("value", ["transforming", "urn:epcglobal:cbv:bizstep:x", "a b"])
def test_normalise_cbv_rejects(value: str) -> None:
    with pytest.raises(ValueError, match="non-standard bizStep"):
        normalise_cbv(value, "bizStep")


@pytest.mark.parametrize(
    ("epc", "expected"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", ("10614141073464", None, "2017")),
        ("urn:epc:id:sgtin:0614141.812345.6789", ("80614141123458", None, "6789")),
        ("urn:epc:id:sgtin:4012345.011111.98%22", ("04012345111118", None, '98"')),
        ("urn:epc:class:lgtin:4012345.012345.998877", ("04012345123456", "998877", None)),
        ("urn:epc:idpat:sgtin:4012345.012345.*", ("04012345123456", None, None)),
        ("https://id.gs1.org/01/09521141012345/21/S1", ("09521141012345", None, "S1")),
        (
            "https://brand.example/01/09521141012345/10/LOT%201/21/S1?x=1",
            ("09521141012345", "LOT 1", "S1"),
        ),
        ("https://id.gs1.org/gtin/9521141012345/lot/L7", ("09521141012345", "L7", None)),
        ("https://id.gs1.org/01/09521141012346/21/S1", None),
        ("urn:epc:id:sscc:0614141.1234567890", None),
        ("https://id.gs1.org/00/106141412345678908", None),
        ("not an epc", None),
    ],
)
def test_epc_gtin_lot_serial(epc: str, expected: tuple[str, str | None, str | None] | None) -> None:
    assert epc_gtin_lot_serial(epc) == expected
