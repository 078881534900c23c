"""CBV 2.0 §8.9 Event Hash ID against the reference generator's vectors."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from provenance import epcis_hash
from provenance.epcis_hash import (
    context_prefixes,
    document_ignore_fields,
    event_hash_id,
    normalise_epc,
    prehash_string,
    utc_millis,
)
from provenance.gs1 import check_digit

VECTORS = Path(__file__).parent / "vectors" / "epcis-hash"
EXAMPLES = VECTORS / "examples"
GS1_EXAMPLES = Path(__file__).parent / "vectors" / "epcis" / "gs1-examples"


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
                quick = epcis_hash._fast_prehash(variant, prefixes)
                if quick is not None:
                    fast += 1
                    assert quick == epcis_hash._general_prehash(variant, prefixes), path.name
    assert fast > 40


def test_check_digit_matches_gs1_module() -> None:
    for digits in ("0614141107346", "401234512345", "9780345418913", "00000000", "35"):
        assert epcis_hash._check_digit(digits) == check_digit(digits)


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
