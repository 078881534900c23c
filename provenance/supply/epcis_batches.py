"""What an EPCIS event names, by batch of this log: the packs it moves, and those it claims."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from provenance.epcis.document import EpcisEvent, epc_gtin_lot_serial
from provenance.epcis.errors import BadEpcis
from provenance.gs1.keys import GTIN, Lot, Serial
from provenance.log.errors import Conflict
from provenance.log.ledger import Ledger
from provenance.supply.prefixes import assignment_of
from provenance.supply.rows import BATCH, PACK, PRODUCT

Identified = tuple[GTIN, Lot | None, Serial | None]
#: What an event moves, by batch (GTIN, lot): (quantity, serials).
Groups = dict[tuple[GTIN, Lot], tuple[int, list[Serial]]]


@functools.lru_cache(maxsize=1 << 16)
def identify(epc: str) -> Identified | None:
    """EPC → (GTIN, lot, serial), parsed once for prefetching and grouping."""
    ident = epc_gtin_lot_serial(epc)
    if ident is None:
        return None
    gtin, lot, serial = ident
    return GTIN(gtin), None if lot is None else Lot(lot), None if serial is None else Serial(serial)


def batch_of(ledger: Ledger, ident: Identified | None, event_lot: str | None) -> Identified | None:
    """(GTIN, lot, serial) of an identified EPC; a serial's lot comes from the EPC, its pack, or
    the ilmd."""
    if ident is None:
        return None
    gtin, lot, serial = ident
    if lot is None and serial is not None:
        pack = PACK.get(ledger, (gtin, serial))
        if pack is not None:
            lot = pack["lot"]
        elif event_lot is not None:
            lot = Lot(event_lot)
    return gtin, lot, serial


def batches_named(
    ledger: Ledger, events: Sequence[tuple[EpcisEvent, Sequence[Identified | None]]]
) -> list[tuple[GTIN, Lot]]:
    """The batches (GTIN, lot) these events (each with its EPCs identified) may name: what
    `groups_of` would look up, for reading them all at once."""
    found: dict[tuple[GTIN, Lot], None] = {}
    for event, idents in events:
        for ident in idents:
            known = batch_of(ledger, ident, event.lot)
            if known is not None and known[1] is not None:
                found[(known[0], known[1])] = None
        for epc_class, _amount, _uom in event.quantities:
            ident = identify(epc_class)
            if ident is not None and ident[1] is not None:
                found[(ident[0], ident[1])] = None
    return list(found)


def groups_of(
    ledger: Ledger, event: EpcisEvent, idents: Sequence[Identified | None] | None = None
) -> tuple[Groups, list[str]]:
    """EPCs and quantities of the event, by batch (GTIN, lot) of this log: (quantity, serials);
    and the EPCs and EPC classes of packs this log never commissioned (no batch here).
    `idents`: the event's EPCs already identified, in order."""
    groups: Groups = {}
    unknown: list[str] = []
    commissioning = event.biz_step == "commissioning"
    if idents is None:
        idents = [identify(epc) for epc in event.epcs]
    for epc, ident in zip(event.epcs, idents, strict=True):
        found = batch_of(ledger, ident, event.lot)
        if found is None:
            continue
        gtin, lot, serial = found
        ours = commissioning and product_of_this_log(ledger, gtin)
        if lot is None and ours:
            raise BadEpcis("commissioning needs ilmd lotNumber", event=event.position)
        if lot is None or not (ours or BATCH.get(ledger, (gtin, lot))):
            unknown.append(epc)
            continue
        quantity, serials = groups.get((gtin, lot), (0, []))
        groups[(gtin, lot)] = (quantity, [*serials, serial] if serial else serials)
    for epc_class, amount, _uom in event.quantities:
        ident = identify(epc_class)
        if ident is None or ident[1] is None:
            continue
        ours = commissioning and product_of_this_log(ledger, ident[0])
        if not (ours or BATCH.get(ledger, (ident[0], ident[1]))):
            unknown.append(epc_class)  # a claim moves nothing: its amount may be unknown
            continue
        if amount is None:
            # custody cannot balance an unknown amount, though EPCIS may record one
            raise BadEpcis("a custody event needs each quantity", event=event.position)
        if amount != int(amount) or amount <= 0:
            raise BadEpcis("quantity must be a whole number of packs", event=event.position)
        quantity, serials = groups.get((ident[0], ident[1]), (0, []))
        groups[(ident[0], ident[1])] = (quantity + int(amount), serials)
    if unknown and groups:
        # Storing it as a claim would let a pack of this log move without its custody rules
        # (a stolen or recalled pack hidden among foreign ones); moving part of it would make
        # the event and the custody disagree.
        raise Conflict(
            f"the event names packs of this log and {unknown[0]}, which is not a pack "
            "commissioned in this log: send them in separate events",
            epc=unknown[0],
        )
    return groups, unknown


def product_of_this_log(ledger: Ledger, gtin: GTIN) -> bool:
    """Whether packs of `gtin` are commissioned here: it is registered here, or under a company
    prefix assigned here (whose holder must register it first). Others' commissioning is their
    claim about upstream packs."""
    return PRODUCT.get(ledger, (gtin,)) is not None or assignment_of(ledger, gtin) is not None
