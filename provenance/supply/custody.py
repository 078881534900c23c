"""Custody of drug batches and packs: timeline rows, alerts, holdings, pack states (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import timedelta

from provenance.gs1.keys import GLN, GTIN, Lot, Serial
from provenance.log.errors import BadStatement, Conflict
from provenance.log.ledger import Ledger
from provenance.log.statements import parse_timestamp
from provenance.supply.rows import (
    ALERT,
    CUSTODY_EVENT,
    HOLDING,
    PACK,
    BatchRow,
    HoldingRow,
    PackRow,
)

#: EU FMD pack states a holder may set, and whether the same location may undo them.
SETTABLE_STATES = frozenset({"stolen", "locked", "sample", "exported", "checked-out", "withdrawn"})
UNDOABLE_STATES = frozenset({"supplied", "locked", "sample", "exported", "checked-out"})
UNDO_WINDOW = timedelta(days=10)


def event(
    ledger: Ledger,
    *,
    gtin: GTIN,
    lot: Lot,
    action: str,
    party: GLN,
    counterparty: GLN | None = None,
    quantity: int = 0,
    serials: Sequence[Serial] = (),
    detail: str = "",
) -> None:
    """One row of the batch's custody timeline, numbered within the entry."""
    seq = ledger.next_seq("custody_event")
    CUSTODY_EVENT.put(
        ledger,
        {
            "idx": ledger.index,
            "seq": seq,
            "gtin": gtin,
            "lot": lot,
            "action": action,
            "party": party,
            "counterparty": counterparty,
            "quantity": quantity,
            "serials": json.dumps(list(serials)) if serials else "[]",
            "detail": detail,
            "at": ledger.logged_at,
            "key_id": ledger.key_id,
        },
    )


def alert(
    ledger: Ledger,
    *,
    kind: str,
    gtin: GTIN,
    lot: Lot | None,
    serial: Serial | None = None,
    party: GLN,
    detail: str,
) -> str:
    """An alert raised by this entry; returns its id (entry index-seq)."""
    seq = ledger.next_seq("alert")
    ALERT.put(
        ledger,
        {
            "idx": ledger.index,
            "seq": seq,
            "kind": kind,
            "gtin": gtin,
            "lot": lot,
            "serial": serial,
            "party": party,
            "detail": detail,
            "raised_at": ledger.logged_at,
            "resolved_index": None,
            "resolved_by": None,
            "resolution": None,
        },
    )
    return f"{ledger.index}-{seq}"


# --- operations ---------------------------------------------------------------------------------


def holding(ledger: Ledger, gtin: GTIN, lot: Lot, gln: GLN) -> HoldingRow:
    row = HOLDING.get(ledger, (gtin, lot, gln))
    if row is None:
        row = {"gtin": gtin, "lot": lot, "gln": gln, "quantity": 0, "first_index": ledger.index}
    return row


def check_quantity_form(batch: BatchRow, quantity: int, serials: Sequence[Serial]) -> int:
    """Serialised batches move by serial, others by count; returns the number of packs."""
    if batch["serialised"]:
        if not serials:
            raise BadStatement(
                f"batch {batch['gtin']}/{batch['lot']} is serialised: name the serials"
            )
        if quantity and quantity != len(serials):
            raise BadStatement("body.quantity differs from the number of serials")
        return len(serials)
    if serials:
        raise BadStatement(f"batch {batch['gtin']}/{batch['lot']} has no serials; give a quantity")
    if quantity <= 0:
        raise BadStatement("body.quantity must be a positive integer")
    return quantity


def take_from_holding(
    ledger: Ledger,
    *,
    batch: BatchRow,
    gln: GLN,
    count: int,
    serials: Sequence[Serial],
    what: str,
    leaves_as: str | None = None,
) -> HoldingRow:
    """Remove `count` packs (these serials, if any) from a party's custody, or refuse (409).

    The named packs go in transit, or with `leaves_as` take that EU FMD state (supplied,
    destroyed); every pack is checked before any is changed."""
    gtin, lot = batch["gtin"], batch["lot"]
    row = holding(ledger, gtin, lot, gln)
    if row["quantity"] < count:
        raise Conflict(
            f"party {gln} holds {row['quantity']} of batch {gtin}/{lot} and cannot {what} {count}",
            held=row["quantity"],
            requested=count,
        )
    packs = []
    for serial in serials:
        pack = PACK.get(ledger, (gtin, serial))
        if pack is None or pack["lot"] != lot:
            raise Conflict(f"serial {serial} is not a pack of batch {gtin}/{lot}", serial=serial)
        if pack["holder"] != gln:
            raise Conflict(f"party {gln} does not hold pack {serial}", serial=serial)
        if pack["state"] != "active":
            raise Conflict(f"pack {serial} is {pack['state']}, not active", serial=serial)
        packs.append(pack)
    row["quantity"] -= count
    HOLDING.put(ledger, row)
    for pack in packs:
        if leaves_as is None:
            pack["holder"] = None  # in transit
            PACK.touch(ledger, pack)
        else:
            set_pack_state(ledger, pack, leaves_as, gln)
    return row


def give_to_holding(
    ledger: Ledger,
    *,
    gtin: GTIN,
    lot: Lot,
    gln: GLN,
    count: int,
    serials: Iterable[Serial],
) -> None:
    row = holding(ledger, gtin, lot, gln)
    row["quantity"] += count
    HOLDING.put(ledger, row)
    for serial in serials:
        pack = PACK.get(ledger, (gtin, serial))
        assert pack is not None  # serials were checked against the shipment
        pack["holder"] = gln
        PACK.touch(ledger, pack)


def set_pack_state(ledger: Ledger, pack: PackRow, state: str, by: GLN) -> None:
    pack.update(
        {
            "state": state,
            "state_by": by,
            "state_index": ledger.index,
            "state_at": ledger.logged_at,
            "undo_state": pack["state"] if state in UNDOABLE_STATES else None,
        }
    )
    PACK.touch(ledger, pack)


def undo_pack_state(ledger: Ledger, pack: PackRow, by: GLN) -> str:
    """EU FMD: an undo restores the prior state, by the same location within 10 days."""
    state = pack["state"]
    if state not in UNDOABLE_STATES or pack["undo_state"] is None:
        raise Conflict(f"pack {pack['serial']} is {state}; that state cannot be undone")
    if pack["state_by"] != by:
        raise Conflict(
            f"pack {pack['serial']} was set {state} by {pack['state_by']}; only that location "
            "may undo it"
        )
    since = parse_timestamp(ledger.logged_at) - parse_timestamp(pack["state_at"])
    if since > UNDO_WINDOW:
        raise Conflict(f"pack {pack['serial']} was set {state} more than 10 days ago")
    set_pack_state(ledger, pack, pack["undo_state"], by)
    pack["undo_state"] = None
    return str(state)


def conservation(batch: BatchRow, held: int, in_transit: int, written_off: int = 0) -> bool:
    """Commissioned = held + in transit + dispensed + destroyed + written off (the sum of the
    batch's custody.write-off events: a write-off adds no counter to the batch row)."""
    total = held + in_transit + batch["dispensed"] + batch["destroyed"] + written_off
    return bool(batch["quantity"] == total)
