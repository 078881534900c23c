"""The EPCIS 2.0 REST binding's query side: every SimpleEventQuery parameter on captured events,
the top-level resources and their events, the GS1 headers, paging, and index-only plans."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from provenance.epcis.simple_query import parse
from provenance.log.store.engine import read_connection
from provenance.supply import event_queries
from provenance.supply.web import epcis_rest
from provenance.web.context import service
from tests.backends import app_on_each_backend  # noqa: F401  (the `app` fixture)
from tests.conftest import app_on
from tests.parties import PartyKey, read, signed
from tests.supply.test_epcis_capture import (
    GTIN,
    LOT,
    SERIALS,
    capture,
    commissioning,
    document,
    epc,
    parties,
    receiving,
    shipping,
)

__all__ = ["parties"]  # the fixture, shared with the capture tests

SSCC_URN = "urn:epc:id:sscc:9506000.0000000001"
SSCC_DL = "https://id.gs1.org/00/095060000000000015"
MAKER_SITE = "urn:epc:id:sgln:5412345.00001.0"
MAKER_SITE_DL = "https://id.gs1.org/414/5412345000013"
STORE = "urn:epc:id:sgln:9506000.00001.0"
STORE_DL = "https://id.gs1.org/414/9506000000015"
INSPECTION_ID = "urn:uuid:4b0b3a0e-3d6c-4c5e-9a55-2b0f3f1c9e01"
LOT_CLASS = f"urn:epc:class:lgtin:9506000.013435.{LOT}"
ALL = ["commissioning", "packing", "shipping", "receiving", "inspecting"]


def packing() -> dict[str, Any]:
    return {
        "type": "AggregationEvent",
        "eventTime": "2026-11-01T09:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "parentID": SSCC_URN,
        "childEPCs": [epc(s) for s in SERIALS[:2]],
        "action": "ADD",
        "bizStep": "packing",
        "bizLocation": {"id": STORE},
    }


def inspecting() -> dict[str, Any]:
    """An observation by quantity, with an eventID, a persistent disposition and an error
    declaration."""
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-11-04T09:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "eventID": INSPECTION_ID,
        "epcList": [],
        "quantityList": [{"epcClass": LOT_CLASS, "quantity": 5, "uom": "KGM"}],
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "bizLocation": {"id": STORE},
        "persistentDisposition": {"set": ["completeness_inferred"]},
        "errorDeclaration": {
            "declarationTime": "2026-11-05T10:00:00.000Z",
            "reason": "incorrect_data",
        },
    }


@pytest.fixture
def captured(client: FlaskClient, parties: dict[str, PartyKey]) -> dict[str, PartyKey]:
    """The maker's document (commissioning, packing, shipping, inspecting), then, logged
    later, the wholesaler's receipt."""
    doc = document(commissioning(SERIALS), packing(), shipping(SERIALS[:2]), inspecting())
    assert capture(client, parties["maker"], doc).status_code in (201, 202)
    time.sleep(0.005)  # the receipt is logged at a later millisecond
    received = capture(client, parties["wholesaler"], document(receiving(SERIALS[:2])))
    assert received.status_code in (201, 202), received.get_json()
    return parties


def answer(client: FlaskClient, reader: PartyKey | None, url: str, **headers: str) -> Any:
    return read(client, reader, url, headers=headers)


def event_list(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    return found


def steps(client: FlaskClient, reader: PartyKey, url: str, **headers: str) -> list[str]:
    return [e["bizStep"] for e in event_list(answer(client, reader, url, **headers))]


def pages(client: FlaskClient, reader: PartyKey, url: str) -> list[Any]:
    """Every page of an answer, following its `next` links."""
    found = []
    while url:
        response = answer(client, reader, url)
        assert response.status_code == 200, response.get_json()
        found.append(response)
        link = response.headers.get("Link")
        assert not link or link.endswith('rel="next"')
        url = link.split(">")[0].lstrip("<") if link else ""
    return found


def q(value: str) -> str:
    return quote(value, safe="")


#: Each parameter (URL query) and the events it leaves, in event time order.
FILTERS = {
    "eventType=AggregationEvent": ["packing"],
    "eventType=ObjectEvent|AggregationEvent": ALL,
    "eventType=ObjectEvent&eventType=TransformationEvent": [s for s in ALL if s != "packing"],
    "EQ_action=OBSERVE": ["shipping", "receiving", "inspecting"],
    "EQ_action=ADD": ["commissioning", "packing"],
    "EQ_bizStep=shipping|receiving": ["shipping", "receiving"],
    "EQ_bizStep=urn:epcglobal:cbv:bizstep:packing": ["packing"],
    "EQ_disposition=in_transit": ["shipping"],
    f"EQ_disposition={q('https://ref.gs1.org/cbv/Disp-active')}": ["commissioning"],
    "EQ_persistentDisposition_set=completeness_inferred": ["inspecting"],
    "EQ_persistentDisposition_unset=completeness_inferred": [],
    f"EQ_readPoint={MAKER_SITE}": ["commissioning", "shipping", "receiving"],
    f"EQ_readPoint={q(MAKER_SITE_DL)}": ["commissioning", "shipping", "receiving"],
    f"WD_readPoint={MAKER_SITE}": ["commissioning", "shipping", "receiving"],
    f"EQ_bizLocation={q(STORE_DL)}": ["packing", "inspecting"],
    f"WD_bizLocation={STORE}": ["packing", "inspecting"],
    "EQ_bizTransaction_desadv=urn:desadv:D-1": ["shipping", "receiving"],
    "EQ_bizTransaction_urn:epcglobal:cbv:btt:desadv=urn:desadv:D-1": ["shipping", "receiving"],
    "EQ_bizTransaction_po=urn:desadv:D-1": [],
    "EQ_bizTransaction_desadv=urn:desadv:D-2": [],
    "EQ_source_owning_party=urn:epc:id:pgln:5412345.00001": ["shipping", "receiving"],
    f"EQ_destination_owning_party={q('https://id.gs1.org/417/5412345000020')}": [
        "shipping",
        "receiving",
    ],
    "EQ_destination_possessing_party=urn:epc:id:pgln:5412345.00002": [],
    f"EQ_eventID={INSPECTION_ID}": ["inspecting"],
    "EXISTS_errorDeclaration=true": ["inspecting"],
    "EXISTS_errorDeclaration=false": ALL,
    "GE_errorDeclarationTime=2026-11-05T00:00:00Z": ["inspecting"],
    "LT_errorDeclarationTime=2026-11-05T00:00:00Z": [],
    "EQ_quantity=5": ["inspecting"],
    "GT_quantity=5": [],
    "GE_quantity=5": ["inspecting"],
    "LT_quantity=5.5": ["inspecting"],
    "LE_quantity=4.99": [],
    f"MATCH_epcClass={LOT_CLASS}": ["inspecting"],
    f"MATCH_anyEPC={SSCC_DL}|{epc(SERIALS[5])}": ["commissioning", "packing"],
    "GE_eventTime=2026-11-02T00:00:00Z&LT_eventTime=2026-11-04T00:00:00Z": [
        "shipping",
        "receiving",
    ],
    "EQ_action=OBSERVE&EQ_bizStep=shipping|inspecting": ["shipping", "inspecting"],
    f"gtin={GTIN}&lot={LOT}&EQ_action=ADD": ["commissioning", "packing"],
}


def test_each_parameter_filters_by_its_field(
    client: FlaskClient, captured: dict[str, PartyKey]
) -> None:
    regulator = captured["regulator"]
    assert steps(client, regulator, "/epcis/events") == ALL
    for query, expected in FILTERS.items():
        assert steps(client, regulator, f"/epcis/events?{query}") == expected, query
    # An event's own eventID, else its Event Hash ID.
    first = event_list(answer(client, regulator, "/epcis/events"))[0]
    assert steps(client, regulator, f"/epcis/events?EQ_eventID={q(first['eventID'])}") == [
        "commissioning"
    ]


def test_common_filters_find_the_same_events(
    client: FlaskClient, captured: dict[str, PartyKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every filter counted as common, a query first checks a window of events in order
    (a page's worth here), and falls back to the index when the window holds too few."""
    monkeypatch.setattr(event_queries, "PROBE", 1)
    monkeypatch.setattr(event_queries, "WINDOW", 1)
    regulator = captured["regulator"]
    for query, expected in FILTERS.items():
        assert steps(client, regulator, f"/epcis/events?{query}") == expected, query
        paged = pages(client, regulator, f"/epcis/events?{query}&perPage=1")
        assert [e["bizStep"] for p in paged for e in event_list(p)] == expected, query


def test_record_time_is_when_the_entry_was_logged(
    client: FlaskClient, captured: dict[str, PartyKey]
) -> None:
    regulator = captured["regulator"]
    found = event_list(answer(client, regulator, "/epcis/events"))
    received = next(e for e in found if e["bizStep"] == "receiving")["recordTime"]
    assert all(e["recordTime"] < received for e in found if e["bizStep"] != "receiving")
    assert steps(client, regulator, f"/epcis/events?GE_recordTime={q(received)}") == ["receiving"]
    before = f"/epcis/events?LT_recordTime={q(received)}"
    assert steps(client, regulator, before) == [s for s in ALL if s != "receiving"]
    assert steps(client, regulator, "/epcis/events?GE_recordTime=2100-01-01T00:00:00Z") == []


def test_order_limits_and_counts(client: FlaskClient, captured: dict[str, PartyKey]) -> None:
    regulator = captured["regulator"]
    newest_first = list(reversed(ALL))
    assert steps(client, regulator, "/epcis/events?orderBy=eventTime") == newest_first
    ascending = "/epcis/events?orderBy=eventTime&orderDirection=ASC"
    assert steps(client, regulator, ascending) == ALL
    # Record time is the order entries were logged in, and events within a document.
    by_record = ["commissioning", "packing", "shipping", "inspecting", "receiving"]
    assert steps(client, regulator, "/epcis/events?orderBy=recordTime&orderDirection=ASC") == (
        by_record
    )
    assert steps(client, regulator, "/epcis/events?orderBy=recordTime") == by_record[::-1]
    latest = "/epcis/events?orderBy=eventTime&orderDirection=DESC&eventCountLimit=2"
    assert steps(client, regulator, latest) == ["inspecting", "receiving"]
    # eventCountLimit holds across pages: the last page has no next link.
    paged = pages(client, regulator, latest + "&perPage=1")
    assert [event_list(p)[0]["bizStep"] for p in paged] == ["inspecting", "receiving"]
    assert steps(client, regulator, "/epcis/events?maxEventCount=5") == ALL
    assert steps(client, regulator, f"/epcis/events?maxEventCount={10**30}") == ALL
    too_many = answer(client, regulator, "/epcis/events?maxEventCount=4")
    assert too_many.status_code == 413
    assert too_many.get_json()["type"].endswith("/query-too-large")
    for bad in (
        "orderBy=quantity",
        "orderBy=eventTime&orderDirection=UP",
        "eventCountLimit=2",
        "orderBy=eventTime&eventCountLimit=2&maxEventCount=3",
        "perPage=0",
        "perPage=%C2%B2",
        "maxEventCount=-1",
        "GE_quantity=many",
        "GE_eventTime=yesterday",
        "EQ_bizStep=",
    ):
        refused = answer(client, regulator, f"/epcis/events?{bad}")
        assert refused.status_code in (400, 422), bad
        assert refused.get_json()["type"].endswith(("/bad-parameter", "/bad-epcis")), bad
    unknown = answer(client, regulator, "/epcis/events?EQ_errorReason=incorrect_data")
    assert unknown.status_code == 422 and unknown.get_json()["unsupported"] == ["EQ_errorReason"]


@pytest.mark.parametrize(
    "order", ["", "&orderBy=eventTime", "&orderBy=recordTime&orderDirection=ASC"]
)
def test_pages_hold_every_event_once(
    client: FlaskClient, captured: dict[str, PartyKey], order: str
) -> None:
    regulator = captured["regulator"]
    whole = [e["eventID"] for e in event_list(answer(client, regulator, f"/epcis/events?{order}"))]
    paged = pages(client, regulator, f"/epcis/events?perPage=2{order}")
    assert len(paged) == 3
    assert [e["eventID"] for p in paged for e in event_list(p)] == whole


def test_one_event_by_its_id(client: FlaskClient, captured: dict[str, PartyKey]) -> None:
    regulator, pharmacy = captured["regulator"], captured["pharmacy"]
    found = event_list(answer(client, regulator, "/epcis/events"))
    for event in found:
        one = event_list(answer(client, regulator, f"/epcis/events/{q(event['eventID'])}"))
        assert one == [event]
    by_own_id = answer(client, regulator, f"/epcis/events/{q(INSPECTION_ID)}")
    assert [e["bizStep"] for e in event_list(by_own_id)] == ["inspecting"]
    missing = answer(client, regulator, "/epcis/events/urn:uuid:0")
    assert missing.status_code == 404 and missing.get_json()["type"].endswith("/not-found")
    # An event the reader may not read is as absent as one that does not exist.
    hidden = answer(client, pharmacy, f"/epcis/events/{q(found[0]['eventID'])}")
    assert hidden.status_code == 404
    assert answer(client, None, f"/epcis/events/{q(found[0]['eventID'])}").status_code == 401


def members(client: FlaskClient, reader: PartyKey, url: str, **headers: str) -> list[str]:
    response = answer(client, reader, url, **headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["type"] == "Collection" and body["@context"]
    found: list[str] = body["member"]
    return found


def test_collections_list_what_the_reader_may_read(
    client: FlaskClient, captured: dict[str, PartyKey]
) -> None:
    regulator, pharmacy = captured["regulator"], captured["pharmacy"]
    assert members(client, regulator, "/epcis/eventTypes") == ["AggregationEvent", "ObjectEvent"]
    assert members(client, regulator, "/epcis/bizSteps") == sorted(ALL)
    assert members(client, regulator, "/epcis/dispositions") == [
        "active",
        "in_progress",
        "in_transit",
    ]
    assert members(client, regulator, "/epcis/readPoints") == [MAKER_SITE_DL]
    assert members(client, regulator, "/epcis/bizLocations") == [STORE_DL]
    epcs = sorted([epc(s) for s in SERIALS] + [SSCC_DL])
    assert members(client, regulator, "/epcis/epcs") == epcs  # EPC classes are not EPCs
    # The company prefix 9506000 is assigned: its EPCs can be written as URNs.
    urns = members(client, regulator, "/epcis/epcs", **{"GS1-EPC-Format": "Always_EPC_URN"})
    assert SSCC_URN in urns and f"urn:epc:id:sgtin:9506000.013435.{SERIALS[0]}" in urns
    assert members(
        client, regulator, "/epcis/bizLocations", **{"GS1-EPC-Format": "Always_EPC_URN"}
    ) == [STORE]
    for name in ("eventTypes", "bizSteps", "epcs", "readPoints", "dispositions"):
        assert members(client, pharmacy, f"/epcis/{name}") == [], name
        assert answer(client, None, f"/epcis/{name}").status_code == 401
    refused = answer(client, regulator, "/epcis/bizSteps?EQ_bizStep=shipping")
    assert refused.status_code == 400


def test_collections_page_without_loss(
    client: FlaskClient, captured: dict[str, PartyKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    regulator = captured["regulator"]
    for name, size in (("bizSteps", 2), ("epcs", 3), ("eventTypes", 1)):
        whole = members(client, regulator, f"/epcis/{name}")
        paged = pages(client, regulator, f"/epcis/{name}?perPage={size}")
        assert [m for p in paged for m in p.get_json()["member"]] == whole, name
        assert all(len(p.get_json()["member"]) <= size for p in paged)
        assert len(paged) >= len(whole) // size
    # A walk that examines two keys a page still lists every member, over more pages.
    wholes = {name: members(client, regulator, f"/epcis/{name}") for name in ("bizSteps", "epcs")}
    monkeypatch.setattr(epcis_rest, "WALK_BUDGET", 2)
    for name, whole in wholes.items():
        paged = pages(client, regulator, f"/epcis/{name}?perPage=3")
        assert [m for p in paged for m in p.get_json()["member"]] == whole, name
        assert len(paged) > len(whole) // 3
    pharmacy = pages(client, captured["pharmacy"], "/epcis/epcs?perPage=3")
    assert len(pharmacy) > 1 and all(p.get_json()["member"] == [] for p in pharmacy)
    token = pages(client, regulator, "/epcis/bizSteps?perPage=2")[0].headers["Link"]
    forged = answer(client, regulator, "/epcis/epcs?" + token.split("?")[1].split(">")[0])
    assert forged.status_code == 422  # a token belongs to its collection


def test_each_resource_answers_its_events(
    client: FlaskClient, captured: dict[str, PartyKey]
) -> None:
    regulator = captured["regulator"]
    cases = {
        "/epcis/eventTypes/AggregationEvent/events": ["packing"],
        "/epcis/eventTypes/ObjectEvent/events?EQ_action=ADD": ["commissioning"],
        f"/epcis/epcs/{q(epc(SERIALS[0]))}/events": [
            "commissioning",
            "packing",
            "shipping",
            "receiving",
        ],
        f"/epcis/epcs/{q(f'urn:epc:id:sgtin:9506000.013435.{SERIALS[0]}')}/events": [
            "commissioning",
            "packing",
            "shipping",
            "receiving",
        ],
        f"/epcis/epcs/{q(SSCC_URN)}/events": ["packing"],
        "/epcis/bizSteps/shipping/events": ["shipping"],
        f"/epcis/bizSteps/{q('https://ref.gs1.org/cbv/BizStep-receiving')}/events": ["receiving"],
        f"/epcis/bizLocations/{q(STORE_DL)}/events": ["packing", "inspecting"],
        f"/epcis/bizLocations/{q(STORE)}/events?EQ_bizStep=packing": ["packing"],
        f"/epcis/readPoints/{q(MAKER_SITE_DL)}/events": ["commissioning", "shipping", "receiving"],
        "/epcis/dispositions/in_transit/events": ["shipping"],
        "/epcis/dispositions/damaged/events": [],
    }
    for url, expected in cases.items():
        assert steps(client, regulator, url) == expected, url
    # Paged, the next link is the same resource again.
    paged = pages(client, regulator, f"/epcis/readPoints/{q(MAKER_SITE_DL)}/events?perPage=1")
    assert [event_list(p)[0]["bizStep"] for p in paged] == [
        "commissioning",
        "shipping",
        "receiving",
    ]
    assert paged[0].headers["Link"].startswith(f"</epcis/readPoints/{q(MAKER_SITE_DL)}/events?")
    twice = answer(client, regulator, "/epcis/bizSteps/shipping/events?EQ_bizStep=receiving")
    assert twice.status_code == 400


GS1_HEADERS = {
    "GS1-EPCIS-Version": "2.0.0",
    "GS1-EPCIS-Min": "2.0.0",
    "GS1-EPCIS-Max": "2.0.0",
    "GS1-CBV-Version": "2.0.0",
    "GS1-CBV-Min": "2.0.0",
    "GS1-CBV-Max": "2.0.0",
    "GS1-Extensions": "",
}


def test_gs1_headers_versions_and_media_types(
    client: FlaskClient, captured: dict[str, PartyKey]
) -> None:
    regulator = captured["regulator"]
    for reader, url in (
        (regulator, "/epcis"),
        (regulator, "/epcis/events"),
        (regulator, "/epcis/epcs"),
        (regulator, "/epcis/events/urn:uuid:0"),  # 404
        (None, "/epcis/bizSteps"),  # 401
    ):
        response = answer(client, reader, url)
        assert {k: response.headers.get(k) for k in GS1_HEADERS} == GS1_HEADERS, url
        assert response.headers["GS1-EPC-Format"] == "Always_GS1_Digital_Link"
    top = answer(client, regulator, "/epcis").get_json()
    assert {"events", "eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints"} <= set(
        top["member"]
    )
    options = client.options("/epcis", headers=signed(regulator, "OPTIONS", "/epcis"))
    assert options.status_code == 204 and options.headers["GS1-EPCIS-Version"] == "2.0.0"
    for header, value in (
        ("GS1-EPCIS-Version", "1.2.0"),
        ("GS1-EPCIS-Min", "2.1"),
        ("GS1-EPCIS-Max", "1.2"),
        ("GS1-CBV-Version", "1.2.0"),
        ("GS1-EPCIS-Version", "two"),
    ):
        refused = answer(client, regulator, "/epcis/events", **{header: value})
        assert refused.status_code == 406, (header, value)
        assert refused.get_json()["type"].endswith("/not-acceptable")
        assert refused.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert (
        answer(client, regulator, "/epcis/events", **{"GS1-EPCIS-Version": "2.0"}).status_code
        == 200
    )
    unknown = answer(client, regulator, "/epcis/events", **{"GS1-EPC-Format": "Sometimes"})
    assert unknown.status_code == 400
    ld = answer(client, regulator, "/epcis/events", Accept="application/ld+json")
    assert ld.mimetype == "application/ld+json" and ld.get_json(force=True)["@context"]
    plain = answer(client, regulator, "/epcis/events", Accept="application/json")
    assert plain.mimetype == "application/json" and "Accept" in plain.vary
    assert answer(client, regulator, "/epcis/bizSteps", Accept="application/ld+json").mimetype == (
        "application/ld+json"
    )
    assert answer(client, regulator, "/epcis/events", Accept="application/xml").status_code == 406


def test_epcs_in_the_form_asked_for(client: FlaskClient, captured: dict[str, PartyKey]) -> None:
    regulator = captured["regulator"]
    url = "/epcis/events?EQ_bizStep=packing"
    (default,) = event_list(answer(client, regulator, url))
    assert default["parentID"] == SSCC_DL  # captured as a URN; Digital Link unless asked
    (kept,) = event_list(answer(client, regulator, url, **{"GS1-EPC-Format": "Never_Translates"}))
    assert kept["parentID"] == SSCC_URN
    (urns,) = event_list(answer(client, regulator, url, **{"GS1-EPC-Format": "Always_EPC_URN"}))
    assert urns["parentID"] == SSCC_URN
    assert urns["childEPCs"] == [f"urn:epc:id:sgtin:9506000.013435.{s}" for s in SERIALS[:2]]
    assert urns["bizLocation"] == {"id": STORE}
    assert urns["eventID"] == default["eventID"]


def _plans(app: Flask, query: dict[str, list[str]], statements: list[Any]) -> list[str]:
    """SQLite's plan of every statement the query runs (recorded into `statements`)."""
    statements.clear()
    with app.app_context(), read_connection(service().engine) as conn:
        event_queries.find_events(conn, parse(query), limit=10, reader=None)
        return [
            str(row[-1])
            for sql, params in statements
            for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        ]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_every_filter_reads_an_index(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No filter scans epcis_event (or the index table): each is a search by key or range."""
    statements: list[tuple[str, tuple[Any, ...]]] = []
    real = event_queries.query

    def spy(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        statements.append((sql, params))
        return real(conn, sql, params)

    monkeypatch.setattr(event_queries, "query", spy)
    with app_on(backend, tmp_path / "data") as app:
        queries = [
            {name: [value]}
            for name, value in (
                ("eventType", "ObjectEvent"),
                ("EQ_action", "ADD"),
                ("EQ_bizStep", "shipping"),
                ("EQ_disposition", "in_transit"),
                ("EQ_persistentDisposition_set", "active"),
                ("EQ_readPoint", MAKER_SITE),
                ("WD_bizLocation", STORE),
                ("EQ_bizTransaction_po", "urn:po:1"),
                ("EQ_source_owning_party", "urn:x:1"),
                ("EQ_destination_owning_party", "urn:x:1"),
                ("EQ_eventID", INSPECTION_ID),
                ("EXISTS_errorDeclaration", "true"),
                ("GE_errorDeclarationTime", "2026-11-05T00:00:00Z"),
                ("EQ_quantity", "5"),
                ("LT_quantity", "5"),
                ("MATCH_anyEPC", SSCC_URN),
                ("GE_recordTime", "2026-11-05T00:00:00Z"),
            )
        ]
        queries.append({"EQ_action": ["ADD"], "orderBy": ["recordTime"]})
        for query in queries:
            plan = _plans(app, query, statements)
            scans = [line for line in plan if re.match(r"SCAN (e|x|epcis_event|epcis_epc)\b", line)]
            assert not scans, (query, plan)
            assert any(line.startswith("SEARCH") for line in plan), (query, plan)
