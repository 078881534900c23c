"""Late receipts without a database: the first receipt's rows are found when one entry (an
EPCIS document) received several shipments short."""

from __future__ import annotations

from typing import Any

from provenance.log.identity import PartyRecord
from provenance.supply import custody_exceptions, shipments
from provenance.supply import operations as supply
from tests.supply.replay import Replay

GTIN = "09506000134352"
MAKER, WHOLESALER = "5412345000013", "5412345000020"


def test_a_remainder_finds_its_shipment_among_several_received_in_one_entry() -> None:
    replay = Replay("2026-11-01T00:00:00.000Z")
    view, run = replay.view, replay.run
    view.parties[MAKER] = PartyRecord(MAKER, MAKER, ("manufacturer",), 1)
    view.parties[WHOLESALER] = PartyRecord(WHOLESALER, WHOLESALER, ("wholesaler",), 1)
    replay.register_product(GTIN, MAKER)
    serials = [f"S{n}" for n in range(6)]
    commission: dict[str, Any] = {"gtin": GTIN, "lot": "L1", "expiry": "301231", "quantity": 0}
    assert run(supply.commission, party=MAKER, serials=serials, **commission)
    for shipment, packs in (("D1", serials[:3]), ("D10", serials[3:])):
        assert run(
            lambda ledger, **a: shipments.ship(ledger, view, **a),
            party=MAKER,
            shipment_id=shipment,
            gtin=GTIN,
            lot="L1",
            to=WHOLESALER,
            quantity=0,
            serials=packs,
        )

    def both_short(ledger: Any) -> None:
        for shipment, packs in (("D1", serials[:1]), ("D10", serials[3:4])):
            shipments.receive(
                ledger,
                party=WHOLESALER,
                sender=MAKER,
                shipment_id=shipment,
                quantity=0,
                serials=packs,
            )

    assert run(both_short)
    late = {"party": WHOLESALER, "sender": MAKER, "shipment_id": "D10", "quantity": 0}
    # S1 is missing from D1, not from D10: the rows of D1 do not count for D10.
    assert not run(custody_exceptions.receive_remainder, serials=["S1"], **late)
    assert not run(custody_exceptions.receive_remainder, serials=["S3"], **late)  # received
    assert run(custody_exceptions.receive_remainder, serials=["S4", "S5"], **late)
    alerts = {a["detail"].split(";")[0]: a for a in view.tables["alert"].values()}
    assert alerts["shipment D10"]["resolved_index"] is not None
    assert alerts["shipment D1"]["resolved_index"] is None
    assert view.tables["shipment"][(MAKER, "D10")]["status"] == "received"
    assert view.tables["shipment"][(MAKER, "D1")]["status"] == "partial"
