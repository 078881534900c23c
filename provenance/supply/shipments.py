"""Shipments between parties on a ledger: ship or return packs, receive them (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from provenance.gs1.keys import GLN, GTIN, Lot, Serial
from provenance.log.errors import BadStatement, Conflict
from provenance.log.identity import IdentityView
from provenance.log.ledger import Ledger
from provenance.supply import custody
from provenance.supply.custody import check_quantity_form, give_to_holding, take_from_holding
from provenance.supply.operations import SUPPLY_ROLES
from provenance.supply.rows import SHIPMENT, require_batch


def ship(
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
    po: str | None = None,
    despatch: str | None = None,
    action: str = "ship",
) -> None:
    recipient = view.party(to)
    if recipient is None:
        raise Conflict(f"recipient {to} is not a registered party", to=to)
    if to == party:
        raise BadStatement("a party cannot ship to itself")
    if action == "return" and "wholesaler" not in recipient.roles:
        raise BadStatement("a saleable return goes to a wholesaler")
    if not SUPPLY_ROLES & set(recipient.roles):
        raise BadStatement(f"recipient {to} is not a manufacturer, wholesaler or pharmacy")
    if SHIPMENT.get(ledger, (party, shipment_id)) is not None:
        raise Conflict(f"shipment {shipment_id} of {party} already exists")
    batch = require_batch(ledger, gtin, lot)
    # A recall return (custody_exceptions.recall_return) is the exit for recalled stock.
    if batch["status"] == "recalled" and action not in ("return", "recall-return"):
        raise Conflict(f"batch {gtin}/{lot} is recalled and cannot be shipped")
    count = check_quantity_form(batch, quantity, serials)
    take_from_holding(ledger, batch=batch, gln=party, count=count, serials=serials, what=action)
    SHIPMENT.put(
        ledger,
        {
            "sender": party,
            "shipment_id": shipment_id,
            "gtin": gtin,
            "lot": lot,
            "recipient": to,
            "quantity": count,
            "received": 0,
            "serials": json.dumps(list(serials)),
            "status": "in_transit",
            "po": po,
            "despatch": despatch,
            "shipped_index": ledger.index,
            "shipped_at": ledger.logged_at,
            "received_index": None,
            "received_at": None,
        },
    )
    refs = ", ".join(f"{k} {v}" for k, v in (("PO", po), ("despatch", despatch)) if v)
    detail = f"shipment {shipment_id}" + (f" ({refs})" if refs else "")
    custody.event(
        ledger,
        gtin=gtin,
        lot=lot,
        action=action,
        party=party,
        counterparty=to,
        quantity=count,
        serials=serials,
        detail=detail,
    )


def receive(
    ledger: Ledger,
    *,
    party: GLN,
    sender: GLN,
    shipment_id: str,
    quantity: int,
    serials: Sequence[Serial],
) -> None:
    """Custody moves on receipt; a short receipt leaves the rest in transit and raises an alert."""
    shipment = SHIPMENT.get(ledger, (sender, shipment_id))
    if shipment is None:
        raise Conflict(f"no shipment {shipment_id} from {sender}", shipment=shipment_id)
    if shipment["recipient"] != party:
        raise Conflict(f"shipment {shipment_id} is addressed to {shipment['recipient']}")
    if shipment["status"] != "in_transit":
        raise Conflict(f"shipment {shipment_id} was already received ({shipment['status']})")
    shipped = json.loads(shipment["serials"])
    if shipped:
        if not serials:
            raise BadStatement("the shipment is serialised: name the serials received")
        unknown = sorted(set(serials) - set(shipped))
        if unknown:
            raise Conflict("serials not in this shipment", serials=unknown)
        count = len(serials)
    else:
        if serials:
            raise BadStatement("the shipment has no serials; give a quantity")
        count = quantity
        if count > shipment["quantity"]:
            raise Conflict(f"received {count} of a shipment of {shipment['quantity']}")
    gtin, lot = shipment["gtin"], shipment["lot"]
    give_to_holding(ledger, gtin=gtin, lot=lot, gln=party, count=count, serials=serials)
    short = shipment["quantity"] - count
    shipment.update(
        {
            "received": count,
            "status": "partial" if short else "received",
            "received_index": ledger.index,
            "received_at": ledger.logged_at,
        }
    )
    SHIPMENT.touch(ledger, shipment)
    detail = f"shipment {shipment_id}"
    if short:
        missing = sorted(set(shipped) - set(serials))
        detail += f"; {short} short" + (f": {', '.join(missing)}" if missing else "")
        custody.alert(
            ledger, kind="receipt-discrepancy", gtin=gtin, lot=lot, party=party, detail=detail
        )
    custody.event(
        ledger,
        gtin=gtin,
        lot=lot,
        action="receive",
        party=party,
        counterparty=sender,
        quantity=count,
        serials=serials,
        detail=detail,
    )
