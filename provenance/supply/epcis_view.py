"""Custody as EPCIS 2.0: the ObjectEvent each native custody change implies, in CBV 2.0 terms."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from provenance.epcis.document import parse_epcis_document
from provenance.epcis.epc_index import event_epcs
from provenance.epcis.query import CONTEXT
from provenance.epcis.vocab import URI
from provenance.gs1.keys import GTIN, Lot, digital_link_uri, parse_expiry, percent_encode
from provenance.log.ledger import PutRow, RowView
from provenance.log.statements import parse_timestamp
from provenance.supply.rows import (
    BATCH,
    CUSTODY_EVENT,
    EPCIS_EPC,
    EPCIS_EVENT,
    PACK,
    SHIPMENT,
    BatchRow,
    CustodyEventRow,
    EpcisEpcRow,
    EpcisEventRow,
    ShipmentRow,
)

#: A user extension member (an absolute IRI, as EPCIS 2.0 allows): the index of the signed log
#: entry the event was derived from. Being hashed, it also keeps the same change made by two
#: entries from sharing an Event Hash ID.
ENTRY_LINK = "tag:provenance.local,2026:entry"
#: Where canonical GS1 Digital Link URIs of packs, lots, locations and parties live.
GS1_ID = "https://id.gs1.org"


@dataclass(frozen=True)
class Step:
    """The CBV 2.0 terms of one custody action, and whether the packs stay at the party (then
    the party's location is the event's bizLocation too)."""

    action: str
    biz_step: str | None
    disposition: str
    stays: bool = False


#: Custody action (custody_event.action) → its EPCIS ObjectEvent. Scans are not custody
#: changes, and `exported` / `checked-out` have no CBV 2.0 term: they yield no event.
STEPS: dict[str, Step] = {
    "commission": Step("ADD", "commissioning", "active", stays=True),
    "ship": Step("OBSERVE", "shipping", "in_transit"),
    "return": Step("OBSERVE", "shipping", "returned"),
    "recall-return": Step("OBSERVE", "shipping", "recalled"),
    "receive": Step("OBSERVE", "receiving", "in_progress", stays=True),
    "receive-remainder": Step("OBSERVE", "receiving", "in_progress", stays=True),
    # A supplied pack still exists (its supply may be undone): OBSERVE, not DELETE.
    "dispense": Step("OBSERVE", "dispensing", "dispensed"),
    "destroy": Step("DELETE", "destroying", "destroyed"),
    "recall": Step("OBSERVE", "holding", "recalled"),
    # No CBV step names a write-off; packs nobody can account for are of unknown disposition.
    "write-off": Step("OBSERVE", None, "unknown"),
    "stolen": Step("OBSERVE", None, "stolen"),
    "locked": Step("OBSERVE", "holding", "non_sellable_other", stays=True),
    "sample": Step("OBSERVE", "sampling", "non_sellable_other", stays=True),
    "withdrawn": Step("OBSERVE", None, "non_sellable_other", stays=True),
}
#: An undone pack state (`undo supplied`, `undo locked`, …): the packs are active again.
UNDO = Step("OBSERVE", None, "active", stays=True)
#: A write-off for damage is `damaged`; lost and unexplained ones stay `unknown`.
WRITE_OFF_DAMAGED = "damaged-in-transit"
#: Parties named in sourceList / destinationList, for owning and possession alike.
PARTY_TYPES = ("owning_party", "possessing_party")


def step_of(action: str) -> Step | None:
    return UNDO if action.startswith("undo ") else STEPS.get(action)


def pack_epc(gtin: str, serial: str) -> str:
    """A pack's EPC: its canonical GS1 Digital Link URI (SGTIN)."""
    return digital_link_uri(GS1_ID, gtin, serial=serial)


def lot_class(gtin: str, lot: str) -> str:
    """A batch's EPC class: its canonical GS1 Digital Link URI (LGTIN)."""
    return digital_link_uri(GS1_ID, gtin, lot=lot)


def location(gln: str) -> str:
    """A party's location (SGLN without extension) as a GS1 Digital Link /414/ URI."""
    return f"{GS1_ID}/414/{gln}"


def party(gln: str) -> str:
    """A party (PGLN) as a GS1 Digital Link /417/ URI, as `capture.party_gln` reads it."""
    return f"{GS1_ID}/417/{gln}"


def transaction(value: str, issuer: str) -> str:
    """A business transaction id: a URI as given, otherwise CBV 2.0's private form
    `urn:epcglobal:cbv:bt:<issuer GLN>:<id>`."""
    if URI.match(value):
        return value
    return f"urn:epcglobal:cbv:bt:{issuer}:{percent_encode(value)}"


def custody_event(
    change: CustodyEventRow,
    *,
    batch: BatchRow | None = None,
    shipment: ShipmentRow | None = None,
    serials: Sequence[str] = (),
) -> dict[str, Any] | None:
    """The EPCIS 2.0 JSON-LD ObjectEvent a custody change implies (without eventID), or None.

    `batch` is the batch after the change (a commission's expiry; whether received packs are
    recalled), `shipment` the shipment a ship or receive moved (its PO and despatch advice),
    and `serials` the packs a commission created (its custody row counts them, naming none)."""
    step = _step(change, batch)
    if step is None:
        return None
    at, gln = change["at"], change["party"]
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": at,
        "recordTime": at,
        "eventTimeZoneOffset": "+00:00",
        **_what(change, serials),
        "action": step.action,
    }
    if step.biz_step is not None:
        event["bizStep"] = step.biz_step
    event["disposition"] = step.disposition
    event["readPoint"] = {"id": location(gln)}
    if step.stays:
        event["bizLocation"] = {"id": location(gln)}
    event.update(_shipment_members(change, shipment))
    if change["action"] == "commission" and batch is not None:
        expires = parse_expiry(batch["expiry"], today=parse_timestamp(at).date())
        event["ilmd"] = {
            "cbvmda:lotNumber": change["lot"],
            "cbvmda:itemExpirationDate": expires.isoformat(),
        }
    event[ENTRY_LINK] = change["idx"]
    return event


def _step(change: CustodyEventRow, batch: BatchRow | None) -> Step | None:
    action = change["action"]
    if action in ("receive", "receive-remainder") and batch and batch["status"] == "recalled":
        return Step("OBSERVE", "receiving", "recalled", stays=True)
    if action == "write-off" and change["detail"].startswith(WRITE_OFF_DAMAGED):
        return Step("OBSERVE", None, "damaged")
    return step_of(action)


def _what(change: CustodyEventRow, serials: Sequence[str]) -> dict[str, Any]:
    """The packs by EPC, else the lot's class with the count (a recall: the whole lot)."""
    gtin, lot = change["gtin"], change["lot"]
    if change["action"] == "recall":
        return {"quantityList": [{"epcClass": lot_class(gtin, lot)}]}
    named = serials or json.loads(change["serials"])
    if named:
        return {"epcList": [pack_epc(gtin, serial) for serial in named]}
    return {"quantityList": [{"epcClass": lot_class(gtin, lot), "quantity": change["quantity"]}]}


def _shipment_members(change: CustodyEventRow, shipment: ShipmentRow | None) -> dict[str, Any]:
    """A ship or receive's business transactions, source and destination parties."""
    sender, recipient = _parties(change)
    if sender is None or recipient is None:
        return {}
    members: dict[str, Any] = {}
    # A purchase order is the buyer's document, a despatch advice the sender's.
    refs = [
        {"bizTransaction": transaction(value, issuer), "type": kind}
        for kind, value, issuer in (
            ("po", shipment["po"] if shipment else None, recipient),
            ("desadv", shipment["despatch"] if shipment else None, sender),
        )
        if value
    ]
    if refs:
        members["bizTransactionList"] = refs
    # Members in sorted order, as answers serialise them: the Event Hash ID of a list element
    # follows its members' order, and must recompute from the answer.
    members["sourceList"] = [{"source": party(sender), "type": t} for t in PARTY_TYPES]
    members["destinationList"] = [{"destination": party(recipient), "type": t} for t in PARTY_TYPES]
    return members


def _parties(change: CustodyEventRow) -> tuple[str | None, str | None]:
    """(sender, recipient) of a shipment's custody change; (None, None) for other changes."""
    action, gln, other = change["action"], change["party"], change["counterparty"]
    if action in ("ship", "return", "recall-return"):
        return gln, other
    if action in ("receive", "receive-remainder"):
        return other, gln
    return None, None


def event_rows(
    event: Mapping[str, Any], *, idx: int, position: int, gtin: GTIN, lot: Lot
) -> tuple[EpcisEventRow, list[EpcisEpcRow]]:
    """The `epcis_event` row of a derived event (its eventID its Event Hash ID) and its
    `epcis_epc` rows, indexed as captured events are."""
    (parsed,) = parse_epcis_document({"@context": [CONTEXT], **event})
    stored = {"type": event["type"], "eventID": parsed.hash_id, **event}
    row: EpcisEventRow = {
        "hash_id": parsed.hash_id,
        "idx": idx,
        "position": position,
        "event_type": parsed.type,
        "biz_step": parsed.biz_step,
        "event_time": parsed.event_time,
        "gtin": gtin,
        "lot": lot,
        "epcs": " ".join(parsed.epcs),
        "event": json.dumps(stored, separators=(",", ":")),
    }
    epcs: list[EpcisEpcRow] = [
        {"hash_id": parsed.hash_id, "field": field, "epc": epc} for field, epc in event_epcs(parsed)
    ]
    return row, epcs


def derived_changes(changes: Sequence[object], view: RowView) -> list[PutRow]:
    """The EPCIS rows (events and their EPC index) the custody rows among an entry's changes
    imply; the entry's other rows, then the projection, supply the facts they need."""
    puts = {(c.table, c.key): c.values for c in changes if isinstance(c, PutRow)}
    out: list[PutRow] = []
    for (table, _key), values in puts.items():
        if table != CUSTODY_EVENT.name:
            continue
        change = cast(CustodyEventRow, values)
        event = custody_event(
            change,
            batch=_batch(change, puts, view),
            shipment=_shipment(change, puts),
            serials=_commissioned(change, puts),
        )
        if event is None:
            continue
        row, epcs = event_rows(
            event,
            idx=change["idx"],
            position=change["seq"],
            gtin=change["gtin"],
            lot=change["lot"],
        )
        out.append(PutRow(EPCIS_EVENT.name, (row["hash_id"],), dict(row)))
        out.extend(
            PutRow(EPCIS_EPC.name, (e["hash_id"], e["field"], e["epc"]), dict(e)) for e in epcs
        )
    return out


Puts = Mapping[tuple[str, tuple[Any, ...]], dict[str, Any]]


def _batch(change: CustodyEventRow, puts: Puts, view: RowView) -> BatchRow | None:
    if change["action"] not in ("commission", "receive", "receive-remainder"):
        return None
    key = (change["gtin"], change["lot"])
    found = puts.get((BATCH.name, key)) or view.row(BATCH.name, key)
    return cast(BatchRow | None, found)


def _shipment(change: CustodyEventRow, puts: Puts) -> ShipmentRow | None:
    """The shipment the change shipped or received: among the entry's own rows."""
    sender, recipient = _parties(change)
    if sender is None:
        return None
    for (table, _key), values in puts.items():
        if (
            table == SHIPMENT.name
            and values["sender"] == sender
            and values["recipient"] == recipient
            and values["gtin"] == change["gtin"]
            and values["lot"] == change["lot"]
        ):
            return cast(ShipmentRow, values)
    return None


def _commissioned(change: CustodyEventRow, puts: Puts) -> list[str]:
    """The serials a commission created, in the order it named them."""
    if change["action"] != "commission":
        return []
    gtin, lot = change["gtin"], change["lot"]
    return [
        values["serial"]
        for (table, _key), values in puts.items()
        if table == PACK.name and values["gtin"] == gtin and values["lot"] == lot
    ]
