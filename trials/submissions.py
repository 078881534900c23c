"""Trial data kinds: dataset submissions and amendments, enrolment, consent and its withdrawal."""

from __future__ import annotations

import re
from typing import Any

from provenance.log import body as f
from provenance.log.errors import BadStatement, Conflict
from provenance.log.kinds import KindRule, Op, ledger_kind
from provenance.log.ledger import Ledger
from trials.dataset_files import FORMATS, check_domain, summarise_bytes
from trials.errors import BadDataset
from trials.payloads import read_at
from trials.rows import (
    CONSENT_RECORD,
    DATASET_VERSION,
    ENROLMENT,
    TRIAL_SITE,
    ConsentRecordRow,
    DatasetVersionRow,
    EnrolmentRow,
    TrialRow,
)
from trials.rules import (
    audit,
    check_payload,
    date,
    latest_protocol,
    latest_version,
    reason,
    require_trial,
    require_unlocked,
)
from trials.uploads import ReadAtUpload, read_at_upload
from trials.writers import claim_payload, require_subject_writer, require_writer

DOMAIN = re.compile(r"^[A-Z]{2}$")  # SDTM/raw domain codes: DM, AE, VS, LB, …
SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")
DATA_ROLES = frozenset({"sponsor", "site"})
DATASET_FIELDS = {
    "trial",
    "dataset",
    "domain",
    "format",
    "payload",
    "content_commitment",
    "rows",
    "columns",
    "signature",
}


def open_trial(op: Op) -> TrialRow:
    """The trial the statement names, open for data: a protocol is committed and the database
    is not locked."""
    trial = require_trial(op.ledger, op.body.get("trial"))
    if latest_protocol(op.ledger, trial["trial_id"]) == 0:
        raise Conflict(f"trial {trial['trial_id']} has no committed protocol yet")
    if trial["locked"]:
        raise Conflict(f"trial {trial['trial_id']} is locked: unlock it (with a reason) first")
    return trial


def _check_dataset(op: Op, trial_id: str) -> None:
    """The statement's figures and content commitment match the uploaded bytes."""
    body = op.body
    if body.get("format") not in FORMATS:
        raise BadStatement(f"body.format must be one of {list(FORMATS)}")
    if not isinstance(body.get("domain"), str) or not DOMAIN.match(body["domain"]):
        raise BadStatement("body.domain must be a two-letter domain code such as DM or AE")
    f.text(body, "dataset", 80)
    rows, columns = f.count(body, "rows"), f.count(body, "columns")
    payload = f.text(body, "payload", 64)
    # What the server read at upload (a row, whichever process took the upload); else the
    # bytes are read again here.
    read = read_at_upload(op.ledger, payload, body["format"]) or _read_stored(op, payload)
    if read is not None:
        try:
            check_domain(read.domains, body["domain"])
        except BadDataset as exc:
            raise BadStatement(exc.detail, **exc.extensions) from None
        if body.get("content_commitment") != read.content_commitment:
            raise BadStatement("body.content_commitment does not match the uploaded dataset")
        if (rows, columns) != (read.row_count, read.column_count):
            raise BadStatement(
                f"the dataset has {read.row_count} rows and {read.column_count} columns",
                rows=read.row_count,
                columns=read.column_count,
            )
    claim_payload(op, trial_id, payload)


def _read_stored(op: Op, payload: str) -> ReadAtUpload | None:
    """Read the stored bytes as the statement's format; None if they were erased after this
    entry (a replay: checked when it was first logged)."""
    stored = check_payload(op.ledger, payload)
    if stored is None:
        return None
    data, salt, fmt = stored["data"], stored["salt"], op.body["format"]
    assert data is not None and salt is not None  # only erasure empties them: see check_payload
    try:
        return read_at(salt, summarise_bytes(data, fmt))
    except BadDataset as exc:
        raise BadStatement(f"the uploaded payload is not a {fmt} dataset: {exc.detail}") from None


def _put_version(op: Op, *, trial_id: str, version: int, why: str | None) -> None:
    body, ledger = op.body, op.ledger
    DATASET_VERSION.put(
        ledger,
        DatasetVersionRow(
            trial_id=trial_id,
            dataset=body["dataset"],
            version=version,
            domain=body["domain"],
            format=body["format"],
            payload=body["payload"],
            content_commitment=body["content_commitment"],
            row_count=body["rows"],
            column_count=body["columns"],
            reason=why,
            party=op.party,
            submitted_index=ledger.index,
            submitted_at=ledger.logged_at,
        ),
    )


@ledger_kind("dataset.submit", DATA_ROLES, "submit a dataset (bytes off-log, salted commitments)")
def submit(op: Op) -> None:
    f.members(op.body, DATASET_FIELDS)
    trial = open_trial(op)
    require_writer(op, trial)
    _check_dataset(op, trial["trial_id"])
    dataset, domain = op.body["dataset"], op.body["domain"]
    if DATASET_VERSION.get(op.ledger, (trial["trial_id"], dataset, 1)) is not None:
        raise Conflict(f"dataset {dataset} exists: amend it, giving a reason")
    _put_version(op, trial_id=trial["trial_id"], version=1, why=None)
    what = f"dataset {dataset} v1 ({domain})"
    audit(op, trial_id=trial["trial_id"], action="submit", what=what)


@ledger_kind("dataset.amend", DATA_ROLES, "a new version of a dataset, with a reason")
def amend(op: Op) -> None:
    f.members(op.body, DATASET_FIELDS | {"supersedes", "reason"})
    why = reason(op.body, rules=op.rules)
    trial = open_trial(op)
    require_writer(op, trial)
    _check_dataset(op, trial["trial_id"])
    dataset = op.body["dataset"]
    latest = latest_version(op.ledger, DATASET_VERSION, trial["trial_id"], dataset)
    if latest == 0:
        raise Conflict(f"dataset {dataset} was never submitted")
    if op.body.get("supersedes") != latest:
        raise Conflict(f"the latest version of {dataset} is {latest}", latest=latest)
    _put_version(op, trial_id=trial["trial_id"], version=latest + 1, why=why)
    what = f"dataset {dataset} v{latest + 1} supersedes v{latest}"
    audit(op, trial_id=trial["trial_id"], action="amend", what=what, why=why)


def _subject(body: dict[str, Any]) -> str:
    value = body.get("subject")
    if not isinstance(value, str) or not SUBJECT.match(value):
        raise BadStatement("body.subject is a pseudonymous id (letters, digits, -): no names")
    return value


def _site(op: Op, trial_id: str) -> str:
    """The statement's site, which must be one the trial registered."""
    site = f.text(op.body, "site", 40)
    if TRIAL_SITE.get(op.ledger, (trial_id, site)) is None:
        raise Conflict(f"site {site} is not a site of trial {trial_id}")
    return site


@ledger_kind("subject.enrol", DATA_ROLES, "a subject (pseudonymous) is enrolled at a site")
def enrol(op: Op) -> None:
    f.exact_members(op.body, "trial", "subject", "site", "enrolled", "signature")
    trial = open_trial(op)
    subject = _subject(op.body)
    site = _site(op, trial["trial_id"])
    require_writer(op, trial, site)
    if ENROLMENT.get(op.ledger, (trial["trial_id"], subject)) is not None:
        raise Conflict(f"subject {subject} is already enrolled")
    ENROLMENT.put(
        op.ledger,
        EnrolmentRow(
            trial_id=trial["trial_id"],
            subject=subject,
            site=site,
            enrolled=date(op.body, "enrolled"),
            enrolled_index=op.ledger.index,
        ),
    )
    what = f"subject {subject} at site {site}"
    audit(op, trial_id=trial["trial_id"], action="enrol", what=what)


def _record_consent(
    ledger: Ledger,
    *,
    trial_id: str,
    subject: str,
    kind: str,
    site: str | None,
    protocol_version: int | None,
    dated: str,
) -> None:
    CONSENT_RECORD.put(
        ledger,
        ConsentRecordRow(
            idx=ledger.index,
            seq=ledger.next_seq("consent_record"),
            trial_id=trial_id,
            subject=subject,
            kind=kind,
            site=site,
            protocol_version=protocol_version,
            dated=dated,
        ),
    )


@ledger_kind(
    "consent.record", DATA_ROLES, "a subject's consent, bound to the protocol version in force"
)
def consent(op: Op) -> None:
    body = op.body
    f.exact_members(body, "trial", "subject", "site", "consented", "protocol_version", "signature")
    trial = open_trial(op)
    subject = _subject(body)
    site = _site(op, trial["trial_id"])
    require_writer(op, trial, site)
    in_force = latest_protocol(op.ledger, trial["trial_id"])
    if body.get("protocol_version") != in_force:
        raise Conflict(
            f"consent is bound to the protocol version in force, v{in_force}", in_force=in_force
        )
    _record_consent(
        op.ledger,
        trial_id=trial["trial_id"],
        subject=subject,
        kind="consent",
        site=site,
        protocol_version=in_force,
        dated=date(body, "consented"),
    )
    what = f"subject {subject} (protocol v{in_force})"
    audit(op, trial_id=trial["trial_id"], action="consent", what=what)


@ledger_kind("consent.withdraw", DATA_ROLES, "a subject withdraws consent (a new record)")
def withdraw(op: Op) -> None:
    f.exact_members(op.body, "trial", "subject", "withdrawn", "signature")
    trial = require_trial(op.ledger, op.body.get("trial"))
    subject = _subject(op.body)
    require_subject_writer(op, trial, subject)
    require_unlocked(op, trial)  # withdrawn after lock: unlock (with a reason) to record it
    _record_consent(
        op.ledger,
        trial_id=trial["trial_id"],
        subject=subject,
        kind="withdrawal",
        site=None,
        protocol_version=None,
        dated=date(op.body, "withdrawn"),
    )
    audit(op, trial_id=trial["trial_id"], action="withdraw", what=f"subject {subject}")


#: The data statement kinds.
KINDS: tuple[KindRule, ...] = (submit, amend, enrol, consent, withdraw)
