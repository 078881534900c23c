"""Trial tables: the projection, the off-log payloads erasure may empty, who uploaded them."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from provenance.log.store.columns import bigint, string, text

#: The trials' schema.
METADATA = MetaData()

#: Projection tables (rebuilt from the log) and their keys.
TRIAL_KEYS: dict[str, tuple[str, ...]] = {
    "trial": ("trial_id",),
    "trial_site": ("trial_id", "site"),
    "trial_site_party": ("trial_id", "site"),
    "trial_party": ("trial_id", "gln"),
    "payload_trial": ("payload",),
    "protocol_version": ("trial_id", "version"),
    "dataset_version": ("trial_id", "dataset", "version"),
    "enrolment": ("trial_id", "subject"),
    "consent_record": ("idx", "seq"),
    "results_report": ("idx",),
    "trial_event": ("idx", "seq"),
    "erasure": ("payload",),
}
#: Off-log tables read like rows (payload bytes come from uploads, not from the log).
OFF_LOG_KEYS: dict[str, tuple[str, ...]] = {
    "trial_payload": ("commitment",),
    "trial_payload_summary": ("commitment",),
}


class TrialTable(SQLModel, registry=registry(metadata=METADATA)):
    """Base of the trials' tables."""


class Trial(TrialTable, table=True):
    __tablename__ = "trial"
    trial_id: str = Field(sa_column=string(40, primary_key=True))
    registry_name: str = Field(sa_column=string(16, nullable=False))
    sponsor: str = Field(sa_column=string(13, nullable=False))
    title: str = Field(sa_column=text(nullable=False))
    phase: str = Field(sa_column=string(8, nullable=False))
    planned_enrolment: int = Field(sa_column=bigint(nullable=False))
    primary_completion: str = Field(sa_column=string(10, nullable=False))
    registered_index: int = Field(sa_column=bigint(nullable=False))
    registered_at: str = Field(sa_column=string(24, nullable=False))
    locked: int = Field(sa_column=Column(Integer, nullable=False))


class TrialSite(TrialTable, table=True):
    __tablename__ = "trial_site"
    trial_id: str = Field(sa_column=string(40, primary_key=True))
    site: str = Field(sa_column=string(40, primary_key=True))
    name: str = Field(sa_column=text(nullable=False))
    activated: str | None = Field(default=None, sa_column=string(10))


class TrialSiteParty(TrialTable, table=True):
    """Rules 2: the registered party that acts for a site of a trial, and writes for it."""

    __tablename__ = "trial_site_party"
    trial_id: str = Field(sa_column=string(40, primary_key=True))
    site: str = Field(sa_column=string(40, primary_key=True))
    gln: str = Field(sa_column=string(13, nullable=False))


class TrialParty(TrialTable, table=True):
    """Rules 2: a party listed for one or more sites of a trial, so it may also write what
    names no site (datasets)."""

    __tablename__ = "trial_party"
    trial_id: str = Field(sa_column=string(40, primary_key=True))
    gln: str = Field(sa_column=string(13, primary_key=True))
    sites: int = Field(sa_column=Column(Integer, nullable=False))


class PayloadTrial(TrialTable, table=True):
    """Rules 2: the one trial whose protocol or dataset versions may name a payload, and whose
    sponsor alone may erase it."""

    __tablename__ = "payload_trial"
    payload: str = Field(sa_column=string(64, primary_key=True))
    trial_id: str = Field(sa_column=string(40, nullable=False))
    first_index: int = Field(sa_column=bigint(nullable=False))


class ProtocolVersion(TrialTable, table=True):
    __tablename__ = "protocol_version"
    trial_id: str = Field(sa_column=string(40, primary_key=True))
    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    document_sha256: str = Field(sa_column=string(64, nullable=False))
    payload: str = Field(sa_column=string(64, nullable=False))
    outcomes: str = Field(sa_column=text(nullable=False))  # JSON list
    reason: str | None = Field(default=None, sa_column=text())
    reconsent: int = Field(sa_column=Column(Integer, nullable=False))
    committed_index: int = Field(sa_column=bigint(nullable=False))
    committed_at: str = Field(sa_column=string(24, nullable=False))


class DatasetVersion(TrialTable, table=True):
    __tablename__ = "dataset_version"
    trial_id: str = Field(sa_column=string(40, primary_key=True))
    dataset: str = Field(sa_column=string(80, primary_key=True))
    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    domain: str = Field(sa_column=string(8, nullable=False))
    format: str = Field(sa_column=string(16, nullable=False))
    payload: str = Field(sa_column=string(64, nullable=False))
    content_commitment: str = Field(sa_column=string(64, nullable=False))
    row_count: int = Field(sa_column=bigint(nullable=False))
    column_count: int = Field(sa_column=bigint(nullable=False))
    reason: str | None = Field(default=None, sa_column=text())
    party: str = Field(sa_column=string(13, nullable=False))
    submitted_index: int = Field(sa_column=bigint(nullable=False))
    submitted_at: str = Field(sa_column=string(24, nullable=False))


class Enrolment(TrialTable, table=True):
    __tablename__ = "enrolment"
    trial_id: str = Field(sa_column=string(40, primary_key=True))
    subject: str = Field(sa_column=string(40, primary_key=True))
    site: str = Field(sa_column=string(40, nullable=False))
    enrolled: str = Field(sa_column=string(10, nullable=False))
    enrolled_index: int = Field(sa_column=bigint(nullable=False))


class ConsentRecord(TrialTable, table=True):
    """Consents and withdrawals in log order; a subject's status is its latest record."""

    __tablename__ = "consent_record"
    __table_args__ = (Index("consent_subject", "trial_id", "subject"),)
    idx: int = Field(sa_column=bigint(primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    trial_id: str = Field(sa_column=string(40, nullable=False))
    subject: str = Field(sa_column=string(40, nullable=False))
    kind: str = Field(sa_column=string(16, nullable=False))  # consent | withdrawal
    site: str | None = Field(default=None, sa_column=string(40))
    protocol_version: int | None = Field(default=None, sa_column=Column(Integer))
    dated: str = Field(sa_column=string(10, nullable=False))


class ResultsReport(TrialTable, table=True):
    __tablename__ = "results_report"
    idx: int = Field(sa_column=bigint(primary_key=True, autoincrement=False))
    trial_id: str = Field(sa_column=string(40, nullable=False, index=True))
    # JSON list of {id, summary, type?, time_frame?}
    outcomes: str = Field(sa_column=text(nullable=False))
    reported_at: str = Field(sa_column=string(24, nullable=False))


class TrialEvent(TrialTable, table=True):
    """The audit trail of a trial (21 CFR 11.10(e)): who did what, when, why, and the signature
    manifestation (11.50): printed name, time and meaning."""

    __tablename__ = "trial_event"
    __table_args__ = (Index("trial_event_trial", "trial_id", "idx"),)
    idx: int = Field(sa_column=bigint(primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    trial_id: str = Field(sa_column=string(40, nullable=False))
    action: str = Field(sa_column=string(32, nullable=False))
    subject: str = Field(sa_column=text(nullable=False))  # what it is about, e.g. "dataset AE v2"
    reason: str | None = Field(default=None, sa_column=text())
    party: str = Field(sa_column=string(13, nullable=False))
    printed_name: str = Field(sa_column=text(nullable=False))
    meaning: str = Field(sa_column=string(16, nullable=False))
    key_id: str = Field(sa_column=string(64, nullable=False))
    at: str = Field(sa_column=string(24, nullable=False))


class Erasure(TrialTable, table=True):
    __tablename__ = "erasure"
    payload: str = Field(sa_column=string(64, primary_key=True))
    trial_id: str = Field(sa_column=string(40, nullable=False))
    reason: str = Field(sa_column=text(nullable=False))
    party: str = Field(sa_column=string(13, nullable=False))
    erased_index: int = Field(sa_column=bigint(nullable=False))
    erased_at: str = Field(sa_column=string(24, nullable=False))


class TrialPayload(TrialTable, table=True):
    """Off-log payload store: bytes and the salt of their commitment (deleted on erasure)."""

    __tablename__ = "trial_payload"
    commitment: str = Field(sa_column=string(64, primary_key=True))  # SHA-256(salt ‖ bytes), hex
    salt: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    sha256: str | None = Field(default=None, sa_column=string(64))
    media_type: str = Field(sa_column=string(100, nullable=False))
    size: int = Field(sa_column=bigint(nullable=False))
    stored_at: str = Field(sa_column=string(24, nullable=False))
    erased_index: int | None = Field(default=None, sa_column=bigint())  # the erasure's entry
    # Last: SQLite reserves a zeroblob for incremental writing without allocating it only in
    # a row's last column (elsewhere it builds the whole value in memory, twice).
    data: bytes | None = Field(default=None, sa_column=Column(LargeBinary))


class TrialPayloadSummary(TrialTable, table=True):
    """Off-log: what the server read from an uploaded dataset, which the statement submitting
    it must state; so that no process reads the bytes again under the log's write lock. Holds
    the salted content commitment, never the bare content hash (blanked on erasure)."""

    __tablename__ = "trial_payload_summary"
    commitment: str = Field(sa_column=string(64, primary_key=True))
    format: str | None = Field(default=None, sa_column=string(16))
    content_commitment: str | None = Field(default=None, sa_column=string(64))
    row_count: int | None = Field(default=None, sa_column=bigint())
    column_count: int | None = Field(default=None, sa_column=bigint())
    domains: str | None = Field(default=None, sa_column=text())  # a JSON list
    erased_index: int | None = Field(default=None, sa_column=bigint())


class TrialUpload(TrialTable, table=True):
    """Off-log: which party uploaded which payload, when and how large. It counts against the
    party's upload quota, and lets the uploader alone fetch a payload no statement names yet."""

    __tablename__ = "trial_upload"
    __table_args__ = (Index("trial_upload_party", "party", "uploaded_at"),)
    commitment: str = Field(sa_column=string(64, primary_key=True))
    party: str = Field(sa_column=string(13, primary_key=True))  # the uploader's GLN
    size: int = Field(sa_column=bigint(nullable=False))
    uploaded_at: str = Field(sa_column=string(24, nullable=False))
