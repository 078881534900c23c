"""EPCIS 2.0 capture over HTTP: signed documents move custody, hash IDs dedupe, one bad event
rejects the whole document, and the query answers an EPCISQueryDocument."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from provenance.epcis.document import parse_epcis_document
from provenance.epcis.hash import event_hash_id
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE, LOG_HEADER
from provenance.log.signing import sign_envelope
from provenance.log.statements import format_timestamp, now_timestamp
from tests.parties import ORIGIN, Authority, PartyKey, assign_prefix, read, register_party
from tests.paths import VECTORS

VECTORS = VECTORS / "epcis"
GTIN = "09506000134352"
LOT = "EP-LOT-1"
SERIALS = [f"EP{n:04d}" for n in range(6)]
MAKER, WHOLESALER, PHARMACY, REGULATOR = (
    "5412345000013",
    "5412345000020",
    "5412345000037",
    "5412345000044",
)
CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]


def epc(serial: str) -> str:
    return f"https://id.gs1.org/01/{GTIN}/21/{serial}"


def document(*events: dict[str, Any], created: str | None = None) -> dict[str, Any]:
    """An EPCIS document created now (a capture must be fresh), for the test log."""
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created or now_timestamp(),
        "epcisHeader": {LOG_HEADER: ORIGIN},
        "epcisBody": {"eventList": list(events)},
    }


def commissioning(serials: list[str], lot: str = LOT) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-11-01T08:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": [epc(s) for s in serials],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": "urn:epc:id:sgln:5412345.00001.0"},
        "ilmd": {"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": "2029-06-30"},
    }


def shipping(serials: list[str], desadv: str = "urn:desadv:D-1") -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-11-02T09:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc(s) for s in serials],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:5412345.00001.0"},
        "bizTransactionList": [{"type": "desadv", "bizTransaction": desadv}],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:5412345.00001"}],
        "destinationList": [
            {"type": "owning_party", "destination": "urn:epc:id:pgln:5412345.00002"}
        ],
    }


def receiving(serials: list[str], desadv: str = "urn:desadv:D-1") -> dict[str, Any]:
    event = shipping(serials, desadv)
    event.update(
        bizStep="receiving", disposition="in_progress", eventTime="2026-11-03T09:00:00.000Z"
    )
    return event


@pytest.fixture
def parties(client: FlaskClient, authority: Authority) -> dict[str, PartyKey]:
    maker = register_party(client, authority, "Acme", MAKER, ["manufacturer"])
    wholesaler = register_party(client, authority, "MedSupply", WHOLESALER, ["wholesaler"])
    pharmacy = register_party(client, authority, "City Pharmacy", PHARMACY, ["pharmacy"])
    regulator = register_party(client, authority, "Regulator", REGULATOR, ["regulator"])
    assign_prefix(client, authority, MAKER, "9506000")
    body = {"gtin": GTIN, "name": "Amoxicillin", "form": "capsule", "strength": "500 mg"}
    assert (
        client.post("/api/v1/statements", json=maker.envelope("product.register", body)).status_code
        == 201
    )
    return {"maker": maker, "wholesaler": wholesaler, "pharmacy": pharmacy, "regulator": regulator}


def capture(client: FlaskClient, party: PartyKey, doc: dict[str, Any] | bytes) -> Any:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    envelope = sign_envelope(party.key, payload, EPCIS_PAYLOAD_TYPE).to_json()
    return client.post("/epcis/capture", json=envelope)


def log_size(client: FlaskClient) -> int:
    return int(client.get("/api/v1/log").get_json()["size"])


def batch(client: FlaskClient, maker: PartyKey, lot: str = LOT) -> Any:
    """The batch as its manufacturer reads it (with its custody)."""
    url = f"/01/{GTIN}/10/{lot}"
    return read(client, maker, url, headers={"Accept": "application/json"}).get_json()


def query(client: FlaskClient, reader: PartyKey | None, **params: str) -> Any:
    """/epcis/events as `reader` asks it (None: anonymously): the response."""
    return read(client, reader, "/epcis/events", query_string=params)


def events(client: FlaskClient, reader: PartyKey, **params: str) -> list[dict[str, Any]]:
    """The events /epcis/events answers `reader`."""
    response = query(client, reader, **params)
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    return found


def test_capture_moves_custody_and_stores_hash_ids(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    doc = document(commissioning(SERIALS), shipping(SERIALS[:4]))
    response = capture(client, parties["maker"], doc)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["events_captured"] == 2
    maker = parties["maker"]
    assert batch(client, maker)["batch"]["in_transit"] == 4
    received = capture(client, parties["wholesaler"], document(receiving(SERIALS[:4])))
    assert received.status_code == 202, received.get_json()
    body = batch(client, maker)
    assert [h["quantity"] for h in body["holdings"]] == [2, 4]
    assert body["batch"]["conserved"] and body["verdict"] == "authentic"
    assert [e["action"] for e in body["timeline"]] == ["commission", "ship", "receive"]
    # Each event is queryable, carrying the CBV 2.0 Event Hash ID it was stored under.
    answer = query(client, maker, MATCH_epc=epc(SERIALS[0])).get_json()
    assert answer["type"] == "EPCISQueryDocument"
    found = answer["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["bizStep"] for e in found] == ["commissioning", "shipping", "receiving"]
    expected = [
        event_hash_id(e, CONTEXT) for e in (*doc["epcisBody"]["eventList"], receiving(SERIALS[:4]))
    ]
    assert [e["eventID"] for e in found] == expected
    assert len(parse_epcis_document(answer)) == 3  # the answer is itself valid EPCIS 2.0
    as_urn = f"urn:epc:id:sgtin:9506000.013435.{SERIALS[0]}"  # the same pack as an SGTIN URN
    assert events(client, maker, MATCH_epc=as_urn) == found
    by_step = query(client, maker, EQ_bizStep="shipping").get_json()
    assert len(by_step["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 1
    for form in ("https://ref.gs1.org/cbv/BizStep-shipping", "urn:epcglobal:cbv:bizstep:shipping"):
        same = query(client, maker, EQ_bizStep=form).get_json()
        assert same == {**by_step, "creationDate": same["creationDate"]}
    window = events(client, maker, GE_eventTime="2026-11-02T00:00:00Z", gtin=GTIN, lot=LOT)
    assert len(window) == 2
    assert query(client, maker, EQ_foo="x").status_code == 422


def inspecting(serial: str) -> dict[str, Any]:
    """An observation that moves nothing (a pharmacy checks a pack it does not hold)."""
    event = shipping([serial])
    for member in ("bizTransactionList", "sourceList", "destinationList"):
        del event[member]
    event.update(bizStep="inspecting", disposition="active", eventTime="2026-11-04T09:00:00Z")
    return event


def test_each_party_queries_only_the_events_it_may_read(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker, wholesaler, pharmacy = parties["maker"], parties["wholesaler"], parties["pharmacy"]
    doc = document(commissioning(SERIALS), shipping(SERIALS[:4]))
    shipped = capture(client, maker, doc)
    assert shipped.status_code == 202
    # The document's entry is read by its signer, the parties its events name, regulators.
    entry = shipped.get_json()["entry"]
    readers = (maker, wholesaler, pharmacy, parties["regulator"], None)
    assert [read(client, r, entry).status_code for r in readers] == [200, 200, 403, 200, 401]
    # The pharmacy never handled the batch: it reads none of its events...
    assert events(client, pharmacy) == []
    # ... until it signs one of its own, which is all it reads.
    assert capture(client, pharmacy, document(inspecting(SERIALS[5]))).status_code == 202
    assert [e["bizStep"] for e in events(client, pharmacy)] == ["inspecting"]
    # The wholesaler was shipped the batch: it reads the batch's events, as the maker does.
    steps = ["commissioning", "shipping", "inspecting"]
    for reader in (maker, wholesaler, parties["regulator"]):
        assert [e["bizStep"] for e in events(client, reader)] == steps
    assert query(client, None).status_code == 401
    # A capture authenticates itself by its envelope, whoever sends it.
    received = capture(client, wholesaler, document(receiving(SERIALS[:4])))
    assert received.status_code == 202 and "Signature" not in received.request.headers
    assert [e["bizStep"] for e in events(client, pharmacy)] == ["inspecting"]


def test_the_document_is_in_the_log_and_verify_checks_it(
    client: FlaskClient, parties: dict[str, PartyKey], app: Any
) -> None:
    payload = json.dumps(document(commissioning(SERIALS))).encode()
    response = capture(client, parties["maker"], payload).get_json()
    assert read(client, parties["maker"], response["payload"]).data == payload
    entry = read(client, parties["maker"], response["entry"]).get_json()["entry"]
    assert "payload" not in entry["envelope"] and len(entry["envelope"]["payloadSha256"]) == 64
    result = app.test_cli_runner().invoke(args=["verify", "--quiet", "--workers", "1"])
    assert result.exit_code == 0, result.output
    rebuilt = app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert "identical" in rebuilt.output, rebuilt.output


def test_recaptured_events_are_duplicates(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    doc = document(commissioning(SERIALS))
    assert capture(client, parties["maker"], doc).status_code == 202
    again = capture(client, parties["maker"], doc)
    assert again.status_code == 200 and again.get_json()["duplicate"]
    # The same event in a new document (other creationDate, other time-zone notation): same
    # hash ID, so it is not applied twice; the new event in it is.
    event = commissioning(SERIALS)
    event["eventTime"] = "2026-11-01T07:00:00Z"
    an_hour_ago = format_timestamp(datetime.now(UTC) - timedelta(hours=1))
    newer = document(event, shipping(SERIALS[:1]), created=an_hour_ago)
    response = capture(client, parties["maker"], newer)
    assert response.status_code == 202 and response.get_json()["events_captured"] == 1
    assert batch(client, parties["maker"])["batch"]["commissioned"] == 6


def test_one_bad_event_rejects_the_document(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    size = log_size(client)
    doc = document(
        commissioning(SERIALS), shipping(SERIALS[:2]), shipping(SERIALS[:2], "urn:desadv:D-2")
    )
    response = capture(client, parties["maker"], doc)
    assert response.status_code == 409
    problem = response.get_json()
    assert problem["event"] == 2 and "event 2 (shipping)" in problem["detail"]
    assert log_size(client) == size
    assert batch(client, parties["maker"])["verdict"] == "unknown"  # nothing was applied
    assert events(client, parties["regulator"]) == []


def test_wrong_party_and_bad_envelopes(client: FlaskClient, parties: dict[str, PartyKey]) -> None:
    doc = document(commissioning(SERIALS))
    assert capture(client, parties["wholesaler"], doc).status_code == 403  # not its product
    statement_type = parties["maker"].envelope("attestation", {"subject": "x", "claim": {}})
    assert client.post("/epcis/capture", json=statement_type).status_code == 400
    assert capture(client, parties["maker"], b"[1, 2]").status_code == 422
    no_date = document(commissioning(SERIALS))
    del no_date["creationDate"]
    assert capture(client, parties["maker"], no_date).status_code == 422


@pytest.mark.parametrize("name", sorted(p.name for p in (VECTORS / "invalid").iterdir()))
def test_invalid_documents_are_refused(
    client: FlaskClient, parties: dict[str, PartyKey], name: str
) -> None:
    doc = json.loads((VECTORS / "invalid" / name).read_text())
    doc["creationDate"] = now_timestamp()
    size = log_size(client)
    response = capture(client, parties["maker"], doc)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["type"].endswith("/bad-epcis")
    assert log_size(client) == size


@pytest.mark.parametrize("name", sorted(p.name for p in (VECTORS / "gs1-examples").iterdir()))
def test_gs1_examples(client: FlaskClient, parties: dict[str, PartyKey], name: str) -> None:
    """Every example is valid EPCIS, and all its events are stored under their hash IDs: those
    that move custody of packs this log never commissioned as the capturer's unverified claims
    (none of the examples commissions a pack)."""
    doc = json.loads((VECTORS / "gs1-examples" / name).read_text())
    doc["creationDate"] = now_timestamp()
    if doc["type"] == "EPCISQueryDocument":  # it has no epcisHeader: its events are captured
        results = doc["epcisBody"]["queryResults"]["resultsBody"]
        doc.update(type="EPCISDocument", epcisBody={"eventList": results["eventList"]})
    doc.setdefault("epcisHeader", {})[LOG_HEADER] = ORIGIN
    events = parse_epcis_document(copy.deepcopy(doc))
    custody = [
        e
        for e in events
        if e.type == "ObjectEvent"
        and e.biz_step
        in {
            "shipping",
            "receiving",
            "dispensing",
            "retail_selling",
            "destroying",
            "decommissioning",
        }
    ]
    assert not [e for e in events if e.type == "ObjectEvent" and e.biz_step == "commissioning"]
    response = capture(client, parties["maker"], doc)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["events_captured"] == len({e.hash_id for e in events})
    assert response.get_json()["unverified_claims"] == len(custody)
