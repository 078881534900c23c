"""Trial data kinds: dataset submissions and amendments, enrolment, consent and its withdrawal."""

from __future__ import annotations

import re
from typing import Any

from provenance.log import body as f
from provenance.log.errors import BadStatement, Conflict
from provenance.log.kinds import KindRule, Op, ledger_kind
from provenance.log.ledger import Ledger
from trials.datasets import FORMATS, content_hash, parse_dataset
from trials.errors import BadDataset
from trials.payloads import content_commitment
from trials.rules import (
    audit,
    check_payload,
    date,
    latest_protocol,
    latest_version,
    reason,
    require_trial,
)

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


def open_trial(ledger: Ledger, b: dict[str, Any]) -> dict[str, Any]:
    """A trial that takes data: a protocol is committed and the database is not locked."""
    trial = require_trial(ledger, b.get("trial"))
    if latest_protocol(ledger, trial["trial_id"]) == 0:
        raise Conflict(f"trial {trial['trial_id']} has no committed protocol yet")
    if trial["locked"]:
        raise Conflict(f"trial {trial['trial_id']} is locked: unlock it (with a reason) first")
    return trial


def _check_dataset(ledger: Ledger, b: dict[str, Any]) -> dict[str, Any]:
    """The statement's figures and content commitment match the uploaded bytes."""
    if b.get("format") not in FORMATS:
        raise BadStatement(f"body.format must be one of {list(FORMATS)}")
    if not isinstance(b.get("domain"), str) or not DOMAIN.match(b["domain"]):
        raise BadStatement("body.domain must be a two-letter domain code such as DM or AE")
    f.text(b, "dataset", 80)
    rows, columns = f.count(b, "rows"), f.count(b, "columns")
    stored = check_payload(ledger, f.text(b, "payload", 64))
    if stored is not None:
        try:
            dataset = parse_dataset(bytes(stored["data"]), b["format"])
        except BadDataset as exc:
            detail = f"the uploaded payload is not a {b['format']} dataset: {exc.detail}"
            raise BadStatement(detail) from None
        expected = content_commitment(bytes(stored["salt"]), content_hash(dataset))
        if b.get("content_commitment") != expected:
            raise BadStatement("body.content_commitment does not match the uploaded dataset")
        if (rows, columns) != (dataset.row_count, dataset.column_count):
            raise BadStatement(
                f"the dataset has {dataset.row_count} rows and {dataset.column_count} columns",
                rows=dataset.row_count,
                columns=dataset.column_count,
            )
    return b


def _put_version(
    ledger: Ledger, b: dict[str, Any], trial_id: str, version: int, party: str, why: str | None
) -> None:
    ledger.put(
        "dataset_version",
        {
            "trial_id": trial_id,
            "dataset": b["dataset"],
            "version": version,
            "domain": b["domain"],
            "format": b["format"],
            "payload": b["payload"],
            "content_commitment": b["content_commitment"],
            "row_count": b["rows"],
            "column_count": b["columns"],
            "reason": why,
            "party": party,
            "submitted_index": ledger.index,
            "submitted_at": ledger.logged_at,
        },
    )


@ledger_kind("dataset.submit", DATA_ROLES, "submit a dataset (bytes off-log, salted commitments)")
def submit(op: Op) -> None:
    ledger, party, b = op.ledger, op.party, op.body
    f.members(b, DATASET_FIELDS)
    trial = open_trial(ledger, b)
    _check_dataset(ledger, b)
    if ledger.get("dataset_version", trial["trial_id"], b["dataset"], 1) is not None:
        raise Conflict(f"dataset {b['dataset']} exists: amend it, giving a reason")
    _put_version(ledger, b, trial["trial_id"], 1, party, None)
    audit(
        ledger, b, trial["trial_id"], "submit", f"dataset {b['dataset']} v1 ({b['domain']})", party
    )


@ledger_kind("dataset.amend", DATA_ROLES, "a new version of a dataset, with a reason")
def amend(op: Op) -> None:
    ledger, party, b = op.ledger, op.party, op.body
    f.members(b, DATASET_FIELDS | {"supersedes", "reason"})
    why = reason(b)
    trial = open_trial(ledger, b)
    _check_dataset(ledger, b)
    latest = latest_version(ledger, "dataset_version", trial["trial_id"], b["dataset"])
    if latest == 0:
        raise Conflict(f"dataset {b['dataset']} was never submitted")
    if b.get("supersedes") != latest:
        raise Conflict(f"the latest version of {b['dataset']} is {latest}", latest=latest)
    _put_version(ledger, b, trial["trial_id"], latest + 1, party, why)
    audit(
        ledger,
        b,
        trial["trial_id"],
        "amend",
        f"dataset {b['dataset']} v{latest + 1} supersedes v{latest}",
        party,
        why,
    )


def _subject(b: dict[str, Any]) -> str:
    value = b.get("subject")
    if not isinstance(value, str) or not SUBJECT.match(value):
        raise BadStatement("body.subject is a pseudonymous id (letters, digits, -): no names")
    return value


def _site(ledger: Ledger, trial_id: str, b: dict[str, Any]) -> str:
    site = f.text(b, "site", 40)
    if ledger.get("trial_site", trial_id, site) is None:
        raise Conflict(f"site {site} is not a site of trial {trial_id}")
    return site


@ledger_kind("subject.enrol", DATA_ROLES, "a subject (pseudonymous) is enrolled at a site")
def enrol(op: Op) -> None:
    ledger, party, b = op.ledger, op.party, op.body
    f.exact_members(b, "trial", "subject", "site", "enrolled", "signature")
    trial = open_trial(ledger, b)
    subject = _subject(b)
    if ledger.get("enrolment", trial["trial_id"], subject) is not None:
        raise Conflict(f"subject {subject} is already enrolled")
    site = _site(ledger, trial["trial_id"], b)
    ledger.put(
        "enrolment",
        {
            "trial_id": trial["trial_id"],
            "subject": subject,
            "site": site,
            "enrolled": date(b, "enrolled"),
            "enrolled_index": ledger.index,
        },
    )
    audit(ledger, b, trial["trial_id"], "enrol", f"subject {subject} at site {site}", party)


def _consent_row(ledger: Ledger, trial_id: str, subject: str, **values: Any) -> None:
    ledger.put(
        "consent_record",
        {
            "idx": ledger.index,
            "seq": ledger.next_seq("consent_record"),
            "trial_id": trial_id,
            "subject": subject,
            **values,
        },
    )


@ledger_kind(
    "consent.record", DATA_ROLES, "a subject's consent, bound to the protocol version in force"
)
def consent(op: Op) -> None:
    ledger, party, b = op.ledger, op.party, op.body
    f.exact_members(b, "trial", "subject", "site", "consented", "protocol_version", "signature")
    trial = open_trial(ledger, b)
    in_force = latest_protocol(ledger, trial["trial_id"])
    if b.get("protocol_version") != in_force:
        raise Conflict(
            f"consent is bound to the protocol version in force, v{in_force}", in_force=in_force
        )
    subject = _subject(b)
    site = _site(ledger, trial["trial_id"], b)
    _consent_row(
        ledger,
        trial["trial_id"],
        subject,
        kind="consent",
        site=site,
        protocol_version=in_force,
        dated=date(b, "consented"),
    )
    audit(
        ledger, b, trial["trial_id"], "consent", f"subject {subject} (protocol v{in_force})", party
    )


@ledger_kind("consent.withdraw", DATA_ROLES, "a subject withdraws consent (a new record)")
def withdraw(op: Op) -> None:
    ledger, party, b = op.ledger, op.party, op.body
    f.exact_members(b, "trial", "subject", "withdrawn", "signature")
    trial = require_trial(ledger, b.get("trial"))
    subject = _subject(b)
    _consent_row(
        ledger,
        trial["trial_id"],
        subject,
        kind="withdrawal",
        site=None,
        protocol_version=None,
        dated=date(b, "withdrawn"),
    )
    audit(ledger, b, trial["trial_id"], "withdraw", f"subject {subject}", party)


#: The data statement kinds.
KINDS: tuple[KindRule, ...] = (submit, amend, enrol, consent, withdraw)
