"""SQLModel tables of the supply-chain projection: prefixes, products, batches, custody, EPCIS."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from provenance.log.store.columns import bigint, string, text

#: The supply chain's schema.
METADATA = MetaData()

#: Projection tables and their primary keys, in the order a rebuild empties and compares them;
#: each row is keyed by its primary key only, so `PutRow` is an upsert.
KEYS: dict[str, tuple[str, ...]] = {
    "company_prefix": ("prefix",),
    "company_prefix_stem": ("stem",),
    "product": ("gtin",),
    "batch": ("gtin", "lot"),
    "holding": ("gtin", "lot", "gln"),
    "shipment": ("sender", "shipment_id"),
    "pack": ("gtin", "serial"),
    "custody_event": ("idx", "seq"),
    "alert": ("idx", "seq"),
    "epcis_event": ("hash_id",),
    "epcis_epc": ("hash_id", "field", "epc"),
    "capture_job": ("idx",),
}


class SupplyTable(SQLModel, registry=registry(metadata=METADATA)):
    """Base of the supply chain's tables."""


class CompanyPrefix(SupplyTable, table=True):
    """A GS1 company prefix the registry authority assigned to a manufacturer."""

    __tablename__ = "company_prefix"
    prefix: str = Field(sa_column=string(12, primary_key=True))
    gln: str = Field(sa_column=string(13, nullable=False))
    assigned_index: int = Field(sa_column=bigint(nullable=False))
    assigned_at: str = Field(sa_column=string(24, nullable=False))


class CompanyPrefixStem(SupplyTable, table=True):
    """A leading part (4 digits or more) of a longer assigned prefix, naming the first prefix
    assigned under it: how an assignment finds a longer prefix it would cover by key alone."""

    __tablename__ = "company_prefix_stem"
    stem: str = Field(sa_column=string(11, primary_key=True))
    prefix: str = Field(sa_column=string(12, nullable=False))


class Product(SupplyTable, table=True):
    __tablename__ = "product"
    gtin: str = Field(sa_column=string(14, primary_key=True))
    manufacturer: str = Field(sa_column=string(13, nullable=False))
    name: str = Field(sa_column=string(200, nullable=False))
    ndc: str | None = Field(default=None, sa_column=string(10))
    form: str = Field(sa_column=string(100, nullable=False))
    strength: str = Field(sa_column=string(100, nullable=False))
    registered_index: int = Field(sa_column=bigint(nullable=False))


class Batch(SupplyTable, table=True):
    __tablename__ = "batch"
    # The front page and /api/v1/batches list the newest first: read in index order, not sorted.
    __table_args__ = (Index("batch_newest", "commissioned_index", "gtin", "lot"),)
    gtin: str = Field(sa_column=string(14, primary_key=True))
    lot: str = Field(sa_column=string(20, primary_key=True))
    manufacturer: str = Field(sa_column=string(13, nullable=False))
    expiry: str = Field(sa_column=string(6, nullable=False))  # YYMMDD as printed on the pack
    quantity: int = Field(sa_column=bigint(nullable=False))  # commissioned
    serialised: int = Field(sa_column=Column(Integer, nullable=False))
    dispensed: int = Field(sa_column=bigint(nullable=False))
    destroyed: int = Field(sa_column=bigint(nullable=False))
    status: str = Field(sa_column=string(16, nullable=False))  # active | recalled
    recall_reason: str | None = Field(default=None, sa_column=text())
    recall_index: int | None = Field(default=None, sa_column=bigint())
    commissioned_index: int = Field(sa_column=bigint(nullable=False))
    commissioned_at: str = Field(sa_column=string(24, nullable=False))


class Holding(SupplyTable, table=True):
    """Packs of a batch in a party's custody; a row stays (at 0) once a party has held any."""

    __tablename__ = "holding"
    gtin: str = Field(sa_column=string(14, primary_key=True))
    lot: str = Field(sa_column=string(20, primary_key=True))
    gln: str = Field(sa_column=string(13, primary_key=True))
    quantity: int = Field(sa_column=bigint(nullable=False))
    first_index: int = Field(sa_column=bigint(nullable=False))


class Shipment(SupplyTable, table=True):
    __tablename__ = "shipment"
    __table_args__ = (Index("shipment_batch", "gtin", "lot"),)
    sender: str = Field(sa_column=string(13, primary_key=True))
    shipment_id: str = Field(sa_column=string(80, primary_key=True))
    gtin: str = Field(sa_column=string(14, nullable=False))
    lot: str = Field(sa_column=string(20, nullable=False))
    recipient: str = Field(sa_column=string(13, nullable=False))
    quantity: int = Field(sa_column=bigint(nullable=False))
    received: int = Field(sa_column=bigint(nullable=False))
    serials: str = Field(sa_column=text(nullable=False))  # JSON list; [] if unserialised
    status: str = Field(sa_column=string(16, nullable=False))  # in_transit | received | partial
    po: str | None = Field(default=None, sa_column=string(80))
    despatch: str | None = Field(default=None, sa_column=string(80))
    shipped_index: int = Field(sa_column=bigint(nullable=False))
    shipped_at: str = Field(sa_column=string(24, nullable=False))
    received_index: int | None = Field(default=None, sa_column=bigint())
    received_at: str | None = Field(default=None, sa_column=string(24))


class Pack(SupplyTable, table=True):
    """One serialised pack and its EU FMD state."""

    __tablename__ = "pack"
    __table_args__ = (Index("pack_batch", "gtin", "lot"),)
    gtin: str = Field(sa_column=string(14, primary_key=True))
    serial: str = Field(sa_column=string(20, primary_key=True))
    lot: str = Field(sa_column=string(20, nullable=False))
    holder: str | None = Field(default=None, sa_column=string(13))  # None while in transit
    state: str = Field(sa_column=string(16, nullable=False))
    state_by: str = Field(sa_column=string(13, nullable=False))
    state_index: int = Field(sa_column=bigint(nullable=False))
    state_at: str = Field(sa_column=string(24, nullable=False))
    undo_state: str | None = Field(default=None, sa_column=string(16))  # what an undo restores


class CustodyEvent(SupplyTable, table=True):
    """The timeline of a batch: one row per change a statement made to it."""

    __tablename__ = "custody_event"
    __table_args__ = (Index("custody_event_batch", "gtin", "lot", "idx"),)
    idx: int = Field(sa_column=bigint(primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    gtin: str = Field(sa_column=string(14, nullable=False))
    lot: str = Field(sa_column=string(20, nullable=False))
    action: str = Field(sa_column=string(32, nullable=False))
    party: str = Field(sa_column=string(13, nullable=False))
    counterparty: str | None = Field(default=None, sa_column=string(13))
    quantity: int = Field(sa_column=bigint(nullable=False))
    serials: str = Field(sa_column=text(nullable=False))  # JSON list
    detail: str = Field(sa_column=text(nullable=False))
    at: str = Field(sa_column=string(24, nullable=False))
    key_id: str = Field(sa_column=string(64, nullable=False))


class Alert(SupplyTable, table=True):
    __tablename__ = "alert"
    __table_args__ = (
        Index("alert_batch", "gtin", "lot"),
        Index("alert_pack", "gtin", "serial"),
        # Open alerts are counted on every front page: anywhere, or at one party.
        Index("alert_open", "resolved_index", "party"),
    )
    idx: int = Field(sa_column=bigint(primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    kind: str = Field(sa_column=string(32, nullable=False))
    gtin: str = Field(sa_column=string(14, nullable=False))
    lot: str | None = Field(default=None, sa_column=string(20))
    serial: str | None = Field(default=None, sa_column=string(20))
    party: str = Field(sa_column=string(13, nullable=False))  # where it was raised
    detail: str = Field(sa_column=text(nullable=False))
    raised_at: str = Field(sa_column=string(24, nullable=False))
    resolved_index: int | None = Field(default=None, sa_column=bigint())
    resolved_by: str | None = Field(default=None, sa_column=string(13))
    resolution: str | None = Field(default=None, sa_column=text())


class EpcisEvent(SupplyTable, table=True):
    __tablename__ = "epcis_event"
    __table_args__ = (
        Index("epcis_event_batch", "gtin", "lot"),
        Index("epcis_event_time", "event_time"),
        Index("epcis_event_entry", "idx"),
    )
    hash_id: str = Field(sa_column=string(120, primary_key=True))
    idx: int = Field(sa_column=bigint(nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    event_type: str = Field(sa_column=string(32, nullable=False))
    biz_step: str | None = Field(default=None, sa_column=string(200))
    event_time: str = Field(sa_column=string(24, nullable=False))
    gtin: str | None = Field(default=None, sa_column=string(14))
    lot: str | None = Field(default=None, sa_column=string(20))
    epcs: str = Field(sa_column=text(nullable=False))  # space-separated; queries use epcis_epc
    event: str = Field(sa_column=text(nullable=False))  # the event JSON as captured


class EpcisEpc(SupplyTable, table=True):
    """Each EPC and EPC class an EPCIS event names, by field, in its indexed form (canonical
    Digital Link where it has one): how an EPC query finds its events by key."""

    __tablename__ = "epcis_epc"
    __table_args__ = (Index("epcis_epc_by_epc", "epc", "field"),)
    hash_id: str = Field(sa_column=string(120, primary_key=True))
    field: str = Field(sa_column=string(24, primary_key=True))  # epcList, parentID, …
    epc: str = Field(sa_column=string(512, primary_key=True))


class CaptureJob(SupplyTable, table=True):
    """An EPCIS capture (REST binding capture job) by the party that signed it: how a party's
    jobs are listed by key, without walking the log."""

    __tablename__ = "capture_job"
    __table_args__ = (Index("capture_job_party", "gln", "idx"),)
    idx: int = Field(sa_column=bigint(primary_key=True, autoincrement=False))
    gln: str = Field(sa_column=string(13, nullable=False))
    logged_at: str = Field(sa_column=string(24, nullable=False))


#: Service state, not projection: a rebuild neither empties nor compares them, so not in KEYS.
SERVICE_TABLES = ("epcis_named_query", "epcis_subscription")


class EpcisNamedQuery(SupplyTable, table=True):
    """A party's named EPCIS query (REST binding `/queries`): SimpleEventQuery parameters."""

    __tablename__ = "epcis_named_query"
    owner: str = Field(sa_column=string(13, primary_key=True))  # the party's GLN
    name: str = Field(sa_column=string(64, primary_key=True))
    query: str = Field(sa_column=text(nullable=False))  # the parameters, canonical JSON
    created_at: str = Field(sa_column=string(24, nullable=False))


class EpcisSubscription(SupplyTable, table=True):
    """A webhook subscription to a named query, and how far its deliveries have got."""

    __tablename__ = "epcis_subscription"
    __table_args__ = (Index("epcis_subscription_query", "owner", "query_name"),)
    subscription_id: str = Field(sa_column=string(36, primary_key=True))
    owner: str = Field(sa_column=string(13, nullable=False))
    query_name: str = Field(sa_column=string(64, nullable=False))
    dest: str = Field(sa_column=string(2048, nullable=False))
    signature_token: str | None = Field(default=None, sa_column=string(256))
    schedule: str | None = Field(default=None, sa_column=text())  # JSON; None: a stream
    report_if_empty: int = Field(sa_column=Column(Integer, nullable=False))
    initial_record_time: str | None = Field(default=None, sa_column=string(24))
    created_at: str = Field(sa_column=string(24, nullable=False))
    # Delivered through this event (entry index, position in the entry's document).
    delivered_index: int = Field(sa_column=bigint(nullable=False))
    delivered_position: int = Field(sa_column=bigint(nullable=False))
    last_notified_at: str | None = Field(default=None, sa_column=string(24))
    due_at: str = Field(sa_column=string(24, nullable=False))
    failures: int = Field(sa_column=Column(Integer, nullable=False))
    last_error: str | None = Field(default=None, sa_column=text())
