"""A locked trial takes no statement that changes its data (409, nothing written); results may
still be reported, and a log written under rules 1 replays as it was accepted."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from provenance.log.errors import Conflict
from provenance.log.store.engine import read_connection
from provenance.web.context import service
from tests.parties import Authority
from tests.trials.test_trials import AE_CSV, OUTCOMES, SIG, TRIAL, Study, registration
from tests.trials.test_writers import MemoryLog, plain_registration

LOCK = {"trial": TRIAL, "reason": "Database lock after the last patient's last visit"}
UNLOCK = {"trial": TRIAL, "reason": "Reopened to record the withdrawal reported by site 001"}
TABLES = ("log_entry", "trial_event", "consent_record", "protocol_version", "erasure")


def counts(app: Flask) -> dict[str, Any]:
    """Rows in the log and in the trial tables a refused statement might have touched, and the
    stored state of every payload."""
    with app.app_context(), read_connection(service().engine) as conn:
        found: dict[str, Any] = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in TABLES
        }
        found["payloads"] = conn.execute(
            text("SELECT commitment, data IS NULL, erased_index FROM trial_payload ORDER BY 1")
        ).all()
    return found


@pytest.fixture
def locked(app: Flask, client: FlaskClient, authority: Authority) -> tuple[Study, dict[str, Any]]:
    """A trial with a protocol, a subject consented and enrolled, a dataset, then locked; with
    the statement bodies of every kind a lock refuses."""
    study = Study.with_parties(client, authority)
    study.send(study.sponsor, "trial.register", registration())
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    base = {"trial": TRIAL, "site": "001", "signature": SIG}
    consent = dict(base, subject="S-1", consented="2026-02-01", protocol_version=1)
    study.send(study.site, "consent.record", consent)
    study.send(study.site, "subject.enrol", dict(base, subject="S-1", enrolled="2026-02-01"))
    dataset = study.dataset_body("AE", AE_CSV)
    study.send(study.site, "dataset.submit", dataset)
    amended = dict(
        study.dataset_body("AE", AE_CSV + b"S-3,Rash,N,2026-02-09\n"),
        supersedes=1,
        reason="A rash of subject S-3 was missing from the first export",
    )
    why = "Quality of life now measured at 6 months instead of 12 (site feedback)"
    bodies = {
        "dataset.submit": study.dataset_body("VS", AE_CSV),
        "dataset.amend": amended,
        "subject.enrol": dict(base, subject="S-2", enrolled="2026-03-01"),
        "consent.record": dict(consent, subject="S-2", consented="2026-03-01"),
        "consent.withdraw": {
            "trial": TRIAL,
            "subject": "S-1",
            "withdrawn": "2026-03-02",
            "signature": SIG,
        },
        "protocol.commit": study.protocol(2, OUTCOMES, reason=why),
        "payload.erase": {
            "trial": TRIAL,
            "payload": dataset["payload"],
            "reason": "Subject S-1 exercised the right to erasure (GDPR art. 17)",
            "signature": SIG,
        },
    }
    study.send(study.sponsor, "trial.lock", dict(LOCK, signature=SIG))
    return study, bodies


#: Who sends each kind: the site enters subject data, the sponsor the rest.
SENDER = {"protocol.commit": "sponsor", "payload.erase": "sponsor"}


@pytest.mark.parametrize(
    "kind",
    [
        "dataset.submit",
        "dataset.amend",
        "subject.enrol",
        "consent.record",
        "consent.withdraw",
        "protocol.commit",
        "payload.erase",
    ],
)
def test_a_locked_trial_refuses_every_kind_that_changes_its_data(
    app: Flask, locked: tuple[Study, dict[str, Any]], kind: str
) -> None:
    study, bodies = locked
    sender = study.sponsor if SENDER.get(kind) == "sponsor" else study.site
    before = counts(app)
    problem = study.send(sender, kind, bodies[kind], status=409)
    assert problem["type"].endswith("/conflict") and "is locked" in problem["detail"]
    assert counts(app) == before  # nothing written: no entry, no row, the payload still stored
    # Unlocked with a reason, the same statement is taken.
    study.send(study.sponsor, "trial.unlock", dict(UNLOCK, signature=SIG))
    study.send(sender, kind, bodies[kind])
    assert counts(app)["log_entry"] == before["log_entry"] + 2


def test_results_are_reported_from_a_locked_database(
    app: Flask, locked: tuple[Study, dict[str, Any]]
) -> None:
    """Results are analysed on the locked data and reported after the lock, as trials do."""
    study, _ = locked
    report = {"trial": TRIAL, "outcomes": [{"id": "P1", "summary": "HR 0.8"}], "signature": SIG}
    study.send(study.sponsor, "results.report", report)
    history = study.read(f"/api/v1/trials/{TRIAL}/history").get_json()["history"]
    assert [h["action"] for h in history][-2:] == ["lock", "results"]


def test_a_rules_1_log_replays_what_it_accepted_while_locked() -> None:
    """Release 0.1.0 (rules 1) took a withdrawal, an amendment and an erasure on a locked trial;
    its log replays as it was accepted, while rules 2 refuses each."""
    for rules in (1, 2):
        log = MemoryLog(rules)
        log.party("5412345000051", "sponsor")
        log.send("5412345000051", "trial.register", plain_registration())
        payload = log.protocol("5412345000051", TRIAL)
        log.send("5412345000051", "trial.lock", dict(LOCK, signature=SIG))
        erase = {"trial": TRIAL, "payload": payload, "reason": "x", "signature": SIG}
        withdraw = {"trial": TRIAL, "subject": "S-1", "withdrawn": "2026-03-02", "signature": SIG}
        for kind, body in (("consent.withdraw", withdraw), ("payload.erase", erase)):
            if rules == 1:
                log.send("5412345000051", kind, body)
            else:
                with pytest.raises(Conflict, match="is locked"):
                    log.send("5412345000051", kind, body)
