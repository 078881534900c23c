"""Supply-chain operations on a ledger: commission, ship, receive, dispense, recall (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from provenance.gs1 import keys as gs1
from provenance.log.errors import BadStatement, Conflict, WrongRole
from provenance.log.identity import IdentityView
from provenance.log.ledger import Ledger
from provenance.log.statements import parse_timestamp
from provenance.supply import custody, verdict
from provenance.supply.custody import (
    check_quantity_form,
    give_to_holding,
    require_batch,
    take_from_holding,
)

SUPPLY_ROLES = frozenset({"manufacturer", "wholesaler", "pharmacy"})


def register_product(
    ledger: Ledger,
    *,
    party: str,
    gtin: str,
    name: str,
    ndc: str | None,
    form: str,
    strength: str,
) -> None:
    if ledger.get("product", gtin) is not None:
        raise Conflict(f"product {gtin} is already registered", gtin=gtin)
    if ndc is not None and gs1.ndc_to_gtin(ndc) != gtin:
        raise BadStatement(f"NDC {ndc} does not correspond to GTIN {gtin}")
    ledger.put(
        "product",
        {
            "gtin": gtin,
            "manufacturer": party,
            "name": name,
            "ndc": gs1.gtin_to_ndc(gtin) if ndc is not None else None,
            "form": form,
            "strength": strength,
            "registered_index": ledger.index,
        },
    )


def commission(
    ledger: Ledger,
    *,
    party: str,
    gtin: str,
    lot: str,
    expiry: str,
    quantity: int,
    serials: Sequence[str],
) -> None:
    """Only the product's manufacturer commissions its batches; serials are unique per GTIN."""
    product = ledger.get("product", gtin)
    if product is None:
        raise Conflict(f"product {gtin} is not registered", gtin=gtin)
    if product["manufacturer"] != party:
        raise WrongRole(f"only the product's manufacturer {product['manufacturer']} commissions it")
    if ledger.get("batch", gtin, lot) is not None:
        raise Conflict(f"batch {gtin}/{lot} is already commissioned", gtin=gtin, lot=lot)
    if serials and quantity and quantity != len(serials):
        raise BadStatement("body.quantity differs from the number of serials")
    count = len(serials) or quantity
    batch = ledger.put(
        "batch",
        {
            "gtin": gtin,
            "lot": lot,
            "manufacturer": party,
            "expiry": expiry,
            "quantity": count,
            "serialised": 1 if serials else 0,
            "dispensed": 0,
            "destroyed": 0,
            "status": "active",
            "recall_reason": None,
            "recall_index": None,
            "commissioned_index": ledger.index,
            "commissioned_at": ledger.logged_at,
        },
    )
    for serial in serials:
        if ledger.get("pack", gtin, serial) is not None:
            raise Conflict(f"serial {serial} of GTIN {gtin} already exists", serial=serial)
        ledger.put(
            "pack",
            {
                "gtin": gtin,
                "serial": serial,
                "lot": lot,
                "holder": party,
                "state": "active",
                "state_by": party,
                "state_index": ledger.index,
                "state_at": ledger.logged_at,
                "undo_state": None,
            },
        )
    give_to_holding(ledger, gtin, lot, party, batch["quantity"], ())
    custody.event(ledger, gtin, lot, "commission", party, quantity=count, detail=f"expiry {expiry}")


def ship(
    ledger: Ledger,
    view: IdentityView,
    *,
    party: str,
    shipment_id: str,
    gtin: str,
    lot: str,
    to: str,
    quantity: int,
    serials: Sequence[str],
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
    if ledger.get("shipment", party, shipment_id) is not None:
        raise Conflict(f"shipment {shipment_id} of {party} already exists")
    batch = require_batch(ledger, gtin, lot)
    if batch["status"] == "recalled" and action != "return":
        raise Conflict(f"batch {gtin}/{lot} is recalled and cannot be shipped")
    count = check_quantity_form(batch, quantity, serials)
    take_from_holding(ledger, batch, party, count, serials, action)
    ledger.put(
        "shipment",
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
        gtin,
        lot,
        action,
        party,
        counterparty=to,
        quantity=count,
        serials=serials,
        detail=detail,
    )


def receive(
    ledger: Ledger,
    *,
    party: str,
    sender: str,
    shipment_id: str,
    quantity: int,
    serials: Sequence[str],
) -> None:
    """Custody moves on receipt; a short receipt leaves the rest in transit and raises an alert."""
    shipment = ledger.get("shipment", sender, shipment_id)
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
    give_to_holding(ledger, gtin, lot, party, count, serials)
    short = shipment["quantity"] - count
    shipment.update(
        received=count,
        status="partial" if short else "received",
        received_index=ledger.index,
        received_at=ledger.logged_at,
    )
    ledger.touch("shipment", shipment)
    detail = f"shipment {shipment_id}"
    if short:
        missing = sorted(set(shipped) - set(serials))
        detail += f"; {short} short" + (f": {', '.join(missing)}" if missing else "")
        custody.alert(ledger, "receipt-discrepancy", gtin, lot, None, party, detail)
    custody.event(
        ledger,
        gtin,
        lot,
        "receive",
        party,
        counterparty=sender,
        quantity=count,
        serials=serials,
        detail=detail,
    )


def dispense(
    ledger: Ledger,
    *,
    party: str,
    gtin: str,
    lot: str,
    quantity: int,
    serials: Sequence[str],
    today: str,
) -> None:
    """Supply to a patient; a serial already supplied is logged as a duplicate-serial alert."""
    batch = require_batch(ledger, gtin, lot)
    if batch["status"] == "recalled":
        raise Conflict(f"batch {gtin}/{lot} is recalled: {batch['recall_reason']}")
    expires = verdict.expiry_date(batch["expiry"])
    if expires is not None and expires < parse_timestamp(today).date():
        raise Conflict(f"batch {gtin}/{lot} expired on {expires.isoformat()}")
    count = check_quantity_form(batch, quantity, serials)
    packs = (ledger.get("pack", gtin, serial) for serial in serials)
    supplied = [pack for pack in packs if pack is not None and pack["state"] == "supplied"]
    if supplied:
        for pack in supplied:
            custody.alert(
                ledger,
                "duplicate-serial",
                gtin,
                lot,
                pack["serial"],
                party,
                f"pack {pack['serial']} dispensed again; first dispensed by {pack['state_by']} "
                f"at {pack['state_at']}",
            )
        return
    take_from_holding(ledger, batch, party, count, serials, "dispense", leaves_as="supplied")
    batch["dispensed"] += count
    ledger.touch("batch", batch)
    custody.event(ledger, gtin, lot, "dispense", party, quantity=count, serials=serials)


def destroy(
    ledger: Ledger,
    *,
    party: str,
    gtin: str,
    lot: str,
    quantity: int,
    serials: Sequence[str],
    reason: str,
) -> None:
    batch = require_batch(ledger, gtin, lot)
    count = check_quantity_form(batch, quantity, serials)
    take_from_holding(ledger, batch, party, count, serials, "destroy", leaves_as="destroyed")
    batch["destroyed"] += count
    ledger.touch("batch", batch)
    custody.event(
        ledger, gtin, lot, "destroy", party, quantity=count, serials=serials, detail=reason
    )


def recall(
    ledger: Ledger, *, party: str, roles: Sequence[str], gtin: str, lot: str, reason: str
) -> None:
    """Batch-wide; by the batch's manufacturer or a regulator."""
    batch = require_batch(ledger, gtin, lot)
    if batch["manufacturer"] != party and "regulator" not in roles:
        raise WrongRole("a recall is issued by the batch's manufacturer or a regulator")
    if batch["status"] == "recalled":
        raise Conflict(f"batch {gtin}/{lot} is already recalled")
    batch.update(status="recalled", recall_reason=reason, recall_index=ledger.index)
    ledger.touch("batch", batch)
    custody.event(ledger, gtin, lot, "recall", party, detail=reason)
