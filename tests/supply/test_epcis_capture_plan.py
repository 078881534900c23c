"""EPCIS capture planned mostly before the append lock: what each event stores is worked out
from its document alone, the rows a document's operations read are read in a few queries, and
the projection is still exactly what replaying the log gives, whatever fails or runs at once."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from provenance.epcis.document import parse_epcis_document
from provenance.epcis.epc_index import event_epcs
from provenance.epcis.query import NAMESPACES_MEMBER
from provenance.log.signing import Envelope, Signature
from provenance.log.store.engine import read_connection
from provenance.supply.capture import Captured, capture_statement
from provenance.supply.tables import KEYS
from provenance.web.context import service
from tests.parties import PartyKey
from tests.supply.test_epcis_capture import (
    CONTEXT,
    GTIN,
    SERIALS,
    capture,
    commissioning,
    document,
    epc,
    events,
    inspecting,
    log_size,
    parties,
    receiving,
    shipping,
)

__all__ = ["parties"]  # the fixture, shared with the capture tests

PHARMACY_PGLN = "urn:epc:id:pgln:5412345.00003"


def onward(serials: list[str], desadv: str) -> dict[str, Any]:
    """The wholesaler ships on to the pharmacy."""
    event = shipping(serials, desadv)
    event["eventTime"] = "2026-11-04T09:00:00.000Z"
    event["sourceList"] = [{"type": "owning_party", "source": "urn:epc:id:pgln:5412345.00002"}]
    event["destinationList"] = [{"type": "owning_party", "destination": PHARMACY_PGLN}]
    return event


def at_pharmacy(serials: list[str], desadv: str) -> dict[str, Any]:
    event = onward(serials, desadv)
    event.update(bizStep="receiving", disposition="in_progress", eventTime="2026-11-05T09:00:00Z")
    return event


def leaving(serials: list[str], step: str, hour: int) -> dict[str, Any]:
    """Packs dispensed or destroyed at the pharmacy."""
    event = inspecting(serials[0])
    event.update(
        epcList=[epc(s) for s in serials],
        bizStep=step,
        disposition="dispensed" if step == "dispensing" else "destroyed",
        eventTime=f"2026-11-06T{hour:02d}:00:00Z",
    )
    return event


def projection(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection table, each row in key order."""
    with app.app_context(), read_connection(service().engine) as conn:
        return {
            table: [
                tuple(row)
                for row in conn.exec_driver_sql(
                    f"SELECT * FROM {table} ORDER BY {', '.join(keys)}"
                ).all()
            ]
            for table, keys in KEYS.items()
        }


def test_a_chain_of_documents_stores_each_event_once_and_rebuilds_identically(
    client: FlaskClient, parties: dict[str, PartyKey], app: Flask
) -> None:
    maker, wholesaler, pharmacy = parties["maker"], parties["wholesaler"], parties["pharmacy"]
    made = commissioning(SERIALS)
    # The same event twice in one document: stored and applied once.
    first = document(made, shipping(SERIALS[:4]), made, inspecting(SERIALS[5]))
    assert capture(client, maker, first).get_json()["events_captured"] == 3
    second = document(receiving(SERIALS[:4]), onward(SERIALS[:3], "urn:desadv:D-2"))
    assert capture(client, wholesaler, second).get_json()["events_captured"] == 2
    third = document(
        at_pharmacy(SERIALS[:3], "urn:desadv:D-2"),
        leaving(SERIALS[:1], "dispensing", 9),
        leaving(SERIALS[1:2], "destroying", 10),
    )
    response = capture(client, pharmacy, third)
    assert response.status_code == 202, response.get_json()
    rows = projection(app)
    packs = {row[1]: row for row in rows["pack"]}  # gtin, serial, lot, holder, state, …
    assert [packs[s][4] for s in SERIALS] == ["supplied", "destroyed", *["active"] * 4]
    assert packs[SERIALS[2]][3] == "5412345000037" and packs[SERIALS[3]][3] == "5412345000020"
    holdings = {row[2]: row[3] for row in rows["holding"]}
    assert holdings == {"5412345000013": 2, "5412345000020": 1, "5412345000037": 1}
    steps = [row[4] for row in sorted(rows["epcis_event"], key=lambda row: (row[1], row[2]))]
    assert steps == [
        "commissioning",
        "shipping",
        "inspecting",
        "receiving",
        "shipping",
        "receiving",
        "dispensing",
        "destroying",
    ]
    # Each stored event is its captured JSON, compact, and its index rows are its keys.
    sent = [*first["epcisBody"]["eventList"], *second["epcisBody"]["eventList"]]
    sent += third["epcisBody"]["eventList"]
    parsed = {e.hash_id: e for e in parse_epcis_document(document(*sent))}
    stored = {row[0]: row[9] for row in rows["epcis_event"]}
    assert set(stored) == set(parsed)
    for hash_id, event in parsed.items():
        assert stored[hash_id] == json.dumps(dict(event.raw), separators=(",", ":"))
    index = {(row[0], row[1], row[2]) for row in rows["epcis_epc"]}
    assert index == {(h, f, k) for h, e in parsed.items() for f, k in event_epcs(e)}
    rebuilt = app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert "identical" in rebuilt.output, rebuilt.output
    assert projection(app) == rows


def test_a_capture_that_fails_late_changes_nothing(
    client: FlaskClient, parties: dict[str, PartyKey], app: Flask
) -> None:
    maker = parties["maker"]
    assert capture(client, maker, document(commissioning(SERIALS[:3], "LOT-A"))).status_code == 202
    before, size = projection(app), log_size(client)
    # Everything up to the last event is fine: a new batch, a shipment of the first one; the
    # last ships a pack the maker no longer holds.
    doc = document(
        commissioning(SERIALS[3:], "LOT-B"),
        shipping(SERIALS[:2]),
        shipping(SERIALS[:1], "urn:desadv:D-9"),
    )
    response = capture(client, maker, doc)
    assert response.status_code == 409
    assert response.get_json()["event"] == 2
    assert projection(app) == before and log_size(client) == size


def test_concurrent_captures_keep_one_chain(
    client: FlaskClient, parties: dict[str, PartyKey], app: Flask
) -> None:
    maker = parties["maker"]
    # Eight documents at once, two of which commission the same lot: exactly one of those two
    # is applied, and every other document is.
    docs = [document(commissioning([f"C{n}S{p}" for p in range(3)], f"LOT-{n}")) for n in range(6)]
    docs += [document(commissioning(["X1", "X2"], "LOT-TWICE")) for _ in range(2)]
    docs[-1]["epcisBody"]["eventList"][0]["eventTime"] = "2026-11-01T09:00:00.000+01:00"
    statuses: list[int] = []
    start = threading.Barrier(len(docs))

    def send(doc: dict[str, Any]) -> None:
        own = app.test_client()
        start.wait()
        statuses.append(capture(own, maker, doc).status_code)

    threads = [threading.Thread(target=send, args=(doc,)) for doc in docs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202] * 7 + [409]
    rows = projection(app)
    assert len(rows["batch"]) == 7 and len(rows["pack"]) == 6 * 3 + 2
    assert len(rows["epcis_event"]) == 7
    verified = app.test_cli_runner().invoke(args=["verify", "--quiet", "--workers", "1"])
    assert verified.exit_code == 0, verified.output
    rebuilt = app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert "identical" in rebuilt.output, rebuilt.output
    assert len(events(client, parties["regulator"])) == 7


def _statement(doc: dict[str, Any]) -> Any:
    payload = json.dumps(doc).encode()
    return capture_statement(Envelope("application/ld+json", payload, (Signature("a" * 64, b""),)))


def test_each_event_is_made_ready_to_store_before_the_lock() -> None:
    shipped = shipping(SERIALS[:2])
    shipped["ex:carrier"] = "ex:truck-7"  # an extension: its namespace goes with the event
    doc = document(commissioning(SERIALS), shipped)
    doc["@context"] = [*CONTEXT, {"ex": "https://example.com/ns/"}]
    decoded = _statement(doc).decoded
    assert isinstance(decoded, Captured)
    assert list(decoded) == list(parse_epcis_document(doc))  # still the events, for readers
    made, sent = decoded.prepared
    assert (made.action, sent.action) == ("commission", "ship")
    assert made.stored == json.dumps(doc["epcisBody"]["eventList"][0], separators=(",", ":"))
    assert json.loads(sent.stored)[NAMESPACES_MEMBER] == {"ex": "https://example.com/ns/"}
    assert sent.counterparty == "5412345000020" and sent.ref == "urn:desadv:D-1"
    assert [i[2] if i else None for i in made.idents] == SERIALS
    assert [row.key for row in made.index] == [
        (made.event.hash_id, field, key) for field, key in event_epcs(made.event)
    ]
    assert made.epcs.split() == [epc(s) for s in SERIALS]
    assert GTIN in made.epcs


@pytest.mark.parametrize("member", ["tag:provenance.local,2026:unverifiedUpstream", "ns"])
def test_members_only_this_log_sets_are_still_refused(member: str) -> None:
    event = commissioning(SERIALS)
    name = NAMESPACES_MEMBER if member == "ns" else member
    event[name] = True if member != "ns" else {"ex": "https://example.com/ns/"}
    with pytest.raises(Exception, match="is set by this log only"):
        _statement(document(event))
