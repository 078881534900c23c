"""The EPC index's keys and fields, optional quantities, and the document depth limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provenance.epcis.depth import MAX_DEPTH, nesting_depth
from provenance.epcis.document import parse_epcis_document
from provenance.epcis.epc_index import MATCH_FIELDS, epc_key, event_epcs, match_keys
from provenance.epcis.errors import BadEpcis
from provenance.errors import BadParameter
from tests.paths import VECTORS

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
SSCC_URN = "urn:epc:id:sscc:0614141.1234567890"
SSCC_DL = "https://id.gs1.org/00/106141412345678908"


def _doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T10:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


PACK = {
    "type": "AggregationEvent",
    "eventTime": "2024-03-01T10:00:00Z",
    "eventTimeZoneOffset": "+00:00",
    "parentID": SSCC_URN,
    "childEPCs": ["urn:epc:id:sgtin:0614141.107346.1"],
    "childQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.L1"}],
    "action": "ADD",
    "bizStep": "packing",
}
MAKE = {
    "type": "TransformationEvent",
    "eventTime": "2024-03-01T10:00:00Z",
    "eventTimeZoneOffset": "+00:00",
    "inputEPCList": ["urn:epc:id:sgtin:0614141.107346.1"],
    "outputEPCList": ["https://example.com/01/10614141073464/21/9?x=1"],
    "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.1", "quantity": 2}],
    "outputQuantityList": [{"epcClass": "urn:x:class", "quantity": 1}],
    "bizStep": "repackaging",
}


def test_urn_and_digital_link_index_alike() -> None:
    assert epc_key(SSCC_URN) == epc_key(SSCC_DL) == SSCC_DL
    urn = "urn:epc:id:sgtin:0614141.107346.2017"
    assert epc_key(urn) == epc_key("https://example.com/gtin/10614141073464/ser/2017")
    assert epc_key("urn:x:not-an-epc") == "urn:x:not-an-epc"  # kept as given
    long = "urn:x:" + "a" * 600
    assert epc_key(long).startswith("sha-256:") and epc_key(long) != epc_key(long + "b")


def test_each_epc_is_indexed_under_its_field() -> None:
    pack, make = parse_epcis_document(_doc(PACK, MAKE))
    assert event_epcs(pack) == [
        ("childEPCs", "https://id.gs1.org/01/10614141073464/21/1"),
        ("parentID", SSCC_DL),
        ("childQuantityList", "https://id.gs1.org/01/04012345123456/10/L1"),
        ("eventType", "@eventType AggregationEvent"),
        ("action", "@action ADD"),
        ("bizStep", "@bizStep packing"),
    ]
    assert event_epcs(make) == [
        ("inputEPCList", "https://id.gs1.org/01/10614141073464/21/1"),
        ("outputEPCList", "https://id.gs1.org/01/10614141073464/21/9"),
        ("outputQuantityList", "urn:x:class"),
        ("inputQuantityList", "https://id.gs1.org/01/04012345123456/10/1"),
        ("eventType", "@eventType TransformationEvent"),
        ("bizStep", "@bizStep repackaging"),
        ("quantity", "@quantity 000000000000000001.000000000000"),
        ("quantity", "@quantity 000000000000000002.000000000000"),
    ]


def test_match_parameters_read_the_fields_simple_event_query_names() -> None:
    assert MATCH_FIELDS["MATCH_epc"] == ("epcList", "childEPCs")
    assert set(MATCH_FIELDS["MATCH_anyEPC"]) == {
        "epcList",
        "childEPCs",
        "parentID",
        "inputEPCList",
        "outputEPCList",
    }
    assert match_keys("MATCH_anyEPC", f"{SSCC_URN}, {SSCC_DL},urn:x:1") == [SSCC_DL, "urn:x:1"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("urn:epc:idpat:sgtin:0614141.107346.*", "patterns are not supported"),
        ("https://id.gs1.org/01/10614141073464/21/*", "patterns are not supported"),
        (f"{SSCC_URN},", "empty EPC"),
    ],
)
def test_patterns_and_empty_values_are_refused(value: str, words: str) -> None:
    with pytest.raises(BadParameter) as caught:
        match_keys("MATCH_epc", value)
    assert words in caught.value.detail and caught.value.status == 400


def test_quantity_is_optional() -> None:
    """openepcis-test-resources' document with every GS1 key leaves some quantities out."""
    path = VECTORS / "epcis-hash" / "examples" / "epcisDocWithAllGS1Keys.jsonld"
    (event,) = parse_epcis_document(json.loads(path.read_text()))
    assert ("urn:epc:class:lgtin:4054739.099914.20160711", None, None) in event.quantities
    unknown = {**PACK, "childQuantityList": [{"epcClass": "urn:x:c"}]}
    (parsed,) = parse_epcis_document(_doc(unknown))
    assert parsed.quantities == (("urn:x:c", None, None),)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"tag:x,2026:deep": value}
    return value


def test_depth_is_measured_without_recursion() -> None:
    assert nesting_depth("x") == 0 and nesting_depth([1, {"a": []}]) == 3
    assert nesting_depth(_nested(100_000), limit=10) == 11  # stops counting past the limit


def test_a_deeply_nested_document_is_refused_before_hashing() -> None:
    # An extension member is hashed by recursion: 600 levels used to raise RecursionError.
    fits = {**PACK, "tag:x,2026:deep": _nested(MAX_DEPTH - 5)}
    assert parse_epcis_document(_doc(fits))
    deep = {**PACK, "tag:x,2026:deep": _nested(600)}
    with pytest.raises(BadEpcis) as caught:
        parse_epcis_document(_doc(deep))
    assert "levels deep" in caught.value.detail and caught.value.status == 422
