"""Custody exceptions: the late remainder of a short shipment, recall returns, write-offs (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from provenance.gs1.keys import GLN, GTIN, Lot, Serial
from provenance.log.errors import BadStatement, Conflict, WrongRole
from provenance.log.identity import IdentityView
from provenance.log.ledger import Ledger
from provenance.supply import custody, shipments
from provenance.supply.custody import check_quantity_form, give_to_holding
from provenance.supply.operations import leave_the_chain
from provenance.supply.rows import (
    ALERT,
    CUSTODY_EVENT,
    PACK,
    SHIPMENT,
    AlertRow,
    CustodyEventRow,
    ShipmentRow,
    require_batch,
)

#: Why a holder writes packs off: it can no longer account for them, for one of these reasons.
WRITE_OFF_REASONS = frozenset({"lost", "damaged-in-transit", "theft-unknown"})


def receive_remainder(
    ledger: Ledger,
    *,
    party: GLN,
    sender: GLN,
    shipment_id: str,
    quantity: int,
    serials: Sequence[Serial],
) -> None:
    """The recipient of a short shipment receives (some of) what was still in transit."""
    shipment = SHIPMENT.get(ledger, (sender, shipment_id))
    if shipment is None:
        raise Conflict(f"no shipment {shipment_id} from {sender}", shipment=shipment_id)
    if shipment["recipient"] != party:
        raise WrongRole(f"shipment {shipment_id} is addressed to {shipment['recipient']}")
    if shipment["status"] == "in_transit":
        raise Conflict(f"shipment {shipment_id} was not received yet: use custody.receive")
    if shipment["status"] != "partial":
        raise Conflict(f"shipment {shipment_id} was received in full")
    outstanding = shipment["quantity"] - shipment["received"]
    shipped = json.loads(shipment["serials"])
    if shipped:
        if not serials:
            raise BadStatement("the shipment is serialised: name the serials received")
        first = _first_receipt(ledger, shipment)
        missing = set(shipped) - set(json.loads(first["serials"]))
        # A missing pack received late has a holder again; one still in transit has none.
        for serial in serials:
            pack = PACK.get(ledger, (shipment["gtin"], serial))
            if serial not in missing or pack is None or pack["holder"] is not None:
                raise Conflict(
                    f"serial {serial} is not in transit in shipment {shipment_id}", serial=serial
                )
        count = len(serials)
    else:
        if serials:
            raise BadStatement("the shipment has no serials; give a quantity")
        if quantity <= 0:
            raise BadStatement("body.quantity must be a positive integer")
        count = quantity
    if count > outstanding:
        raise Conflict(
            f"{outstanding} of shipment {shipment_id} are in transit; cannot receive {count}",
            in_transit=outstanding,
            requested=count,
        )
    gtin, lot = shipment["gtin"], shipment["lot"]
    give_to_holding(ledger, gtin=gtin, lot=lot, gln=party, count=count, serials=serials)
    left = outstanding - count
    # received_index stays the first receipt's: the entry whose alert reported the shortfall.
    shipment.update({"received": shipment["received"] + count})
    if not left:
        shipment["status"] = "received"
    SHIPMENT.touch(ledger, shipment)
    detail = f"shipment {shipment_id} remainder; " + (f"{left} still short" if left else "complete")
    _update_short_alert(ledger, shipment, party, count, left)
    custody.event(
        ledger,
        gtin=gtin,
        lot=lot,
        action="receive-remainder",
        party=party,
        counterparty=sender,
        quantity=count,
        serials=serials,
        detail=detail,
    )


def _about(detail: str, shipment: ShipmentRow) -> bool:
    """Whether a receipt's event or alert detail is about this shipment ("shipment X[; ...]")."""
    named = f"shipment {shipment['shipment_id']}"
    return detail == named or detail.startswith(named + ";")


def _first_receipt(ledger: Ledger, shipment: ShipmentRow) -> CustodyEventRow:
    """The receive row of the shipment's first receipt: one entry (an EPCIS document) may
    receive several shipments, so its rows are searched, numbered from 0."""
    idx = shipment["received_index"]
    assert idx is not None  # a partial shipment was received
    seq = 0
    while (row := CUSTODY_EVENT.get(ledger, (idx, seq))) is not None:
        receipt = row["action"] == "receive" and row["counterparty"] == shipment["sender"]
        if receipt and _about(row["detail"], shipment):
            return row
        seq += 1
    raise AssertionError(f"entry {idx} has no receipt of shipment {shipment['shipment_id']}")


def _short_alert(ledger: Ledger, shipment: ShipmentRow) -> AlertRow | None:
    """The receipt-discrepancy alert the first receipt raised about this shipment."""
    idx = shipment["received_index"]
    assert idx is not None  # a partial shipment was received
    seq = 0
    while (alert := ALERT.get(ledger, (idx, seq))) is not None:
        if alert["kind"] == "receipt-discrepancy" and _about(alert["detail"], shipment):
            return alert
        seq += 1
    return None


def _update_short_alert(
    ledger: Ledger, shipment: ShipmentRow, party: GLN, got: int, left: int
) -> None:
    """The shortfall alert the first receipt raised: resolved once nothing is short, otherwise
    its detail says what arrived late. A resolution someone already gave stands."""
    alert = _short_alert(ledger, shipment)
    if alert is None or alert["resolved_index"] is not None:
        return
    alert["detail"] += f"; {got} received late at entry {ledger.index}, {left} still short"
    if not left:
        alert.update(
            {
                "resolved_index": ledger.index,
                "resolved_by": party,
                "resolution": "the rest of the shipment was received",
            }
        )
    ALERT.touch(ledger, alert)


def recall_return(
    ledger: Ledger,
    view: IdentityView,
    *,
    party: GLN,
    shipment_id: str,
    gtin: GTIN,
    lot: Lot,
    to: GLN,
    quantity: int,
    serials: Sequence[Serial],
) -> None:
    """A holder sends packs of a recalled batch back to its manufacturer, who receives them
    with custody.receive and may then destroy them; nothing else moves a recalled batch."""
    batch = require_batch(ledger, gtin, lot)
    if batch["status"] != "recalled":
        raise Conflict(f"batch {gtin}/{lot} is not recalled: a recall return needs batch.recall")
    if to != batch["manufacturer"]:
        raise BadStatement(
            f"body.to must be the batch's manufacturer {batch['manufacturer']}: recalled packs "
            "go back to it"
        )
    shipments.ship(
        ledger,
        view,
        party=party,
        shipment_id=shipment_id,
        gtin=gtin,
        lot=lot,
        to=to,
        quantity=quantity,
        serials=serials,
        action="recall-return",
    )


def write_off(
    ledger: Ledger,
    *,
    party: GLN,
    gtin: GTIN,
    lot: Lot,
    quantity: int,
    serials: Sequence[Serial],
    reason: str,
    note: str | None,
) -> None:
    """Packs a holder can no longer account for leave its holding for the written-off count
    (custody events with action "write-off"); named serials take the state "written-off"."""
    if reason not in WRITE_OFF_REASONS:
        raise BadStatement(f"body.reason must be one of {sorted(WRITE_OFF_REASONS)}")
    batch = require_batch(ledger, gtin, lot)
    count = check_quantity_form(batch, quantity, serials)
    detail = reason + (f": {note}" if note else "")
    leave_the_chain(
        ledger, batch, party=party, count=count, serials=serials, action="write-off", detail=detail
    )
