"""Typed rows of the trial projection, and the tables the statement rules read and write."""

from __future__ import annotations

from typing import Any, TypedDict

from provenance.log.rows import Table

# Each row type mirrors its table in `tables.py` column for column.


class TrialRow(TypedDict):
    trial_id: str
    registry_name: str
    sponsor: str
    title: str
    phase: str
    planned_enrolment: int
    primary_completion: str
    registered_index: int
    registered_at: str
    locked: int


class TrialSiteRow(TypedDict):
    trial_id: str
    site: str
    name: str
    activated: str | None


class TrialSitePartyRow(TypedDict):
    trial_id: str
    site: str
    gln: str


class TrialPartyRow(TypedDict):
    trial_id: str
    gln: str
    sites: int


class PayloadTrialRow(TypedDict):
    payload: str
    trial_id: str
    first_index: int


class ProtocolVersionRow(TypedDict):
    trial_id: str
    version: int
    document_sha256: str
    payload: str
    outcomes: str  # JSON list
    reason: str | None
    reconsent: int
    committed_index: int
    committed_at: str


class DatasetVersionRow(TypedDict):
    trial_id: str
    dataset: str
    version: int
    domain: str
    format: str
    payload: str
    content_commitment: str
    row_count: int
    column_count: int
    reason: str | None
    party: str
    submitted_index: int
    submitted_at: str


class EnrolmentRow(TypedDict):
    trial_id: str
    subject: str
    site: str
    enrolled: str
    enrolled_index: int


class ConsentRecordRow(TypedDict):
    idx: int
    seq: int
    trial_id: str
    subject: str
    kind: str  # consent | withdrawal
    site: str | None
    protocol_version: int | None
    dated: str


class ResultsReportRow(TypedDict):
    idx: int
    trial_id: str
    outcomes: str  # JSON list
    reported_at: str


class TrialEventRow(TypedDict):
    idx: int
    seq: int
    trial_id: str
    action: str
    subject: str
    reason: str | None
    party: str
    printed_name: str
    meaning: str
    key_id: str
    at: str


class ErasureRow(TypedDict):
    payload: str
    trial_id: str
    reason: str
    party: str
    erased_index: int
    erased_at: str


class TrialPayloadRow(TypedDict):
    commitment: str
    salt: bytes | None
    sha256: str | None
    media_type: str
    size: int
    stored_at: str
    erased_index: int | None
    data: bytes | None


class TrialPayloadSummaryRow(TypedDict):
    commitment: str
    format: str | None
    content_commitment: str | None
    row_count: int | None
    column_count: int | None
    domains: str | None
    erased_index: int | None


class TrialUploadRow(TypedDict):
    commitment: str
    party: str
    size: int
    uploaded_at: str


TRIAL: Table[TrialRow, tuple[str]] = Table("trial", TrialRow)
TRIAL_SITE: Table[TrialSiteRow, tuple[str, str]] = Table("trial_site", TrialSiteRow)
TRIAL_SITE_PARTY: Table[TrialSitePartyRow, tuple[str, str]] = Table(
    "trial_site_party", TrialSitePartyRow
)
TRIAL_PARTY: Table[TrialPartyRow, tuple[str, str]] = Table("trial_party", TrialPartyRow)
PAYLOAD_TRIAL: Table[PayloadTrialRow, tuple[str]] = Table("payload_trial", PayloadTrialRow)
PROTOCOL_VERSION: Table[ProtocolVersionRow, tuple[str, int]] = Table(
    "protocol_version", ProtocolVersionRow
)
DATASET_VERSION: Table[DatasetVersionRow, tuple[str, str, int]] = Table(
    "dataset_version", DatasetVersionRow
)
ENROLMENT: Table[EnrolmentRow, tuple[str, str]] = Table("enrolment", EnrolmentRow)
CONSENT_RECORD: Table[ConsentRecordRow, tuple[int, int]] = Table("consent_record", ConsentRecordRow)
RESULTS_REPORT: Table[ResultsReportRow, tuple[int]] = Table("results_report", ResultsReportRow)
TRIAL_EVENT: Table[TrialEventRow, tuple[int, int]] = Table("trial_event", TrialEventRow)
ERASURE: Table[ErasureRow, tuple[str]] = Table("erasure", ErasureRow)
TRIAL_PAYLOAD: Table[TrialPayloadRow, tuple[str]] = Table("trial_payload", TrialPayloadRow)
TRIAL_PAYLOAD_SUMMARY: Table[TrialPayloadSummaryRow, tuple[str]] = Table(
    "trial_payload_summary", TrialPayloadSummaryRow
)
TRIAL_UPLOAD: Table[TrialUploadRow, tuple[str, str]] = Table("trial_upload", TrialUploadRow)
#: Every trial table (the statements read or write all of them but the upload records).
TABLES: tuple[Table[Any, Any], ...] = (
    TRIAL,
    TRIAL_SITE,
    TRIAL_SITE_PARTY,
    TRIAL_PARTY,
    PAYLOAD_TRIAL,
    PROTOCOL_VERSION,
    DATASET_VERSION,
    ENROLMENT,
    CONSENT_RECORD,
    RESULTS_REPORT,
    TRIAL_EVENT,
    ERASURE,
    TRIAL_PAYLOAD,
    TRIAL_PAYLOAD_SUMMARY,
    TRIAL_UPLOAD,
)
