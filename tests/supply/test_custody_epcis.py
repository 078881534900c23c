"""Native custody statements as EPCIS 2.0: each change is an ObjectEvent in CBV 2.0 terms, stored
in its statement's entry, queried like captured events, read by the batch's handlers only, and
rebuilt identically; captured as EPCIS instead, the same flow makes the same custody."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from provenance.demo import demo_key
from provenance.epcis.document import parse_epcis_document
from provenance.epcis.hash import event_hash_id
from provenance.epcis.query import CONTEXT
from provenance.gs1 import keys as gs1
from provenance.log.store.engine import read_connection, write_transaction
from provenance.supply import demo as demo_supply
from provenance.supply.epcis_view import ENTRY_LINK, custody_event
from provenance.supply.rows import CustodyEventRow
from provenance.web.context import service
from tests.backends import app_on_each_backend  # noqa: F401  (the `app` fixture)
from tests.conftest import seeded_demo_app
from tests.parties import PartyKey, read
from tests.supply.chain import FUTURE, GTIN, Chain
from tests.supply.test_epcis_capture import capture, document, events, query

SERIALISED, BULK = "CE-S", "CE-Q"
SERIALS = [f"CE{n}" for n in range(7)]


def epc(serial: str) -> str:
    return f"https://id.gs1.org/01/{GTIN}/21/{serial}"


def lgtin(lot: str) -> str:
    return f"https://id.gs1.org/01/{GTIN}/10/{lot}"


def party(gln: str) -> str:
    return f"https://id.gs1.org/417/{gln}"


def location(gln: str) -> str:
    return f"https://id.gs1.org/414/{gln}"


def native_flow(c: Chain) -> dict[str, int]:
    """Every custody statement kind, signed natively; the entry index of each step."""
    entries: dict[str, int] = {}

    def step(name: str, signer: PartyKey, kind: str, body: dict[str, Any]) -> None:
        entries[name] = c.send(signer, kind, {"gtin": GTIN, **body} if "lot" in body else body)[
            "index"
        ]

    maker, wholesaler, pharmacy = c.maker, c.wholesaler, c.pharmacy
    s, q = {"lot": SERIALISED}, {"lot": BULK}
    step("commission", maker, "batch.commission", {**s, "expiry": FUTURE, "serials": SERIALS})
    step("commission-bulk", maker, "batch.commission", {**q, "expiry": "301200", "quantity": 100})
    ship = {"shipment": "D1", "to": wholesaler.gln, "po": "PO-9", "despatch": "DES-1"}
    step("ship", maker, "custody.ship", {**s, **ship, "serials": SERIALS})
    got = {"from": maker.gln, "shipment": "D1"}
    step("receive", wholesaler, "custody.receive", {**got, "serials": SERIALS[:4] + SERIALS[6:]})
    step("remainder", wholesaler, "custody.receive-remainder", {**got, "serials": SERIALS[4:5]})
    bulk = {"shipment": "Q1", "to": wholesaler.gln, "po": "urn:po:10"}
    step("ship-bulk", maker, "custody.ship", {**q, **bulk, "quantity": 40})
    got_bulk = {"from": maker.gln, "shipment": "Q1"}
    step("receive-bulk", wholesaler, "custody.receive", {**got_bulk, "quantity": 30})
    step("remainder-bulk", wholesaler, "custody.receive-remainder", {**got_bulk, "quantity": 10})
    to_pharmacy = {"shipment": "W1", "to": pharmacy.gln, "serials": SERIALS[:3]}
    step("ship-on", wholesaler, "custody.ship", {**s, **to_pharmacy})
    w1 = {"from": wholesaler.gln, "shipment": "W1", "serials": SERIALS[:3]}
    step("receive-on", pharmacy, "custody.receive", w1)
    step("dispense", pharmacy, "custody.dispense", {**s, "serials": SERIALS[:1]})
    step("destroy", wholesaler, "custody.destroy", {**s, "serials": [SERIALS[3]], "reason": "x"})
    lost = {"serials": [SERIALS[4]], "reason": "lost"}
    step("write-off", wholesaler, "custody.write-off", {**s, **lost})
    damaged = {"quantity": 5, "reason": "damaged-in-transit", "note": "crushed"}
    step("write-off-bulk", wholesaler, "custody.write-off", {**q, **damaged})
    step("stolen", wholesaler, "pack.state", {**s, "serials": [SERIALS[6]], "state": "stolen"})
    step("lock", pharmacy, "pack.state", {**s, "serials": [SERIALS[2]], "state": "locked"})
    step("unlock", pharmacy, "pack.state", {**s, "serials": [SERIALS[2]], "state": "active"})
    step("recall", maker, "batch.recall", {**s, "reason": "contamination"})
    back = {"shipment": "RR1", "to": maker.gln, "serials": SERIALS[1:3]}
    step("recall-return", pharmacy, "custody.recall-return", {**s, **back})
    rr1 = {"from": pharmacy.gln, "shipment": "RR1", "serials": SERIALS[1:3]}
    step("receive-return", maker, "custody.receive", rr1)
    return entries


def link(event: dict[str, Any]) -> int:
    return int(event[ENTRY_LINK])


def summary(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["action"], e.get("bizStep"), e["disposition"]) for e in found]


def test_every_custody_statement_is_queried_as_epcis(chain: Chain) -> None:
    entries = native_flow(chain)
    c, maker, wholesaler = chain.client, chain.maker, chain.wholesaler
    # A dispensed pack: commissioned, shipped twice, received twice, dispensed.
    first = events(c, maker, MATCH_epc=epc(SERIALS[0]))
    assert summary(first) == [
        ("ADD", "commissioning", "active"),
        ("OBSERVE", "shipping", "in_transit"),
        ("OBSERVE", "receiving", "in_progress"),
        ("OBSERVE", "shipping", "in_transit"),
        ("OBSERVE", "receiving", "in_progress"),
        ("OBSERVE", "dispensing", "dispensed"),
    ]
    names = ["commission", "ship", "receive", "ship-on", "receive-on", "dispense"]
    assert [link(e) for e in first] == [entries[n] for n in names]
    commissioning, shipping, receiving = first[:3]
    assert commissioning["epcList"] == [epc(s) for s in SERIALS]
    assert commissioning["ilmd"] == {
        "cbvmda:lotNumber": SERIALISED,
        "cbvmda:itemExpirationDate": "2030-12-31",
    }
    assert commissioning["readPoint"] == commissioning["bizLocation"] == {"id": location(maker.gln)}
    assert shipping["bizTransactionList"] == [
        {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{wholesaler.gln}:PO-9"},
        {"type": "desadv", "bizTransaction": f"urn:epcglobal:cbv:bt:{maker.gln}:DES-1"},
    ]
    for event in (shipping, receiving):
        assert {s["type"]: s["source"] for s in event["sourceList"]} == {
            "owning_party": party(maker.gln),
            "possessing_party": party(maker.gln),
        }
        assert {d["type"]: d["destination"] for d in event["destinationList"]} == {
            "owning_party": party(wholesaler.gln),
            "possessing_party": party(wholesaler.gln),
        }
    assert "bizLocation" not in shipping  # in transit
    assert receiving["bizLocation"] == {"id": location(wholesaler.gln)}
    assert receiving["epcList"] == [epc(s) for s in SERIALS[:4] + SERIALS[6:]]
    # Recalled packs go back to the manufacturer: shipped and received as recalled.
    returned = events(c, maker, MATCH_anyEPC=epc(SERIALS[1]))
    assert summary(returned)[-2:] == [
        ("OBSERVE", "shipping", "recalled"),
        ("OBSERVE", "receiving", "recalled"),
    ]
    assert [link(e) for e in returned[-2:]] == [entries["recall-return"], entries["receive-return"]]
    # A lock and its undo; destroyed, written-off and stolen packs.
    locked = events(c, maker, MATCH_epc=epc(SERIALS[2]))
    assert summary(locked)[5:7] == [
        ("OBSERVE", "holding", "non_sellable_other"),
        ("OBSERVE", None, "active"),
    ]
    last = {
        serial: summary(events(c, maker, MATCH_epc=epc(serial)))[-1]
        for serial in (SERIALS[3], SERIALS[4], SERIALS[6])
    }
    assert last == {
        SERIALS[3]: ("DELETE", "destroying", "destroyed"),
        SERIALS[4]: ("OBSERVE", None, "unknown"),
        SERIALS[6]: ("OBSERVE", None, "stolen"),
    }
    # The late remainder is a receipt of its own; the pack still short has none.
    late = events(c, maker, MATCH_epc=epc(SERIALS[4]))
    assert [link(e) for e in late] == [
        entries[n] for n in ("commission", "ship", "remainder", "write-off")
    ]
    assert summary(events(c, maker, MATCH_epc=epc(SERIALS[5])))[-1][1] == "shipping"


def test_unserialised_batches_and_recalls_are_quantities_of_the_lot(chain: Chain) -> None:
    entries = native_flow(chain)
    c, maker = chain.client, chain.maker
    bulk = events(c, maker, MATCH_epcClass=lgtin(BULK))
    assert [(e.get("bizStep"), e["quantityList"]) for e in bulk] == [
        ("commissioning", [{"epcClass": lgtin(BULK), "quantity": 100}]),
        ("shipping", [{"epcClass": lgtin(BULK), "quantity": 40}]),
        ("receiving", [{"epcClass": lgtin(BULK), "quantity": 30}]),
        ("receiving", [{"epcClass": lgtin(BULK), "quantity": 10}]),
        (None, [{"epcClass": lgtin(BULK), "quantity": 5}]),
    ]
    assert bulk[0]["ilmd"]["cbvmda:itemExpirationDate"] == "2030-12-31"  # day 00: month's end
    # A PO that is a URI already is kept as it is; the shipment has no despatch advice.
    assert bulk[1]["bizTransactionList"] == [{"type": "po", "bizTransaction": "urn:po:10"}]
    assert bulk[4]["disposition"] == "damaged"
    names = ["commission-bulk", "ship-bulk", "receive-bulk", "remainder-bulk", "write-off-bulk"]
    assert [link(e) for e in bulk] == [entries[n] for n in names]
    (recall,) = events(c, maker, EQ_bizStep="holding", MATCH_epcClass=lgtin(SERIALISED))
    assert recall["quantityList"] == [{"epcClass": lgtin(SERIALISED)}]  # the whole lot
    assert (recall["disposition"], link(recall)) == ("recalled", entries["recall"])
    assert recall["readPoint"] == {"id": location(maker.gln)} and "bizLocation" not in recall


def test_steps_and_time_windows_select_derived_events(chain: Chain) -> None:
    native_flow(chain)
    c, regulator = chain.client, chain.regulator
    everything = events(c, regulator)
    assert len(everything) == 20  # one event per custody statement
    shipping = events(c, regulator, EQ_bizStep="shipping")
    assert [e for e in everything if e.get("bizStep") == "shipping"] == shipping
    assert len(shipping) == 4
    since, until = shipping[1]["eventTime"], shipping[3]["eventTime"]
    window = events(c, regulator, EQ_bizStep="shipping", GE_eventTime=since, LT_eventTime=until)
    assert window == [e for e in shipping if since <= e["eventTime"] < until]
    assert shipping[1] in window and shipping[3] not in window


def test_derived_events_carry_their_hash_ids_and_entry_links(chain: Chain) -> None:
    entries = native_flow(chain)
    c, regulator = chain.client, chain.regulator
    answer = query(c, regulator).get_json()
    found = answer["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert len(parse_epcis_document(answer)) == len(found)  # valid EPCIS 2.0 as answered
    for event in found:
        assert event["eventID"] == event_hash_id(event, [CONTEXT])
        assert (
            event["eventTime"] == event["recordTime"] and event["eventTimeZoneOffset"] == "+00:00"
        )
        entry = read(c, regulator, f"/api/v1/log/entries/{link(event)}").get_json()["entry"]
        assert entry["logged_at"] == event["eventTime"]
    assert sorted({link(e) for e in found}) == sorted(entries.values())
    # The same change in two entries: two events, told apart by their entry links.
    body = {"gtin": GTIN, "lot": SERIALISED, "serials": [SERIALS[2]]}
    maker = chain.maker
    chain.send(maker, "pack.state", {**body, "state": "locked"})
    chain.send(maker, "pack.state", {**body, "state": "active"})
    chain.send(maker, "pack.state", {**body, "state": "locked"})
    locks = [
        e
        for e in events(c, regulator, MATCH_epc=epc(SERIALS[2]), EQ_bizStep="holding")
        if e["readPoint"]["id"] == location(maker.gln)
    ]
    assert len(locks) == 2 and locks[0]["eventID"] != locks[1]["eventID"]
    # At the same time, only the entry link would tell them apart.
    times = {"eventTime": locks[1]["eventTime"], "recordTime": locks[1]["recordTime"]}
    same_time = {**locks[0], **times}
    assert event_hash_id(same_time, [CONTEXT]) != locks[1]["eventID"]
    relinked = {**same_time, ENTRY_LINK: locks[1][ENTRY_LINK]}
    assert event_hash_id(relinked, [CONTEXT]) == locks[1]["eventID"]


def test_only_handlers_read_the_derived_events(chain: Chain) -> None:
    native_flow(chain)
    c = chain.client
    serialised = {"gtin": GTIN, "lot": SERIALISED}
    everything = events(c, chain.regulator, **serialised)
    assert len(everything) == 15
    for handler in (chain.maker, chain.wholesaler, chain.pharmacy):
        assert events(c, handler, **serialised) == everything
    # The pharmacy never handled the bulk lot; another pharmacy handled neither.
    assert events(c, chain.pharmacy, MATCH_epcClass=lgtin(BULK)) == []
    assert len(events(c, chain.wholesaler, MATCH_epcClass=lgtin(BULK))) == 5
    assert events(c, chain.other_pharmacy) == []
    assert query(c, None).status_code == 401


def _epcis_rows(app: Flask) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with app.app_context(), read_connection(service().engine) as conn:
        events_ = conn.exec_driver_sql("SELECT * FROM epcis_event ORDER BY hash_id").all()
        epcs = conn.exec_driver_sql("SELECT * FROM epcis_epc ORDER BY 1, 2, 3").all()
    return [tuple(r) for r in events_], [tuple(r) for r in epcs]


def test_a_rebuild_derives_identical_epcis_rows(chain: Chain, app: Flask) -> None:
    native_flow(chain)
    before = _epcis_rows(app)
    assert len(before[0]) == 20 and all(row[6] == GTIN for row in before[0])  # gtin set
    rebuilt = app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert "identical" in rebuilt.output, rebuilt.output
    assert _epcis_rows(app) == before
    with app.app_context(), write_transaction(service().engine) as conn:
        conn.exec_driver_sql("DELETE FROM epcis_event")
        conn.exec_driver_sql("DELETE FROM epcis_epc")
    rebuilt = app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert "DIFFERENT" in rebuilt.output, rebuilt.output
    assert _epcis_rows(app) == before


# --- the same custody, captured as EPCIS documents ----------------------------------------------


def capturable_flow(c: Chain, lot: str) -> None:
    """Custody the capture interface also moves: commission, ship, receive, dispense, destroy;
    shipments named by their despatch advice, as a captured shipping event names them."""
    maker, wholesaler, pharmacy = c.maker, c.wholesaler, c.pharmacy
    serials = [f"{lot}-{n}" for n in range(5)]
    s, q = {"gtin": GTIN, "lot": lot}, {"gtin": GTIN, "lot": f"{lot}Q"}
    c.send(maker, "batch.commission", {**s, "expiry": FUTURE, "serials": serials})
    c.send(maker, "batch.commission", {**q, "expiry": FUTURE, "quantity": 50})
    d1, q1 = f"urn:desadv:{lot}-D1", f"urn:desadv:{lot}-Q1"
    for shipment, body in ((d1, {**s, "serials": serials}), (q1, {**q, "quantity": 20})):
        ship = {"shipment": shipment, "despatch": shipment, "po": "urn:po:1"}
        c.send(maker, "custody.ship", {**body, **ship, "to": wholesaler.gln})
    c.send(wholesaler, "custody.receive", {"from": maker.gln, "shipment": d1, "serials": serials})
    c.send(wholesaler, "custody.receive", {"from": maker.gln, "shipment": q1, "quantity": 20})
    w1 = f"urn:desadv:{lot}-W1"
    on = {**s, "shipment": w1, "despatch": w1, "to": pharmacy.gln, "serials": serials[:3]}
    c.send(wholesaler, "custody.ship", on)
    got = {"from": wholesaler.gln, "shipment": w1, "serials": serials[:3]}
    c.send(pharmacy, "custody.receive", got)
    c.send(pharmacy, "custody.dispense", {**s, "serials": serials[:1]})
    c.send(wholesaler, "custody.destroy", {**s, "serials": serials[3:4], "reason": "x"})
    c.send(wholesaler, "custody.destroy", {**q, "quantity": 2, "reason": "x"})


def custody_rows(app: Flask, lot: str) -> dict[str, Any]:
    """The batches' custody, with the lot and what is particular to the entries left out."""

    def plain(value: Any) -> Any:
        return value.replace(lot, "<lot>") if isinstance(value, str) else value

    tables = {
        "batch": ("expiry", "quantity", "serialised", "dispensed", "destroyed", "status"),
        "holding": ("gln", "quantity"),
        "pack": ("serial", "holder", "state", "state_by"),
        "shipment": (
            *("sender", "shipment_id", "recipient", "quantity", "received", "serials"),
            *("status", "po", "despatch"),
        ),
        "custody_event": ("lot", "action", "party", "counterparty", "quantity", "serials"),
    }
    found: dict[str, Any] = {}
    with app.app_context(), read_connection(service().engine) as conn:
        for table, columns in tables.items():
            rows = conn.execute(
                text(f"SELECT {', '.join(columns)} FROM {table} WHERE lot IN (:lot, :bulk)"),
                {"lot": lot, "bulk": f"{lot}Q"},
            ).all()
            found[table] = sorted(tuple(plain(v) for v in row) for row in rows)
    return found


def test_the_same_flow_captured_as_epcis_makes_the_same_custody(chain: Chain, app: Flask) -> None:
    capturable_flow(chain, "NAT")
    c = chain.client
    signers = {p.gln: p for p in (chain.maker, chain.wholesaler, chain.pharmacy)}
    derived = [*events(c, chain.regulator, lot="NAT"), *events(c, chain.regulator, lot="NATQ")]
    derived.sort(key=lambda e: link(e))
    assert len(derived) == 11
    for event in derived:
        # The derived event, for another lot, signed by the party whose location it names.
        text = json.dumps(event).replace("NAT", "CAP")
        again = {k: v for k, v in json.loads(text).items() if k not in ("eventID", ENTRY_LINK)}
        signer = signers[event["readPoint"]["id"].rsplit("/", 1)[1]]
        response = capture(c, signer, document(again))
        assert response.status_code in (201, 202), response.get_json()  # 202: asynchronous capture
    native, captured = custody_rows(app, "NAT"), custody_rows(app, "CAP")
    assert captured == native
    assert len(native["shipment"]) == 3 and native["batch"][0][3:5] == (1, 1)
    # Captured events are stored as captured: no derived event beside them.
    captured_events = events(c, chain.regulator, lot="CAP")
    assert len(captured_events) == 7 and all(ENTRY_LINK not in e for e in captured_events)


# --- the mapping itself, and the demo -----------------------------------------------------------


def change(action: str, serials: list[str]) -> CustodyEventRow:
    return {
        "idx": 7,
        "seq": 0,
        "gtin": gs1.GTIN(GTIN),
        "lot": gs1.Lot(SERIALISED),
        "action": action,
        "party": gs1.GLN("5412345000013"),
        "counterparty": None,
        "quantity": len(serials),
        "serials": json.dumps(serials),
        "detail": "",
        "at": "2026-12-06T10:00:00.000Z",
        "key_id": "k",
    }


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("return", ("OBSERVE", "shipping", "returned")),
        ("sample", ("OBSERVE", "sampling", "non_sellable_other")),
        ("withdrawn", ("OBSERVE", None, "non_sellable_other")),
        ("undo supplied", ("OBSERVE", None, "active")),
        ("exported", None),
        ("checked-out", None),
        ("scan", None),
    ],
)
def test_pack_states_map_where_the_cbv_has_a_term(
    action: str, expected: tuple[str, str | None, str] | None
) -> None:
    event = custody_event(change(action, ["CE1"]))
    if expected is None:
        assert event is None
        return
    assert event is not None
    assert (event["action"], event.get("bizStep"), event["disposition"]) == expected
    assert event["epcList"] == [epc("CE1")] and event[ENTRY_LINK] == 7
    (parsed,) = parse_epcis_document({"@context": [CONTEXT], **event})
    assert parsed.read_point == location("5412345000013")
    # Packs in transit are at no business location; the others stay where they are.
    assert parsed.biz_location == (None if action == "return" else location("5412345000013"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with seeded_demo_app(Path(tmp_path_factory.mktemp("custody-epcis")), 0, ("supply",)) as app:
        yield app


def test_the_demo_has_epcis_events(demo: Flask) -> None:
    client: FlaskClient = demo.test_client()
    with demo.app_context():
        regulator = next(p for p in demo_supply.parties() if p.slug == demo_supply.REGULATOR)
        key = PartyKey(demo_key(service().settings.data_dir, regulator.slug), regulator.gln)
    found = events(client, key)
    steps = {e.get("bizStep") for e in found}
    assert {"commissioning", "shipping", "receiving", "dispensing", "holding"} <= steps
    gtin, lot, serial = demo_supply.SHOWCASE["dispensed"]
    pack = events(client, key, MATCH_epc=f"https://id.gs1.org/01/{gtin}/21/{serial}")
    assert [e["bizStep"] for e in pack][0] == "commissioning"
    assert pack[-1]["disposition"] == "dispensed"
