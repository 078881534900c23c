"""Supply-chain operations on a ledger: register, commission, dispense, destroy, recall (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from provenance.gs1 import keys as gs1
from provenance.gs1.keys import GLN, GTIN, Lot, Serial
from provenance.log.errors import BadStatement, Conflict, WrongRole
from provenance.log.ledger import Ledger
from provenance.log.statements import parse_timestamp
from provenance.supply import custody, verdict
from provenance.supply.custody import check_quantity_form, give_to_holding, take_from_holding
from provenance.supply.rows import BATCH, PACK, PRODUCT, BatchRow, require_batch

SUPPLY_ROLES = frozenset({"manufacturer", "wholesaler", "pharmacy"})
#: Packs leaving the chain: the EU FMD state they take, and the batch counter they add to.
#: How packs leave the chain: the state a named serial takes, and the batch's counter of them
#: (written-off packs have none: they are counted from their custody events; a written-off pack
#: is not a stolen one, which keeps its own state and stays held).
_LEAVING: dict[str, tuple[str, Literal["dispensed", "destroyed"] | None]] = {
    "dispense": ("supplied", "dispensed"),
    "destroy": ("destroyed", "destroyed"),
    "write-off": ("written-off", None),
}


def register_product(
    ledger: Ledger,
    *,
    party: GLN,
    gtin: GTIN,
    name: str,
    ndc: str | None,
    form: str,
    strength: str,
) -> None:
    if PRODUCT.get(ledger, (gtin,)) is not None:
        raise Conflict(f"product {gtin} is already registered", gtin=gtin)
    if ndc is not None and gs1.ndc_to_gtin(ndc) != gtin:
        raise BadStatement(f"NDC {ndc} does not correspond to GTIN {gtin}")
    PRODUCT.put(
        ledger,
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
    party: GLN,
    gtin: GTIN,
    lot: Lot,
    expiry: str,
    quantity: int,
    serials: Sequence[Serial],
) -> None:
    """Only the product's manufacturer commissions its batches; serials are unique per GTIN."""
    product = PRODUCT.get(ledger, (gtin,))
    if product is None:
        raise Conflict(f"product {gtin} is not registered", gtin=gtin)
    if product["manufacturer"] != party:
        raise WrongRole(f"only the product's manufacturer {product['manufacturer']} commissions it")
    if BATCH.get(ledger, (gtin, lot)) is not None:
        raise Conflict(f"batch {gtin}/{lot} is already commissioned", gtin=gtin, lot=lot)
    if serials and quantity and quantity != len(serials):
        raise BadStatement("body.quantity differs from the number of serials")
    count = len(serials) or quantity
    batch = BATCH.put(
        ledger,
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
        if PACK.get(ledger, (gtin, serial)) is not None:
            raise Conflict(f"serial {serial} of GTIN {gtin} already exists", serial=serial)
        PACK.put(
            ledger,
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
    give_to_holding(ledger, gtin=gtin, lot=lot, gln=party, count=batch["quantity"], serials=())
    custody.event(
        ledger,
        gtin=gtin,
        lot=lot,
        action="commission",
        party=party,
        quantity=count,
        detail=f"expiry {expiry}",
    )


def dispense(
    ledger: Ledger,
    *,
    party: GLN,
    gtin: GTIN,
    lot: Lot,
    quantity: int,
    serials: Sequence[Serial],
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
    packs = (PACK.get(ledger, (gtin, serial)) for serial in serials)
    supplied = [pack for pack in packs if pack is not None and pack["state"] == "supplied"]
    if supplied:
        for pack in supplied:
            custody.alert(
                ledger,
                kind="duplicate-serial",
                gtin=gtin,
                lot=lot,
                serial=pack["serial"],
                party=party,
                detail=f"pack {pack['serial']} dispensed again; first dispensed by "
                f"{pack['state_by']} at {pack['state_at']}",
            )
        return
    leave_the_chain(ledger, batch, party=party, count=count, serials=serials, action="dispense")


def destroy(
    ledger: Ledger,
    *,
    party: GLN,
    gtin: GTIN,
    lot: Lot,
    quantity: int,
    serials: Sequence[Serial],
    reason: str,
) -> None:
    batch = require_batch(ledger, gtin, lot)
    count = check_quantity_form(batch, quantity, serials)
    leave_the_chain(
        ledger, batch, party=party, count=count, serials=serials, action="destroy", detail=reason
    )


def leave_the_chain(
    ledger: Ledger,
    batch: BatchRow,
    *,
    party: GLN,
    count: int,
    serials: Sequence[Serial],
    action: Literal["dispense", "destroy", "write-off"],
    detail: str = "",
) -> None:
    """Packs dispensed, destroyed or written off: out of the holder's custody for good, counted
    on the batch (or, written off, by their custody events)."""
    leaves_as, counter = _LEAVING[action]
    take_from_holding(
        ledger,
        batch=batch,
        gln=party,
        count=count,
        serials=serials,
        what=action.replace("-", " "),  # "write off", as the message says it
        leaves_as=leaves_as,
    )
    if counter is not None:
        batch[counter] += count
        BATCH.touch(ledger, batch)
    custody.event(
        ledger,
        gtin=batch["gtin"],
        lot=batch["lot"],
        action=action,
        party=party,
        quantity=count,
        serials=serials,
        detail=detail,
    )


def recall(
    ledger: Ledger, *, party: GLN, roles: Sequence[str], gtin: GTIN, lot: Lot, reason: str
) -> None:
    """Batch-wide; by the batch's manufacturer or a regulator."""
    batch = require_batch(ledger, gtin, lot)
    if batch["manufacturer"] != party and "regulator" not in roles:
        raise WrongRole("a recall is issued by the batch's manufacturer or a regulator")
    if batch["status"] == "recalled":
        raise Conflict(f"batch {gtin}/{lot} is already recalled")
    batch.update({"status": "recalled", "recall_reason": reason, "recall_index": ledger.index})
    BATCH.touch(ledger, batch)
    custody.event(ledger, gtin=gtin, lot=lot, action="recall", party=party, detail=reason)
