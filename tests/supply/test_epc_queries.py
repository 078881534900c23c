"""EPC queries on /epcis/events: exact, by field as SimpleEventQuery reads them, by index."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from provenance.log.store.engine import read_connection, write_transaction
from provenance.web.context import service
from tests.backends import app_on_each_backend  # noqa: F401  (the `app` fixture)
from tests.parties import PartyKey, read
from tests.supply.test_epcis_capture import (
    GTIN,
    SERIALS,
    capture,
    commissioning,
    document,
    epc,
    events,
    parties,
    query,
    shipping,
)

__all__ = ["parties"]  # the fixture, shared with the capture tests


SSCC_URN = "urn:epc:id:sscc:9506000.0000000001"
SSCC_DL = "https://id.gs1.org/00/095060000000000015"


def packing(serials: list[str]) -> dict[str, Any]:
    return {
        "type": "AggregationEvent",
        "eventTime": "2026-11-01T09:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "parentID": SSCC_URN,
        "childEPCs": [epc(s) for s in serials],
        "action": "ADD",
        "bizStep": "packing",
    }


def repackaging(inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    return {
        "type": "TransformationEvent",
        "eventTime": "2026-11-01T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "inputEPCList": [epc(s) for s in inputs],
        "outputEPCList": [epc(s) for s in outputs],
        "bizStep": "repackaging",
    }


def steps(client: FlaskClient, reader: PartyKey, **params: str) -> list[str]:
    return [e["bizStep"] for e in events(client, reader, **params)]


def _captured(client: FlaskClient, parties: dict[str, PartyKey]) -> PartyKey:
    maker = parties["maker"]
    doc = document(
        commissioning(SERIALS),
        packing(SERIALS[:2]),
        repackaging(SERIALS[2:3], ["NEW1"]),
        shipping(SERIALS[:2]),
    )
    response = capture(client, maker, doc)
    assert response.status_code == 202, response.get_json()
    return maker


def test_epc_matching_is_exact(client: FlaskClient, parties: dict[str, PartyKey]) -> None:
    maker = _captured(client, parties)
    assert steps(client, maker, MATCH_epc=epc(SERIALS[0])) == [
        "commissioning",
        "packing",
        "shipping",
    ]
    # A serial never commissioned, and SQL LIKE wildcards, match nothing.
    for absent in ("EP9999", "EP000_", "EP%", "EP000", "ep0000"):
        assert events(client, maker, MATCH_epc=epc(absent)) == [], absent
        assert events(client, maker, MATCH_anyEPC=epc(absent)) == [], absent
    # The same pack as an SGTIN URN finds the same events as its Digital Link.
    as_urn = f"urn:epc:id:sgtin:9506000.013435.{SERIALS[0]}"
    assert events(client, maker, MATCH_epc=as_urn) == events(client, maker, MATCH_epc=epc("EP0000"))
    # A comma-separated list is any of its EPCs.
    both = f"{epc(SERIALS[4])},{epc('NEW1')}"
    assert steps(client, maker, MATCH_anyEPC=both) == ["commissioning", "repackaging"]
    repeated = f"/epcis/events?MATCH_anyEPC={epc(SERIALS[4])}&MATCH_anyEPC={epc('NEW1')}"
    answer = read(client, maker, repeated).get_json()["epcisBody"]["queryResults"]
    assert [e["bizStep"] for e in answer["resultsBody"]["eventList"]] == steps(
        client, maker, MATCH_anyEPC=both
    )


def test_each_parameter_reads_its_fields(client: FlaskClient, parties: dict[str, PartyKey]) -> None:
    maker = _captured(client, parties)
    # parentID: only MATCH_parentID and MATCH_anyEPC read it, in either form.
    assert events(client, maker, MATCH_epc=SSCC_URN) == []
    for form in (SSCC_URN, SSCC_DL):
        assert steps(client, maker, MATCH_parentID=form) == ["packing"]
        assert steps(client, maker, MATCH_anyEPC=form) == ["packing"]
    # inputEPCList: MATCH_inputEPC and MATCH_anyEPC, not MATCH_epc nor MATCH_outputEPC.
    consumed = epc(SERIALS[2])
    assert steps(client, maker, MATCH_inputEPC=consumed) == ["repackaging"]
    assert steps(client, maker, MATCH_anyEPC=consumed) == ["commissioning", "repackaging"]
    assert steps(client, maker, MATCH_epc=consumed) == ["commissioning"]
    assert events(client, maker, MATCH_outputEPC=consumed) == []
    assert steps(client, maker, MATCH_outputEPC=epc("NEW1")) == ["repackaging"]
    # Parameters are ANDed with each other and with the other filters.
    assert steps(client, maker, MATCH_epc=epc(SERIALS[0]), EQ_bizStep="shipping") == ["shipping"]
    assert events(client, maker, MATCH_epc=epc(SERIALS[4]), MATCH_parentID=SSCC_URN) == []
    assert steps(client, maker, MATCH_anyEPC=epc(SERIALS[0]), MATCH_parentID=SSCC_URN) == [
        "packing"
    ]


def test_patterns_are_refused(client: FlaskClient, parties: dict[str, PartyKey]) -> None:
    maker = _captured(client, parties)
    response = query(client, maker, MATCH_epc="urn:epc:idpat:sgtin:9506000.013435.*")
    assert response.status_code == 400
    assert "patterns are not supported" in response.get_json()["detail"]


def test_access_is_unchanged(client: FlaskClient, parties: dict[str, PartyKey]) -> None:
    _captured(client, parties)
    match = {"MATCH_anyEPC": epc(SERIALS[0])}
    # The pharmacy handled nothing; the wholesaler was shipped the batch; regulators read all.
    assert events(client, parties["pharmacy"], **match) == []
    for reader in ("wholesaler", "regulator"):
        assert steps(client, parties[reader], **match) == ["commissioning", "packing", "shipping"]
    assert query(client, None, **match).status_code == 401


def _index(app: Flask) -> list[tuple[Any, ...]]:
    with app.app_context(), read_connection(service().engine) as conn:
        rows = conn.exec_driver_sql("SELECT hash_id, field, epc FROM epcis_epc ORDER BY 1, 2, 3")
        return [tuple(row) for row in rows]


def test_rebuild_restores_the_same_index(
    app: Flask, client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker = _captured(client, parties)
    index = _index(app)
    fields = {field for _hash, field, _epc in index}
    epc_fields = {"epcList", "childEPCs", "parentID", "inputEPCList", "outputEPCList"}
    # The EPCs by field, and the other fields a query filters on as `@<field> <value>`.
    assert fields == epc_fields | {
        "eventType",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizTransaction",
        "source",
        "destination",
    }
    pairs = {(field, key) for _hash, field, key in index}
    assert ("parentID", SSCC_DL) in pairs
    assert ("bizStep", "@bizStep packing") in pairs
    assert ("readPoint", "@readPoint https://id.gs1.org/414/5412345000013") in pairs
    assert ("source", "@source owning_party https://id.gs1.org/417/5412345000013") in pairs
    rebuilt = app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert "identical" in rebuilt.output, rebuilt.output  # the projection digest includes it
    assert _index(app) == index
    with app.app_context(), write_transaction(service().engine) as conn:
        conn.exec_driver_sql("DELETE FROM epcis_epc")
    assert events(client, maker, MATCH_epc=epc(SERIALS[0])) == []
    rebuilt = app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert "DIFFERENT" in rebuilt.output, rebuilt.output  # the emptied index was restored
    assert _index(app) == index
    assert len(events(client, maker, MATCH_epc=epc(SERIALS[0]))) == 3


def test_custody_needs_known_quantities_and_documents_a_sane_depth(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker = _captured(client, parties)
    unknown = {
        **shipping([]),
        "epcList": [],
        "quantityList": [{"epcClass": f"https://id.gs1.org/01/{GTIN}/10/EP-LOT-1"}],
    }
    refused = capture(client, maker, document(unknown))
    assert refused.status_code == 422 and "needs each quantity" in refused.get_json()["detail"]
    deep: Any = "leaf"
    for _ in range(600):
        deep = {"tag:x,2026:deep": deep}
    nested = capture(client, maker, document({**shipping(SERIALS[4:5]), "tag:x,2026:deep": deep}))
    assert nested.status_code == 422, nested.get_json()
    assert nested.get_json()["type"].endswith("/bad-epcis")


def test_pages_follow_the_next_link_to_every_event(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    """perPage cuts the answer; the `next` link (EPCIS 2.0 REST binding) carries a
    nextPageToken to the rest, and the pages together are the whole answer, in order."""
    maker = _captured(client, parties)
    whole = read(client, maker, "/epcis/events?MATCH_anyEPC=" + epc(SERIALS[0]))
    assert "Link" not in whole.headers  # one page holds everything
    wanted = [
        e["eventID"]
        for e in whole.get_json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    ]
    assert len(wanted) == 3
    url, seen = f"/epcis/events?MATCH_anyEPC={epc(SERIALS[0])}&perPage=1", []
    while url:
        answer = read(client, maker, url)
        assert answer.status_code == 200, answer.get_json()
        page = answer.get_json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert len(page) == 1
        seen.append(page[0]["eventID"])
        link = answer.headers.get("Link")
        url = link.split(">")[0].lstrip("<") if link else ""
        assert not link or link.endswith('rel="next"')
    assert seen == wanted
    # A token belongs to its query; a forged one is refused, never a 500.
    first = read(client, maker, f"/epcis/events?MATCH_anyEPC={epc(SERIALS[0])}&perPage=1")
    token = first.headers["Link"].split("nextPageToken=")[1].split(">")[0]
    other = read(client, maker, f"/epcis/events?MATCH_epc={epc(SERIALS[1])}&nextPageToken={token}")
    assert other.status_code == 422
    assert "another query" in other.get_json()["detail"]
    forged = read(client, maker, "/epcis/events?nextPageToken=not-a-token")
    assert forged.status_code == 422
