"""Custody rules without a database: conservation holds after any sequence of operations."""

from __future__ import annotations

import json
import random

import pytest

from provenance.errors import Error
from provenance.log.identity import PartyRecord
from provenance.log.store.projection import MemoryView
from provenance.supply import operations as supply
from provenance.supply import pack_events
from provenance.supply.custody import PRIMARY_KEYS, Ledger
from provenance.supply.tables import SUPPLY_TABLES

GTIN = "09506000134352"
MAKER, WHOLESALER, PHARMACY = "5412345000013", "5412345000020", "5412345000037"
PARTIES = [MAKER, WHOLESALER, PHARMACY]


def test_primary_keys_match_the_schema() -> None:
    from sqlmodel import SQLModel

    for table in SUPPLY_TABLES:
        columns = tuple(c.name for c in SQLModel.metadata.tables[table].primary_key.columns)
        assert columns == PRIMARY_KEYS[table], table


def independent_totals(view: MemoryView, lot: str) -> tuple[int, int, int, int, int]:
    """Commissioned, held, in transit, dispensed, destroyed: counted from rows, not counters."""
    rows = view.tables
    held = sum(h["quantity"] for h in rows.get("holding", {}).values() if h["lot"] == lot)
    transit = sum(
        s["quantity"] - s["received"]
        for s in rows.get("shipment", {}).values()
        if s["lot"] == lot and s["status"] != "received"
    )
    events = [e for e in rows.get("custody_event", {}).values() if e["lot"] == lot]
    moved = {"dispense": 0, "destroy": 0}
    for e in events:
        if e["action"] in moved:
            moved[e["action"]] += e["quantity"]
        if e["action"] == "undo supplied":
            moved["dispense"] -= e["quantity"]
    batch = rows["batch"][(GTIN, lot)]
    return batch["quantity"], held, transit, moved["dispense"], moved["destroy"]


@pytest.mark.parametrize("seed", range(8))
def test_conservation_under_random_operations(seed: int) -> None:
    rng = random.Random(seed)
    view = MemoryView()
    for gln, role in zip(PARTIES, ["manufacturer", "wholesaler", "pharmacy"], strict=True):
        view.parties[gln] = PartyRecord(gln, gln, (role,), 1)
    index = 10
    at = "2026-11-01T00:00:00.000Z"

    def run(op: object, *args: object) -> bool:
        nonlocal index
        ledger = Ledger(view, index, at, "k" * 64)
        try:
            op(ledger, *args)  # type: ignore[operator]
        except Error:
            return False  # refused: nothing of it may reach the view
        view.apply(ledger.changes())
        index += 1
        return True

    run(supply.register_product, MAKER, GTIN, "X", None, "tablet", "1 mg")
    serials = [f"S{n}" for n in range(30)]
    assert run(supply.commission, MAKER, GTIN, "L1", "301231", 0, serials)
    refused = 0
    for step in range(300):
        holder = rng.choice(PARTIES)
        held = [s for s in serials if view.tables["pack"][(GTIN, s)]["holder"] == holder]
        pick = rng.sample(serials, rng.randint(1, 3))  # often not all held: must be refused
        choice = rng.random()
        if choice < 0.35:
            to = rng.choice([p for p in PARTIES if p != holder])
            ok = run(supply.ship, view, holder, f"X{step}", GTIN, "L1", to, 0, pick)
        elif choice < 0.6:
            open_ = [
                s for s in view.tables.get("shipment", {}).values() if s["status"] == "in_transit"
            ]
            if not open_:
                continue
            shipment = rng.choice(open_)
            got = json.loads(shipment["serials"])
            got = got[: rng.randint(1, len(got))]
            ok = run(
                supply.receive,
                shipment["recipient"],
                shipment["sender"],
                shipment["shipment_id"],
                0,
                got,
            )
        elif choice < 0.75:
            ok = run(supply.dispense, PHARMACY, GTIN, "L1", 0, pick[:1], at)
        elif choice < 0.85:
            ok = run(supply.destroy, holder, GTIN, "L1", 0, held[:1] or pick, "test")
        else:
            ok = run(pack_events.pack_state, PHARMACY, GTIN, "L1", pick[:1], "active")
        refused += not ok
        commissioned, held_n, transit, dispensed, destroyed = independent_totals(view, "L1")
        assert commissioned == held_n + transit + dispensed + destroyed, step
        batch = view.tables["batch"][(GTIN, "L1")]
        assert (batch["dispensed"], batch["destroyed"]) == (dispensed, destroyed)
    assert refused > 20  # the sequence exercised refusals, not only happy paths
