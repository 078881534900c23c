"""Custody rules without a database: conservation holds after any sequence of operations."""

from __future__ import annotations

import json
import random

import pytest

from provenance.log.identity import PartyRecord
from provenance.log.store.projection import MemoryView
from provenance.supply import custody, custody_exceptions, pack_events, shipments
from provenance.supply import operations as supply
from provenance.supply import rows as supply_rows
from provenance.supply.tables import KEYS as SUPPLY_KEYS
from provenance.supply.tables import METADATA, SERVICE_TABLES
from tests.supply.replay import Replay

GTIN = "09506000134352"
MAKER, WHOLESALER, PHARMACY = "5412345000013", "5412345000020", "5412345000037"
PARTIES = [MAKER, WHOLESALER, PHARMACY]


def test_primary_keys_match_the_schema() -> None:
    # Every table but the service state (named queries, subscriptions) is projection.
    assert set(SUPPLY_KEYS) == set(METADATA.tables) - set(SERVICE_TABLES)
    for table, keys in SUPPLY_KEYS.items():
        columns = tuple(c.name for c in METADATA.tables[table].primary_key.columns)
        assert columns == keys, table


def test_row_types_match_the_schema() -> None:
    row_types = {
        "company_prefix": supply_rows.CompanyPrefixRow,
        "company_prefix_stem": supply_rows.CompanyPrefixStemRow,
        "product": supply_rows.ProductRow,
        "batch": supply_rows.BatchRow,
        "holding": supply_rows.HoldingRow,
        "shipment": supply_rows.ShipmentRow,
        "pack": supply_rows.PackRow,
        "custody_event": supply_rows.CustodyEventRow,
        "alert": supply_rows.AlertRow,
        "epcis_event": supply_rows.EpcisEventRow,
        "epcis_epc": supply_rows.EpcisEpcRow,
        "capture_job": supply_rows.CaptureJobRow,
    }
    assert set(row_types) == set(METADATA.tables) - set(SERVICE_TABLES)
    for table, row_type in row_types.items():
        columns = [c.name for c in METADATA.tables[table].columns]
        assert list(row_type.__annotations__) == columns, table
    handles = [
        supply_rows.COMPANY_PREFIX,
        supply_rows.COMPANY_PREFIX_STEM,
        supply_rows.PRODUCT,
        supply_rows.BATCH,
        supply_rows.HOLDING,
        supply_rows.SHIPMENT,
        supply_rows.PACK,
        supply_rows.CUSTODY_EVENT,
        supply_rows.ALERT,
        supply_rows.EPCIS_EVENT,
        supply_rows.EPCIS_EPC,
        supply_rows.CAPTURE_JOB,
    ]
    assert [handle.name for handle in handles] == list(SUPPLY_KEYS)


def independent_totals(view: MemoryView, lot: str) -> tuple[int, int, int, int, int, int]:
    """Commissioned, held, in transit, dispensed, destroyed, written off: counted from rows, not
    counters."""
    rows = view.tables
    held = sum(h["quantity"] for h in rows.get("holding", {}).values() if h["lot"] == lot)
    transit = sum(
        s["quantity"] - s["received"]
        for s in rows.get("shipment", {}).values()
        if s["lot"] == lot and s["status"] != "received"
    )
    events = [e for e in rows.get("custody_event", {}).values() if e["lot"] == lot]
    moved = {"dispense": 0, "destroy": 0, "write-off": 0}
    for e in events:
        if e["action"] in moved:
            moved[e["action"]] += e["quantity"]
        if e["action"] == "undo supplied":
            moved["dispense"] -= e["quantity"]
    batch = rows["batch"][(GTIN, lot)]
    return (
        batch["quantity"],
        held,
        transit,
        moved["dispense"],
        moved["destroy"],
        moved["write-off"],
    )


def active_at(view: MemoryView, serial: str) -> str | None:
    """The party holding an active pack (None: in transit, or no longer active)."""
    pack = view.tables["pack"][(GTIN, serial)]
    holder: str | None = pack["holder"] if pack["state"] == "active" else None
    return holder


def batch_row(view: MemoryView) -> supply_rows.BatchRow:
    row: supply_rows.BatchRow = view.tables["batch"][(GTIN, "L1")]
    return row


@pytest.mark.parametrize("seed", range(8))
def test_conservation_under_random_operations(seed: int) -> None:
    rng = random.Random(seed)
    replay = Replay("2026-11-01T00:00:00.000Z")
    view, at, run = replay.view, replay.at, replay.run
    for gln, role in zip(PARTIES, ["manufacturer", "wholesaler", "pharmacy"], strict=True):
        view.parties[gln] = PartyRecord(gln, gln, (role,), 1)
    replay.register_product(GTIN, MAKER)
    serials = [f"S{n}" for n in range(60)]
    assert run(
        supply.commission,
        party=MAKER,
        gtin=GTIN,
        lot="L1",
        expiry="301231",
        quantity=0,
        serials=serials,
    )
    refused = 0
    done: set[str] = set()
    for step in range(300):
        holder = rng.choice(PARTIES)
        held = [s for s in serials if active_at(view, s) == holder]
        pick = rng.sample(serials, rng.randint(1, 3))  # often not all held: must be refused
        choice = rng.random()
        if step == 100:  # from here on the only ways out are return, destroy and write-off
            assert run(supply.recall, party=MAKER, roles=[], gtin=GTIN, lot="L1", reason="test")
        if choice < 0.3:
            to = rng.choice([p for p in PARTIES if p != holder])
            ok = run(
                lambda ledger, **a: shipments.ship(ledger, view, **a),
                party=holder,
                shipment_id=f"X{step}",
                gtin=GTIN,
                lot="L1",
                to=to,
                quantity=0,
                serials=held[:3] if held and rng.random() < 0.5 else pick,
            )
        elif choice < 0.5:
            open_ = [
                s for s in view.tables.get("shipment", {}).values() if s["status"] == "in_transit"
            ]
            if not open_:
                continue
            shipment = rng.choice(open_)
            got = json.loads(shipment["serials"])
            got = got[: rng.randint(1, len(got))]
            ok = run(
                shipments.receive,
                party=shipment["recipient"],
                sender=shipment["sender"],
                shipment_id=shipment["shipment_id"],
                quantity=0,
                serials=got,
            )
        elif choice < 0.6:
            short = [
                s for s in view.tables.get("shipment", {}).values() if s["status"] == "partial"
            ]
            if not short:
                continue
            shipment = rng.choice(short)
            shipped = json.loads(shipment["serials"])
            ok = run(
                custody_exceptions.receive_remainder,
                party=shipment["recipient"],
                sender=shipment["sender"],
                shipment_id=shipment["shipment_id"],
                quantity=0,
                serials=rng.sample(shipped, rng.randint(1, 2)),  # often already received
            )
        elif choice < 0.68:
            returner = rng.choice([WHOLESALER, PHARMACY, holder])  # the maker's own is refused
            stock = [s for s in serials if active_at(view, s) == returner]
            ok = run(
                lambda ledger, **a: custody_exceptions.recall_return(ledger, view, **a),
                party=returner,
                shipment_id=f"R{step}",
                gtin=GTIN,
                lot="L1",
                to=MAKER,
                quantity=0,
                serials=stock[:2] or pick,
            )
        elif choice < 0.75:
            ok = run(
                custody_exceptions.write_off,
                party=holder,
                gtin=GTIN,
                lot="L1",
                quantity=0,
                serials=held[-1:] or pick,
                reason=rng.choice(sorted(custody_exceptions.WRITE_OFF_REASONS)),
                note=None,
            )
        elif choice < 0.8:
            ok = run(
                supply.dispense,
                party=PHARMACY,
                gtin=GTIN,
                lot="L1",
                quantity=0,
                serials=pick[:1],
                today=at,
            )
        elif choice < 0.88:
            ok = run(
                supply.destroy,
                party=holder,
                gtin=GTIN,
                lot="L1",
                quantity=0,
                serials=held[:1] or pick,
                reason="test",
            )
        else:
            ok = run(
                pack_events.pack_state,
                party=PHARMACY,
                gtin=GTIN,
                lot="L1",
                serials=pick[:1],
                state="active",
            )
        refused += not ok
        commissioned, held_n, transit, dispensed, destroyed, written_off = independent_totals(
            view, "L1"
        )
        assert commissioned == held_n + transit + dispensed + destroyed + written_off, step
        assert custody.conservation(batch_row(view), held_n, transit, written_off), step
        batch = batch_row(view)
        assert (batch["dispensed"], batch["destroyed"]) == (dispensed, destroyed)
        # A holding counts exactly the packs its party holds that are still in the chain.
        packs = view.tables["pack"].values()
        gone = {"supplied", "destroyed", "written-off"}
        for gln in PARTIES:
            holding = view.tables.get("holding", {}).get((GTIN, "L1", gln))
            mine = sum(p["holder"] == gln and p["state"] not in gone for p in packs)
            assert (holding["quantity"] if holding else 0) == mine, step
        written = sum(p["state"] == "written-off" for p in packs)
        assert written == written_off, step
        done.update(e["action"] for e in view.tables.get("custody_event", {}).values())
    assert refused > 20  # the sequence exercised refusals, not only happy paths
    assert {"receive-remainder", "recall-return", "write-off"} <= done
