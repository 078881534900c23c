"""Typed rows of the supply-chain projection, and the tables the rules read and write them in."""

from __future__ import annotations

from typing import TypedDict

from provenance.gs1.keys import GLN, GTIN, Lot, Serial
from provenance.log.errors import Conflict
from provenance.log.ledger import Ledger
from provenance.log.rows import Table

# Each row type mirrors its table in `tables.py` column for column.


class CompanyPrefixRow(TypedDict):
    prefix: str
    gln: GLN
    assigned_index: int
    assigned_at: str


class CompanyPrefixStemRow(TypedDict):
    stem: str
    prefix: str  # the first prefix assigned under this stem


class ProductRow(TypedDict):
    gtin: GTIN
    manufacturer: GLN
    name: str
    ndc: str | None
    form: str
    strength: str
    registered_index: int


class BatchRow(TypedDict):
    gtin: GTIN
    lot: Lot
    manufacturer: GLN
    expiry: str  # YYMMDD as printed on the pack
    quantity: int  # commissioned
    serialised: int
    dispensed: int
    destroyed: int
    status: str  # active | recalled
    recall_reason: str | None
    recall_index: int | None
    commissioned_index: int
    commissioned_at: str


class HoldingRow(TypedDict):
    gtin: GTIN
    lot: Lot
    gln: GLN
    quantity: int
    first_index: int


class ShipmentRow(TypedDict):
    sender: GLN
    shipment_id: str
    gtin: GTIN
    lot: Lot
    recipient: GLN
    quantity: int
    received: int
    serials: str  # JSON list; [] if unserialised
    status: str  # in_transit | received | partial
    po: str | None
    despatch: str | None
    shipped_index: int
    shipped_at: str
    received_index: int | None
    received_at: str | None


class PackRow(TypedDict):
    gtin: GTIN
    serial: Serial
    lot: Lot
    holder: GLN | None  # None while in transit
    state: str
    state_by: GLN
    state_index: int
    state_at: str
    undo_state: str | None  # what an undo restores


class CustodyEventRow(TypedDict):
    idx: int
    seq: int
    gtin: GTIN
    lot: Lot
    action: str
    party: GLN
    counterparty: GLN | None
    quantity: int
    serials: str  # JSON list
    detail: str
    at: str
    key_id: str


class AlertRow(TypedDict):
    idx: int
    seq: int
    kind: str
    gtin: GTIN
    lot: Lot | None
    serial: Serial | None
    party: GLN  # where it was raised
    detail: str
    raised_at: str
    resolved_index: int | None
    resolved_by: GLN | None
    resolution: str | None


class EpcisEventRow(TypedDict):
    hash_id: str
    idx: int
    position: int
    event_type: str
    biz_step: str | None
    event_time: str
    gtin: GTIN | None
    lot: Lot | None
    epcs: str  # space-separated; queries use epcis_epc
    event: str  # the event JSON as captured


class EpcisEpcRow(TypedDict):
    hash_id: str
    field: str  # epcList, childEPCs, parentID, inputEPCList, outputEPCList, …QuantityList
    epc: str  # canonical Digital Link where the EPC has one


class CaptureJobRow(TypedDict):
    idx: int
    gln: str  # the signing party
    logged_at: str


COMPANY_PREFIX: Table[CompanyPrefixRow, tuple[str]] = Table("company_prefix", CompanyPrefixRow)
COMPANY_PREFIX_STEM: Table[CompanyPrefixStemRow, tuple[str]] = Table(
    "company_prefix_stem", CompanyPrefixStemRow
)
PRODUCT: Table[ProductRow, tuple[GTIN]] = Table("product", ProductRow)
BATCH: Table[BatchRow, tuple[GTIN, Lot]] = Table("batch", BatchRow)
HOLDING: Table[HoldingRow, tuple[GTIN, Lot, GLN]] = Table("holding", HoldingRow)
SHIPMENT: Table[ShipmentRow, tuple[GLN, str]] = Table("shipment", ShipmentRow)
PACK: Table[PackRow, tuple[GTIN, Serial]] = Table("pack", PackRow)
CUSTODY_EVENT: Table[CustodyEventRow, tuple[int, int]] = Table("custody_event", CustodyEventRow)
ALERT: Table[AlertRow, tuple[int, int]] = Table("alert", AlertRow)
EPCIS_EVENT: Table[EpcisEventRow, tuple[str]] = Table("epcis_event", EpcisEventRow)
EPCIS_EPC: Table[EpcisEpcRow, tuple[str, str, str]] = Table("epcis_epc", EpcisEpcRow)
CAPTURE_JOB: Table[CaptureJobRow, tuple[int]] = Table("capture_job", CaptureJobRow)


def require_batch(ledger: Ledger, gtin: GTIN, lot: Lot) -> BatchRow:
    batch = BATCH.get(ledger, (gtin, lot))
    if batch is None:
        raise Conflict(f"batch {gtin}/{lot} is not commissioned in this log", gtin=gtin, lot=lot)
    return batch
