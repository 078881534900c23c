"""CBV 2.0 §8.9 Event Hash ID against the reference generator's vectors."""

from __future__ import annotations

import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from provenance.epcis import canon as epcis_canon
from provenance.epcis import fastpath as epcis_fastpath
from provenance.epcis import prehash as epcis_prehash
from provenance.epcis.hash import (
    context_prefixes,
    document_ignore_fields,
    event_hash_id,
    normalise_epc,
    prehash_string,
    utc_millis,
)
from provenance.gs1 import epc_uri
from tests.paths import VECTORS

VECTORS = VECTORS / "epcis-hash"
EXAMPLES = VECTORS / "examples"
GS1_EXAMPLES = VECTORS / "epcis" / "gs1-examples"


def _events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    body = doc["epcisBody"]
    if "eventList" in body:
        events: list[dict[str, Any]] = body["eventList"]
    else:
        events = body["queryResults"]["resultsBody"]["eventList"]
    return events


def _hashes(doc: dict[str, Any]) -> list[str]:
    ignore = document_ignore_fields(doc)
    return [event_hash_id(event, doc["@context"], ignore_fields=ignore) for event in _events(doc)]


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


EXAMPLE_FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".jsonld", ".json"))
EQUAL_FILES = sorted((VECTORS / "expected_equal").glob("*.json"))
INDEX = json.loads((VECTORS / "vectors_index.json").read_text(encoding="utf-8"))
DL_CASES = json.loads((VECTORS / "dl_normaliser_cases.json").read_text(encoding="utf-8"))


def test_vectors_present() -> None:
    assert len(EXAMPLE_FILES) == 22
    assert EQUAL_FILES


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_hashes(path: Path) -> None:
    expected = path.with_suffix(".hashes").read_text(encoding="utf-8").split()
    assert _hashes(_load(path)) == expected


@pytest.mark.parametrize("path", EQUAL_FILES, ids=lambda p: p.name)
def test_expected_equal(path: Path) -> None:
    hashes = _hashes(_load(path))
    assert len(hashes) > 1
    assert len(set(hashes)) == 1


def test_distinct_across_examples() -> None:
    """Events hash alike exactly where the reference says they do, and differ elsewhere."""
    pairs: set[tuple[str, str]] = set()
    for path in EXAMPLE_FILES:
        expected = path.with_suffix(".hashes").read_text(encoding="utf-8").split()
        pairs.update(zip(_hashes(_load(path)), expected, strict=True))
    computed = {mine for mine, _ in pairs}
    assert len(computed) == len(pairs) == len({ref for _, ref in pairs})
    assert len(computed) > 30


def _reproducing_prehashes() -> list[tuple[str, int, str]]:
    cases: list[tuple[str, int, str]] = []
    for case in INDEX:
        inputs = [i for i in case["inputs"] if i.endswith((".jsonld", ".json"))]
        if not inputs or not case.get("prehash_sha256_matches_expected"):
            continue
        name = Path(inputs[0]).name
        lines = (EXAMPLES / Path(case["prehash_file"]).name).read_text("utf-8").splitlines()
        cases.extend((name, n, line) for n, line in enumerate(lines) if line)
    return cases


PREHASH_CASES = _reproducing_prehashes()


@pytest.mark.parametrize(("name", "n", "line"), PREHASH_CASES, ids=lambda v: str(v)[:40])
def test_prehash_strings(name: str, n: int, line: str) -> None:
    doc = _load(EXAMPLES / name)
    event = _events(doc)[n]
    ignore = document_ignore_fields(doc)
    assert prehash_string(event, doc["@context"], ignore_fields=ignore) == line


def test_prehash_cases_cover_the_index() -> None:
    assert len(PREHASH_CASES) >= 35


def test_hash_is_sha256_of_prehash() -> None:
    doc = _load(EXAMPLES / "ReferenceEventHashAlgorithm.jsonld")
    event = _events(doc)[0]
    pre = prehash_string(event, doc["@context"])
    digest = hashlib.sha256(pre.encode()).hexdigest()
    assert event_hash_id(event, doc["@context"]) == f"ni:///sha-256;{digest}?ver=CBV2.0"


@pytest.mark.parametrize("case", DL_CASES, ids=lambda c: str(c["input"])[:50])
def test_dl_normaliser(case: dict[str, Any]) -> None:
    assert normalise_epc(case["input"]) == case["expected_canonical_dl"]


def test_fast_path_matches_general_path() -> None:
    """The shortcut for plain events must hash exactly like the general algorithm."""
    files = EXAMPLE_FILES + EQUAL_FILES + sorted(GS1_EXAMPLES.glob("*.jsonld"))
    fast = 0
    for path in files:
        doc = _load(path)
        prefixes = context_prefixes(doc["@context"])
        for event in _events(doc):
            variants = [event, {k: v for k, v in event.items() if k != "bizStep"}]
            for variant in variants:
                quick = epcis_fastpath.fast_prehash(variant, prefixes)
                if quick is not None:
                    fast += 1
                    assert quick == epcis_prehash.general_prehash(variant, prefixes), path.name
    assert fast > 40


_DL = "https://id.gs1.org/01/09506000134352/21/"
FAST_BASE: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2026-11-01T10:00:00.000Z",
    "eventTimeZoneOffset": "+00:00",
    "epcList": [_DL + "B1S0", _DL + "B1S1"],
    "action": "ADD",
    "bizStep": "commissioning",
    "disposition": "active",
    "readPoint": {"id": "urn:epc:id:sgln:5412345.00001.0"},
}
# Shapes the fast path takes: each must hash exactly as the general path does.
FAST_SHAPES: list[dict[str, Any]] = [
    {**FAST_BASE, "ilmd": {"cbvmda:lotNumber": "B1", "cbvmda:itemExpirationDate": "2029-06-30"}},
    {**FAST_BASE, "ilmd": {}},
    {**FAST_BASE, "ilmd": {"cbvmda:lotNumber": "", "gs1:x": "  L 1 ", "ex:n": "5.0"}},
    # bare ilmd values that name vocabulary terms of the event resolve like any bare value
    {**FAST_BASE, "ilmd": {"cbvmda:lotNumber": "commissioning", "ex:b": "active"}},
    {
        **FAST_BASE,
        "ilmd": {"ex:a": "cbv:BizStep-shipping", "ex:b": "urn:epc:id:sgtin:0614141.107346.2017"},
    },
    # a vocabulary IRI written out anywhere joins the vocabulary bare terms resolve against
    {**FAST_BASE, "ilmd": {"cbvmda:lotNumber": "ADD", "ex:v": "https://gs1.org/voc/x-ADD"}},
    {**FAST_BASE, "epcList": [_DL + "S0", "https://ref.gs1.org/cbv/Foo-active"]},
    {**FAST_BASE, "readPoint": {"id": "https://gs1.org/voc/loc-OBSERVE"}, "action": "OBSERVE"},
    {**FAST_BASE, "eventID": "https://ref.gs1.org/cbv/Q-ADD", "recordTime": "2026-11-02T00:00:00Z"},
    {**FAST_BASE, "eventTime": "https://gs1.org/voc/t-ADD"},
    {
        **FAST_BASE,
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "bizTransactionList": [{"type": "desadv", "bizTransaction": "urn:desadv:B1"}],
        "destinationList": [
            {"type": "owning_party", "destination": "urn:epc:id:sgln:5412345.00002.0"}
        ],
    },
    {
        **FAST_BASE,
        "bizTransactionList": [
            {"bizTransaction": "urn:x:2", "type": "cbv:BTT-inv"},
            {"bizTransaction": "urn:x:1"},
            {"type": "po"},
            {},
        ],
        "sourceList": [
            {"type": "possessing_party", "source": "urn:epc:id:pgln:0614141.00001"},
            {"type": "https://ref.gs1.org/cbv/SDT-owning_party", "source": " x "},
        ],
        "destinationList": [],
    },
    {**FAST_BASE, "epcList": [_DL + f"S{n}" for n in range(40, 0, -1)] + ["", " x ", "shipping"]},
    {**FAST_BASE, "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", _DL + "a.b", _DL + "A'b"]},
    {
        **FAST_BASE,
        "epcList": [
            "https://id.gs1.org/01/9506000134352/21/X",  # GTIN-13: padded
            "https://example.com/01/09506000134352/21/X?q=1",  # re-rooted
            "https://id.gs1.org/01/09506000134352/22/V/21/X",  # CPV dropped
            "https://id.gs1.org/01/09506000134352/10/L/21/X",  # lot dropped
            _DL + "ABCDEFGHIJKLMNOPQRSTU",  # 21 characters: not canonical
            _DL + "x%20y",
        ],
    },
    {
        **FAST_BASE,
        "quantityList": [
            {
                "epcClass": "urn:epc:class:lgtin:4012345.012345.998877",
                "quantity": 2.0,
                "uom": "KGM",
            },
            {"epcClass": "urn:epc:class:lgtin:4012345.012345.1", "quantity": 3},
        ],
    },
    {**FAST_BASE, "eventTime": " 2026-11-01T10:00:00.1235+01:00 ", "eventTimeZoneOffset": " "},
    {
        **FAST_BASE,
        "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
        "disposition": "cbv:Disp-active",
    },
    dict(reversed(list({**FAST_BASE, "ilmd": {"cbvmda:lotNumber": "B2"}}.items()))),
]
# Shapes the fast path must leave to the general path.
GENERAL_SHAPES: list[dict[str, Any]] = [
    {**FAST_BASE, "ilmd": {"cbvmda:lotNumber": 5}},
    {**FAST_BASE, "ilmd": {"cbvmda:lotNumber": {"ex:a": "1"}}},
    {**FAST_BASE, "ilmd": {"rdfs:comment": "x"}},
    {**FAST_BASE, "ilmd": {"unknown:x": "x"}},
    {**FAST_BASE, "ilmd": {"noprefix": "x"}},
    {**FAST_BASE, "ilmd": {"cbvmda:someList": "x"}},
    {**FAST_BASE, "ilmd": ["x"]},
    {**FAST_BASE, "bizTransactionList": [{"type": "po", "bizTransaction": "u:1", "source": "u:2"}]},
    {**FAST_BASE, "bizTransactionList": [{"type": "po", "bizTransaction": ["u:1"]}]},
    {**FAST_BASE, "sourceList": ["u:1"]},
    {**FAST_BASE, "readPoint": {"id": "u:1", "ex:a": "b"}},
    {**FAST_BASE, "epcList": [_DL + "S0", 5]},
    {**FAST_BASE, "ex:extension": "1"},
    {**FAST_BASE, "persistentDisposition": {"set": ["active"]}},
]
CONTEXTS: list[Any] = [
    ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ex": "https://ex.com/"}],
    [{"ex": "https://example.com/ns/"}],
    [{"ex": "https://example.com/ns/", "cbvmda": "https://example.com/mda/"}],
]


@pytest.mark.parametrize("context", CONTEXTS)
def test_fast_path_shapes_match_general_path(context: Any) -> None:
    prefixes = context_prefixes(context)
    for event in FAST_SHAPES:
        for variant in (event, {k: v for k, v in event.items() if k != "bizStep"}):
            quick = epcis_fastpath.fast_prehash(variant, prefixes)
            assert quick is not None, variant
            assert quick == epcis_prehash.general_prehash(variant, prefixes), variant
    for event in GENERAL_SHAPES:
        assert epcis_fastpath.fast_prehash(event, prefixes) is None, event


def test_fast_value_matches_canonicalisation() -> None:
    """Values the fast path leaves as they are are those _canon would leave alone."""
    prefixes = context_prefixes(None)
    texts = ["B0001", "L1", "desadv", "x y", "+00:00", "5", "-1", "inf", "nan", "Ix", "éa", "٣", ""]
    texts += ["urn:desadv:B1", "urn:epcglobal:cbv:bizstep:shipping", "a.b", "urn:x:1.5"]
    texts += ["https://id.gs1.org/414/5412345000013", "urn:epc:id:sgln:5412345.00001.0"]
    for text in texts:
        if ":" in text and text.partition(":")[0] in prefixes:
            continue
        expected = epcis_canon.canon_value(text.strip()) if text.strip() else ""
        assert epcis_fastpath._fast_value(text, prefixes, {}, set()) == expected, text


def test_canonical_gtin_uris_are_left_alone() -> None:
    """The shortcut for canonical GTIN-based DL URIs agrees with the full normaliser."""
    allowed = "\"'-.0123456789;<=>ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    uris = ["https://id.gs1.org/01/09506000134352", "https://id.gs1.org/01/00000000000000/10/;"]
    for n in range(1, 21):
        value = "".join(allowed[(n * 7 + k * 13) % len(allowed)] for k in range(n))
        uris += [f"{_DL}{value}", f"https://id.gs1.org/01/1234567890123{n % 10}/10/{value}"]
    for uri in uris:
        assert epc_uri._CANONICAL_GTIN.match(uri), uri
        assert epc_uri._reshape_dl(uri) == uri
        assert normalise_epc(uri) == uri
    for uri in (_DL + "A?B", _DL + "ABCDEFGHIJKLMNOPQRSTU", _DL + "a%20", _DL, _DL + "a/b"):
        assert not epc_uri._CANONICAL_GTIN.match(uri), uri


def test_many_epcs_hash_in_linear_time() -> None:
    event = {**FAST_BASE, "epcList": [_DL + f"S{n}" for n in range(20_000)]}
    slow = {**event, "ex:extension": "1"}  # the same EPCs through the general path
    started = time.perf_counter()
    quick = prehash_string(event)
    general = prehash_string(slow, [{"ex": "https://example.com/ns/"}])
    assert time.perf_counter() - started < 10
    assert general.startswith(quick)
    assert quick == epcis_prehash.general_prehash(event, context_prefixes(None))


def test_many_extension_fields_hash_in_linear_time() -> None:
    location = {"id": "urn:epc:id:sgln:0614141.07346.1234"}
    location.update({f"ex:a{n}": str(n) for n in range(5_000)})
    event = {**BASE_EVENT, "readPoint": location}
    started = time.perf_counter()
    pre = prehash_string(event, [{"ex": "https://example.com/ns/"}])
    assert time.perf_counter() - started < 10
    assert "readPointid=https://id.gs1.org/414/0614141073467/254/1234{https://" in pre


BASE_EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2024-03-01T10:00:00.000+01:00",
    "eventTimeZoneOffset": "+01:00",
    "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
}


def test_equivalent_notations_hash_alike() -> None:
    base = event_hash_id(BASE_EVENT)
    variant = copy.deepcopy(BASE_EVENT)
    variant["epcList"] = [
        "https://id.gs1.org/01/10614141073464/21/2018",
        "https://example.com/01/10614141073464/21/2017?x=1",
    ]
    variant["eventTime"] = "2024-03-01T09:00:00Z"
    variant["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping"
    variant["disposition"] = "https://ref.gs1.org/cbv/Disp-in_transit"
    variant["eventID"] = "ni:///sha-256;00?ver=CBV2.0"
    variant["recordTime"] = "2024-03-02T00:00:00Z"
    assert event_hash_id(variant) == base


def test_each_field_counts() -> None:
    base = event_hash_id(BASE_EVENT)
    for key, value in (
        ("eventTime", "2024-03-01T10:00:00.001+01:00"),
        ("eventTimeZoneOffset", "+02:00"),
        ("action", "ADD"),
        ("bizStep", "receiving"),
        ("epcList", ["urn:epc:id:sgtin:0614141.107346.2017"]),
    ):
        changed = {**BASE_EVENT, key: value}
        assert event_hash_id(changed) != base, key


def test_user_extension_uses_context_namespace() -> None:
    event = {**BASE_EVENT, "ex:temp": "5"}
    pre = prehash_string(event, [{"ex": "https://example.com/ns/"}])
    assert pre.endswith("{https://example.com/ns/}temp=5")
    other = prehash_string(event, [{"ex": "https://example.org/other/"}])
    assert other.endswith("{https://example.org/other/}temp=5")


def test_standard_prefixes_without_inline_context() -> None:
    event = {**BASE_EVENT, "action": "ADD", "ilmd": {"cbvmda:lotNumber": "L1"}}
    assert prehash_string(event).endswith("ilmd{urn:epcglobal:cbv:mda:}lotNumber=L1")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2023-02-02T11:04:03.1415Z", "2023-02-02T11:04:03.142Z"),
        ("2023-02-02T11:04:03.1425Z", "2023-02-02T11:04:03.142Z"),
        ("2022-02-15T01:33:31.116000-06:00", "2022-02-15T07:33:31.116Z"),
        ("2019-10-21T14:45:00Z", "2019-10-21T14:45:00.000Z"),
        ("2019-12-31T23:59:59.9999+00:00", "2020-01-01T00:00:00.000Z"),
        ("not a time", "not a time"),
    ],
)
def test_utc_millis(given: str, expected: str) -> None:
    assert utc_millis(given) == expected


def test_document_ignore_fields() -> None:
    doc = {"x:ignoreFields": ["x:a"], "epcisBody": {"queryResults": {"y:ignoreFields": ["b"]}}}
    assert document_ignore_fields(doc) == ("x:a", "b")
    assert document_ignore_fields({"epcisBody": {}}) == ()


def test_a_pair_hashes_alike_whatever_order_its_members_come_in() -> None:
    """A bizTransaction, source or destination hashes "type" first, so an event re-serialised
    with sorted keys (as JSON APIs often answer) keeps its Event Hash ID."""
    typed_first = {
        "type": "ObjectEvent",
        "eventTime": "2020-01-01T00:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:1:1152"}],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00000"}],
        "destinationList": [{"type": "location", "destination": "urn:epc:id:sgln:0614141.1.0"}],
    }
    value_first = {
        **typed_first,
        "bizTransactionList": [{"bizTransaction": "urn:epcglobal:cbv:bt:1:1152", "type": "po"}],
        "sourceList": [{"source": "urn:epc:id:pgln:0614141.00000", "type": "owning_party"}],
        "destinationList": [{"destination": "urn:epc:id:sgln:0614141.1.0", "type": "location"}],
    }
    prefixes = context_prefixes(None)
    expected = prehash_string(typed_first)
    assert "bizTransactionListtype=https://ref.gs1.org/cbv/BTT-pobizTransaction=" in expected
    for event in (value_first, dict(sorted(value_first.items()))):
        assert prehash_string(event) == expected
        assert epcis_prehash.general_prehash(event, prefixes) == expected  # any shape agrees
