"""Reasons: the minimum content every reason needs (refused with 422 when sent), and what
discloses an outcome change."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.parties import Authority
from tests.trials.test_lock import counts
from tests.trials.test_trials import AE_CSV, OUTCOMES, SIG, TRIAL, Study
from trials.reasons import disclosure, is_substantive, reason_problem
from trials.rules import is_boilerplate

PLACEHOLDERS = ["x", "X", ".", "n/a", "N/A", "test", "TBD", "-", "", "   ", "xxxxxxxxxxxxxxxx"]
PLACEHOLDERS += ["Updated.", "as requested", "see comment", "ok ok ok ok ok"]
REASONS = [
    "Subject S-2 exercised the right to erasure (GDPR art. 17)",
    "Database lock after the last patient's last visit",
    "AE term coded to MedDRA 26.1",
    "GDPR request",
]


@pytest.mark.parametrize("reason", PLACEHOLDERS)
def test_placeholders_are_not_reasons(reason: str) -> None:
    assert reason_problem(reason) is not None and not is_substantive(reason)


@pytest.mark.parametrize("reason", REASONS)
def test_reasons_with_content_pass(reason: str) -> None:
    assert reason_problem(reason) is None


def test_the_problem_is_named() -> None:
    assert reason_problem(None) == "no reason was given"
    assert reason_problem("n/a") == "it is boilerplate or a placeholder"
    assert reason_problem("short text") == "it is shorter than 12 letters and digits"
    assert reason_problem("xxxxxxxxxxxxxxxx") == "it has fewer than two different words"


def test_rules_1_keeps_its_own_boilerplate_rule() -> None:
    """Entries accepted under rules 1 replay: a one-word reason of 12 letters passed there."""
    assert not is_boilerplate("xxxxxxxxxxxxxxxx") and is_boilerplate("n/a")


# --- disclosure of an outcome change ------------------------------------------------------

TITLE = ["Overall survival"]


@pytest.mark.parametrize(
    "reason",
    [
        "Endpoints unchanged",
        "endpoints unchanged; visit schedule revised",
        "No change to the primary endpoint; sample size increased to 400",
        "The primary endpoint was not changed",
        "Outcome measures remain the same",
        "Overall survival unchanged, visit windows widened",
        "None of the endpoints was modified",
        "Sponsor decision after review",
    ],
)
def test_negations_and_silence_disclose_nothing(reason: str) -> None:
    assert disclosure(reason, "P1", TITLE, types=["primary"]) == "hidden"


@pytest.mark.parametrize(
    "reason",
    [
        "P1 follow-up extended from 12 to 24 months",
        "Overall survival now assessed at 24 months",
        "Primary endpoint follow-up extended to two years",
        "P1 moved to 24 months, other endpoints unchanged",
        "Sample size unchanged; P1 measured at 24 months",
    ],
)
def test_a_clause_naming_the_outcome_and_its_change_discloses(reason: str) -> None:
    told = disclosure(reason, "P1", TITLE, types=["primary"], new_values=["primary", "24 months"])
    assert told == "disclosed"


def test_the_new_value_counts_as_saying_what_changed() -> None:
    # No change word, but the clause names the outcome and its new type.
    reason = "At the DSMB's request the rate of grade 3+ adverse events is a primary outcome"
    title = ["Rate of adverse events of grade 3 or higher"]
    assert disclosure(reason, "O2", title, new_values=["primary"]) == "disclosed"
    assert disclosure(reason, "O2", title) == "hidden"


def test_outcomes_in_general_are_vague() -> None:
    assert disclosure("Endpoints revised after FDA feedback", "P1", TITLE) == "vague"
    assert disclosure(None, "P1", TITLE) == "hidden"


# --- refused when sent --------------------------------------------------------------------


@pytest.fixture
def study(client: FlaskClient, authority: Authority) -> Study:
    return Study.with_protocol(client, authority)


@pytest.mark.parametrize("reason", ["x", "n/a", "test", ".", "xxxxxxxxxxxxxxxx"])
def test_an_erasure_without_a_reason_is_refused_with_422(
    app: Flask, study: Study, reason: str
) -> None:
    body = study.dataset_body("AE", AE_CSV)
    study.send(study.site, "dataset.submit", body)
    erase = {"trial": TRIAL, "payload": body["payload"], "reason": reason, "signature": SIG}
    before = counts(app)
    problem = study.send(study.sponsor, "payload.erase", erase, status=422)
    assert problem["type"].endswith("/bad-statement") and "is not a reason" in problem["detail"]
    assert "two different words" in problem["rule"]
    assert counts(app) == before  # nothing erased, nothing logged
    assert study.read(f"/api/v1/trials/payloads/{body['payload']}").status_code == 200
    erase["reason"] = "Subject S-2 exercised the right to erasure (GDPR art. 17)"
    study.send(study.sponsor, "payload.erase", erase)


def test_every_reason_the_server_takes_has_the_minimum_content(app: Flask, study: Study) -> None:
    body = study.dataset_body("AE", AE_CSV)
    study.send(study.site, "dataset.submit", body)
    one_word = "Recodification"  # 14 letters, one word: rules 1 took it
    amend = dict(study.dataset_body("AE", AE_CSV + b"S-3,Rash,N,2026-02-09\n"), supersedes=1)
    lock = {"trial": TRIAL, "signature": SIG}
    protocol = study.protocol(2, OUTCOMES, reason="test")  # uploads its document first
    before = counts(app)
    study.send(study.site, "dataset.amend", dict(amend, reason=one_word), status=422)
    study.send(study.sponsor, "protocol.commit", protocol, status=422)
    study.send(study.sponsor, "trial.lock", dict(lock, reason="xxxxxxxxxxxxxx"), status=422)
    assert counts(app) == before
    study.send(study.site, "dataset.amend", dict(amend, reason="AE S-3 rash added after SDV"))
