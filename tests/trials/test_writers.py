"""Under rules 2 only a trial's own parties write into it: its sponsor and its listed sites."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from provenance.log.errors import BadStatement, WrongRole
from provenance.log.identity import (
    KeyRecord,
    PartyRecord,
    PersonRecord,
    PutKey,
    PutParty,
    PutPerson,
)
from provenance.log.ledger import PutRow
from provenance.log.profile import EntryContext
from provenance.log.rebuild import projection_digest
from provenance.log.signing import generate_private_key, key_id, public_key_der
from provenance.log.statements import make_statement, now_timestamp
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView, MemoryView
from provenance.plugins import load_plugins
from provenance.web.context import installed, service
from tests.parties import ORIGIN, Authority, PartyKey, register_party, register_person, send
from tests.trials.test_trials import (
    AE_CSV,
    OUTCOMES,
    SIG,
    SITE_GLN,
    TRIAL,
    Study,
    registration,
)
from trials.demo import story
from trials.payloads import commitment
from trials.tables import TRIAL_KEYS

OTHER_TRIAL = "NCT07654321"
RIVAL_SITE_GLN = "5412345000075"  # listed for a site of the other trial only
LOOSE_SITE_GLN = "5412345000082"  # a site party no trial lists
UNREGISTERED_GLN = "5412345000105"
WRONG_ROLE = "tag:provenance.local,2026:problem/wrong-role"
VS_CSV = b"subject,vstest,vsorres\nS-1,SYSBP,120\n"
ADDED = "2026-01-01T00:00:00.000Z"  # when the in-memory logs' keys were added


@dataclass
class Trials:
    """Trial TRIAL (sponsor; site 001 listed for `study.site`, site 002 for nobody) with
    protocol v1, dataset AE, S-1 enrolled at 001 and S-2 at 002; and OTHER_TRIAL of
    `study.other` with its own listed site party."""

    app: Flask
    study: Study
    rival_site: PartyKey
    loose_site: PartyKey
    ae: dict[str, Any]  # the dataset.submit body of TRIAL's AE

    def state(self) -> tuple[int, str]:
        """The log's size and the projection's fingerprint."""
        with self.app.app_context(), read_connection(service().engine) as conn:
            return logdb.tree_size(conn), projection_digest(conn, installed().registry)

    def row(self, table: str, *key: object) -> dict[str, Any] | None:
        with self.app.app_context(), read_connection(service().engine) as conn:
            return DbView(conn, TRIAL_KEYS).row(table, key)

    def refused(self, party: PartyKey, kind: str, body: dict[str, Any]) -> None:
        """The statement is refused as not the signer's to make, and nothing is written."""
        before = self.state()
        problem = self.study.send(party, kind, body, status=403)
        assert problem["type"] == WRONG_ROLE, problem
        assert self.state() == before


def enrolment(subject: str, site: str) -> dict[str, Any]:
    return {"trial": TRIAL, "subject": subject, "site": site, "enrolled": "2026-02-02"}


def consent(subject: str, site: str) -> dict[str, Any]:
    body = {"trial": TRIAL, "subject": subject, "site": site, "consented": "2026-02-01"}
    return dict(body, protocol_version=1, signature=SIG)


def withdrawal(subject: str) -> dict[str, Any]:
    return {"trial": TRIAL, "subject": subject, "withdrawn": "2026-04-01", "signature": SIG}


def amendment(body: dict[str, Any]) -> dict[str, Any]:
    why = "AESER corrected for subject S-2 after source data verification (query Q-7)"
    return dict(body, supersedes=1, reason=why)


@pytest.fixture
def trials(app: Flask, client: FlaskClient, authority: Authority) -> Trials:
    study = Study.with_parties(client, authority)
    rival_site = register_party(client, authority, "Rival site", RIVAL_SITE_GLN, ["site"])
    loose_site = register_party(client, authority, "Loose site", LOOSE_SITE_GLN, ["site"])
    study.send(study.sponsor, "trial.register", registration())
    rival_sites = [{"site": "R1", "name": "Rival site", "gln": RIVAL_SITE_GLN}]
    study.send(study.other, "trial.register", registration(trial=OTHER_TRIAL, sites=rival_sites))
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    other_protocol = dict(study.protocol(1, OUTCOMES), trial=OTHER_TRIAL)
    study.send(study.other, "protocol.commit", other_protocol)
    ae = study.dataset_body("AE", AE_CSV)
    study.send(study.sponsor, "dataset.submit", ae)
    for subject, site in (("S-1", "001"), ("S-2", "002")):
        study.send(study.sponsor, "subject.enrol", dict(enrolment(subject, site), signature=SIG))
    return Trials(app, study, rival_site, loose_site, ae)


def test_site_parties_are_listed_at_registration(trials: Trials) -> None:
    assert trials.row("trial_site_party", TRIAL, "001") == {
        "trial_id": TRIAL,
        "site": "001",
        "gln": SITE_GLN,
    }
    assert trials.row("trial_site_party", TRIAL, "002") is None  # the sponsor writes for it
    assert trials.row("trial_party", TRIAL, SITE_GLN) == {
        "trial_id": TRIAL,
        "gln": SITE_GLN,
        "sites": 1,
    }
    study = trials.study
    both = [
        {"site": "A", "name": "Site A", "gln": SITE_GLN},
        {"site": "B", "name": "Site B", "gln": SITE_GLN},
    ]
    study.send(study.sponsor, "trial.register", registration(trial="NCT00000002", sites=both))
    listed = trials.row("trial_party", "NCT00000002", SITE_GLN)
    assert listed is not None and listed["sites"] == 2


@pytest.mark.parametrize(
    ("gln", "status"),
    [
        (UNREGISTERED_GLN, 409),  # no such party
        ("5412345000051", 422),  # a registered party without the role site
        ("5412345000106", 422),  # not a GLN (check digit)
        (None, 422),
    ],
)
def test_a_site_party_is_a_registered_site(trials: Trials, gln: str | None, status: int) -> None:
    sites = [{"site": "001", "name": "Site one", "gln": gln}]
    before = trials.state()
    body = registration(trial="NCT00000003", sites=sites)
    trials.study.send(trials.study.sponsor, "trial.register", body, status=status)
    assert trials.state() == before


@pytest.mark.parametrize("signer", ["other", "rival_site", "loose_site"])
def test_no_one_else_writes_into_a_trial(trials: Trials, signer: str) -> None:
    """Another trial's sponsor, another trial's site party and a site party no trial lists."""
    study = trials.study
    party = {"other": study.other, "rival_site": trials.rival_site}.get(signer, trials.loose_site)
    vs = study.dataset_body("VS", VS_CSV)
    trials.refused(party, "dataset.submit", vs)
    trials.refused(party, "dataset.amend", amendment(study.dataset_body("AE", AE_CSV)))
    trials.refused(party, "subject.enrol", dict(enrolment("S-9", "001"), signature=SIG))
    trials.refused(party, "consent.record", consent("S-9", "001"))
    trials.refused(party, "consent.withdraw", withdrawal("S-1"))
    trials.refused(party, "consent.withdraw", withdrawal("S-9"))  # consented nowhere yet
    study.send(study.sponsor, "dataset.submit", vs)  # the same statement, by its sponsor


def test_a_listed_site_party_writes_for_its_own_site_only(trials: Trials) -> None:
    study, site = trials.study, trials.study.site
    study.send(site, "consent.record", consent("S-3", "001"))
    study.send(site, "subject.enrol", dict(enrolment("S-3", "001"), signature=SIG))
    trials.refused(site, "consent.record", consent("S-4", "002"))
    trials.refused(site, "subject.enrol", dict(enrolment("S-4", "002"), signature=SIG))
    study.send(site, "consent.withdraw", withdrawal("S-1"))  # enrolled at 001
    trials.refused(site, "consent.withdraw", withdrawal("S-2"))  # enrolled at 002
    study.send(site, "consent.withdraw", withdrawal("S-5"))  # not enrolled: any listed site
    # Datasets name no site: any party listed for a site of the trial submits and amends them.
    study.send(site, "dataset.submit", study.dataset_body("VS", VS_CSV))
    study.send(site, "dataset.amend", amendment(study.dataset_body("AE", AE_CSV)))
    # The sponsor writes for every site, those without a party too.
    study.send(study.sponsor, "subject.enrol", dict(enrolment("S-4", "002"), signature=SIG))
    rebuilt = trials.app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert "identical" in rebuilt.output, rebuilt.output


def test_a_sponsor_erases_only_its_own_trials_payloads(trials: Trials) -> None:
    study, payload = trials.study, trials.ae["payload"]
    erase = {
        "trial": OTHER_TRIAL,
        "payload": payload,
        "reason": "Subject S-2 exercised the right to erasure (GDPR art. 17)",
        "signature": SIG,
    }
    trials.refused(study.other, "payload.erase", erase)  # its own trial, another's payload
    trials.refused(study.other, "payload.erase", dict(erase, trial=TRIAL))  # not its trial
    trials.refused(study.sponsor, "payload.erase", erase)  # not the sponsor of OTHER_TRIAL
    assert study.read(f"/api/v1/trials/payloads/{payload}").status_code == 200
    # Nor can another trial make the payload its own by naming it first.
    before = trials.state()
    study.send(study.other, "dataset.submit", dict(trials.ae, trial=OTHER_TRIAL), status=409)
    assert trials.state() == before
    unused, _ = study.upload(b"subject,aeterm\nS-7,Rash\n")
    trials.refused(study.sponsor, "payload.erase", dict(erase, trial=TRIAL, payload=unused))
    study.send(study.sponsor, "payload.erase", dict(erase, trial=TRIAL))
    assert study.read(f"/api/v1/trials/payloads/{payload}").status_code == 410


def test_a_protocol_cannot_name_another_trials_payload(trials: Trials) -> None:
    study = trials.study
    mine = study.protocol(2, OUTCOMES, reason="Secondary outcome time frame clarified (ref 7)")
    study.send(study.sponsor, "protocol.commit", mine)
    theirs = dict(mine, trial=OTHER_TRIAL)
    before = trials.state()
    problem = study.send(study.other, "protocol.commit", theirs, status=409)
    assert TRIAL in problem["detail"]
    assert trials.state() == before


def test_the_demo_site_party_acts_for_its_site(
    app: Flask, client: FlaskClient, authority: Authority
) -> None:
    sponsor = register_person(
        client,
        register_party(client, authority, "Sponsor", story.SPONSOR.gln, ["sponsor"]),
        "P-1",
        "Dr. A. Sponsor",
        "medical director",
    )
    register_party(client, authority, "Site", story.SITE.gln, ["site"])
    with app.app_context():
        kind, body = story.statements(service())[0]
    assert kind == "trial.register"
    send(client, sponsor, kind, body)
    with app.app_context(), read_connection(service().engine) as conn:
        view = DbView(conn, TRIAL_KEYS)
        link = view.row("trial_site_party", (story.TRIAL_ID, story.SITE_OF_PARTY))
        listed = view.row("trial_party", (story.TRIAL_ID, story.SITE.gln))
    assert link is not None and link["gln"] == story.SITE.gln
    assert listed is not None and listed["sites"] == 1


# --- rules 1 ---------------------------------------------------------------------------------


class MemoryLog:
    """The installed rules over an in-memory projection, one entry per `send`, under `rules`."""

    def __init__(self, rules: int) -> None:
        self.registry = load_plugins().registry
        self.view = MemoryView(self.registry.key_columns)
        self.rules = rules
        self.index = 1
        self.keys: dict[str, str] = {}

    def party(self, gln: str, role: str) -> None:
        der = public_key_der(generate_private_key())
        self.keys[gln] = key_id(der)
        party = PartyRecord(gln=gln, name=gln, roles=(role,), registered_index=1)
        key = KeyRecord(key_id=key_id(der), gln=gln, public_key=der, added_index=1, added_at=ADDED)
        # The key is a person's, as trial statements need from rules 2 on.
        person = PersonRecord(key_id(der), gln, "P-1", f"Person of {gln}", role, 1)
        self.view.apply([PutParty(party), PutKey(key), PutPerson(person)])

    def upload(self, data: bytes) -> str:
        salt = hashlib.sha256(data).digest()
        key = commitment(salt, data)
        row = {
            "commitment": key,
            "salt": salt,
            "sha256": hashlib.sha256(data).hexdigest(),
            "media_type": "text/plain",
            "data": data,
            "size": len(data),
            "stored_at": now_timestamp(),
            "erased_index": None,
        }
        self.view.apply([PutRow("trial_payload", (key,), row)])
        return key

    def send(self, gln: str, kind: str, body: dict[str, Any]) -> None:
        if self.rules < 2 and "signature" in body:  # rules 1: the signer typed the name
            body = dict(body, signature=dict(body["signature"], printed_name=f"Signer {gln}"))
        statement = make_statement(kind, body, self.keys[gln], log=ORIGIN)
        context = EntryContext(self.index, now_timestamp(), self.rules, ORIGIN)
        self.view.apply(self.registry.evaluate(self.view, statement, context))
        self.index += 1

    def protocol(self, gln: str, trial: str) -> str:
        document = f"protocol of {trial}".encode()
        payload = self.upload(document)
        body = {
            "trial": trial,
            "version": 1,
            "payload": payload,
            "outcomes": OUTCOMES,
            "document": hashlib.sha256(document).hexdigest(),
            "reconsent": False,
            "signature": SIG,
        }
        self.send(gln, "protocol.commit", body)
        return payload


def plain_registration() -> dict[str, Any]:
    """The test registration without site parties, as a rules-1 log knows it."""
    body = registration()
    body["sites"] = [{k: v for k, v in site.items() if k != "gln"} for site in body["sites"]]
    return body


@pytest.mark.parametrize("rules", [1, 2])
def test_another_sponsor_writes_into_a_trial_under_rules_1_only(rules: int) -> None:
    log = MemoryLog(rules)
    log.party("5412345000051", "sponsor")
    log.party("5412345000099", "sponsor")
    log.send("5412345000051", "trial.register", plain_registration())
    log.send("5412345000099", "trial.register", dict(plain_registration(), trial=OTHER_TRIAL))
    payload = log.protocol("5412345000051", TRIAL)
    log.protocol("5412345000099", OTHER_TRIAL)
    writes: list[tuple[str, dict[str, Any]]] = [
        ("subject.enrol", dict(enrolment("S-9", "001"), signature=SIG)),
        ("consent.record", consent("S-9", "001")),
        ("consent.withdraw", withdrawal("S-9")),
        (
            "payload.erase",
            {"trial": OTHER_TRIAL, "payload": payload, "reason": "x" * 20, "signature": SIG},
        ),
    ]
    for kind, body in writes:
        if rules == 1:
            log.send("5412345000099", kind, body)
        else:
            with pytest.raises(WrongRole):
                log.send("5412345000099", kind, body)
    erased = log.view.row("trial_payload", (payload,))
    assert erased is not None and (erased["data"] is None) == (rules == 1)


def test_rules_1_logs_list_no_site_parties() -> None:
    log = MemoryLog(1)
    log.party("5412345000051", "sponsor")
    log.party(SITE_GLN, "site")
    with pytest.raises(BadStatement, match=r"each site is \{site, name, activated\?\}"):
        log.send("5412345000051", "trial.register", registration())
    log.send("5412345000051", "trial.register", plain_registration())
    assert not log.view.tables.get("trial_site_party")
