"""Trial statements over the API: every kind, every refusal, datasets, consent and erasure."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import pandas as pd
import pyreadstat
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.parties import (
    Authority,
    PartyKey,
    read,
    register_party,
    register_person,
    send,
    signed,
)
from trials.client import MEDIA_TYPES
from trials.dataset_files import parse_dataset
from trials.datasets import content_hash
from trials.payloads import commitment, content_commitment

TRIAL = "NCT01234567"
#: The site party the test trial lists for its site 001 (site 002 has none).
SITE_GLN = "5412345000068"
SPONSOR_PERSON = "Dr. A. Sponsor"
SITE_PERSON = "Dr. S. Investigator"
SIG = {"meaning": "approval"}
OUTCOMES = [
    {"id": "P1", "title": "Overall survival", "type": "primary", "time_frame": "24 months"},
    {"id": "S1", "title": "Quality of life", "type": "secondary", "time_frame": "12 months"},
]


@dataclass
class Study:
    client: FlaskClient
    sponsor: PartyKey
    site: PartyKey
    other: PartyKey
    salts: list[bytes] = field(default_factory=list)

    @classmethod
    def with_parties(cls, client: FlaskClient, authority: Authority) -> Self:
        """A study whose sponsor, site and another sponsor the authority has just registered,
        each acting through a person it registered (trial statements are people's signatures)."""
        people = []
        for name, gln, role, person in (
            ("Sponsor", "5412345000051", "sponsor", SPONSOR_PERSON),
            ("Site 001", SITE_GLN, "site", SITE_PERSON),
            ("Other sponsor", "5412345000099", "sponsor", "Dr. O. Other"),
        ):
            party = register_party(client, authority, name, gln, [role])
            people.append(register_person(client, party, "P-1", person, role))
        return cls(client, *people)

    @classmethod
    def with_protocol(cls, client: FlaskClient, authority: Authority) -> Self:
        """A study whose sponsor has registered the trial and committed protocol version 1."""
        study = cls.with_parties(client, authority)
        study.send(study.sponsor, "trial.register", registration())
        study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
        return study

    def send(self, party: PartyKey, kind: str, body: dict[str, Any], status: int = 201) -> Any:
        return send(self.client, party, kind, body, status)

    def upload(
        self, data: bytes, media_type: str = "text/csv", party: PartyKey | None = None
    ) -> tuple[str, bytes]:
        """Upload as `party` (the sponsor unless given), with a salt of its own."""
        salt = hashlib.sha256(data + bytes([len(self.salts)])).digest()
        self.salts.append(salt)
        url = "/api/v1/trials/payloads"
        headers = {"X-Salt": salt.hex(), "Content-Type": media_type}
        headers.update(signed(party or self.sponsor, "POST", url, data))
        response = self.client.post(url, data=data, headers=headers)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["commitment"] == commitment(salt, data)
        return response.get_json()["commitment"], salt

    def protocol(self, version: int, outcomes: list[dict[str, str]], **extra: Any) -> Any:
        document = f"protocol {version}".encode() * 10
        payload, _ = self.upload(document, "text/plain")
        body = {
            "trial": TRIAL,
            "version": version,
            "payload": payload,
            "outcomes": outcomes,
            "document": hashlib.sha256(document).hexdigest(),
            "reconsent": False,
            "signature": SIG,
            **extra,
        }
        return body

    def dataset_body(self, name: str, data: bytes, fmt: str = "csv") -> dict[str, Any]:
        payload, salt = self.upload(data, MEDIA_TYPES[fmt])
        parsed = parse_dataset(data, fmt)
        return {
            "trial": TRIAL,
            "dataset": name,
            "domain": "AE",
            "format": fmt,
            "payload": payload,
            "content_commitment": content_commitment(salt, content_hash(parsed)),
            "rows": parsed.row_count,
            "columns": parsed.column_count,
            "signature": SIG,
        }

    def read(self, url: str, party: PartyKey | None = None) -> Any:
        """GET `url` signed as `party` (the sponsor unless given)."""
        return read(self.client, party or self.sponsor, url)

    def trial(self) -> Any:
        return self.read(f"/api/v1/trials/{TRIAL}").get_json()


def registration(**extra: Any) -> dict[str, Any]:
    return {
        "trial": TRIAL,
        "title": "A trial",
        "phase": "3",
        "planned_enrolment": 100,
        "primary_completion": "2027-06-30",
        "signature": SIG,
        "sites": [
            {"site": "001", "name": "Site one", "activated": "2026-01-15", "gln": SITE_GLN},
            {"site": "002", "name": "Site two"},
        ],
        **extra,
    }


@pytest.fixture
def study(client: FlaskClient, authority: Authority) -> Study:
    s = Study.with_parties(client, authority)
    s.send(s.sponsor, "trial.register", registration())
    return s


AE_CSV = b"subject,aeterm,aeser,aestdt\nS-1,Headache,N,2026-02-01\nS-2,Nausea,Y,2026-02-03\n"


def test_registration_rules(study: Study) -> None:
    study.send(study.sponsor, "trial.register", registration(), status=409)
    study.send(study.site, "trial.register", registration(trial="NCT07654321"), status=403)
    for bad in (
        {"trial": "NCT123"},
        {"phase": "5"},
        {"primary_completion": "2027-13-01"},
        {"sites": []},
        {"signature": {"printed_name": "x", "meaning": "liking"}},
    ):
        study.send(
            study.sponsor,
            "trial.register",
            registration(**{"trial": "NCT07654321", **bad}),
            status=422,
        )
    missing = registration(trial="2024-123456-12-00")
    del missing["signature"]
    problem = study.send(study.sponsor, "trial.register", missing, status=422)
    assert "signature" in str(problem)
    study.send(study.sponsor, "trial.register", registration(trial="2024-123456-12-00"))  # CTIS
    ctis = study.read("/api/v1/trials/2024-123456-12-00").get_json()["trial"]
    assert ctis["registry_name"] == "CTIS"


def test_protocol_versions_only_add_and_need_reasons(study: Study) -> None:
    study.send(study.sponsor, "protocol.commit", study.protocol(2, OUTCOMES), status=409)
    study.send(study.other, "protocol.commit", study.protocol(1, OUTCOMES), status=403)
    no_primary = [dict(o, type="secondary") for o in OUTCOMES]
    study.send(study.sponsor, "protocol.commit", study.protocol(1, no_primary), status=422)
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES), status=409)
    switched = [dict(o, type="primary") if o["id"] == "S1" else o for o in OUTCOMES]
    for reason in (None, "", "updated", "Minor changes."):
        extra = {} if reason is None else {"reason": reason}
        study.send(
            study.sponsor, "protocol.commit", study.protocol(2, switched, **extra), status=422
        )
    why = "Quality of life promoted to primary after regulator scientific advice (ref 2026/17)"
    study.send(study.sponsor, "protocol.commit", study.protocol(2, switched, reason=why))
    versions = study.trial()["protocols"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["changes"] == [
        {"id": "S1", "change": "type changed", "from": "secondary", "to": "primary"}
    ]
    body = study.protocol(3, OUTCOMES, reason=why)
    body["document"] = "0" * 64
    study.send(study.sponsor, "protocol.commit", body, status=422)  # not the uploaded bytes


def test_no_data_before_protocol_and_none_after_lock(study: Study) -> None:
    body = study.dataset_body("AE", AE_CSV)
    study.send(study.sponsor, "dataset.submit", body, status=409)
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    lock = {
        "trial": TRIAL,
        "reason": "Database lock after last patient last visit",
        "signature": SIG,
    }
    study.send(study.sponsor, "trial.lock", lock)
    study.send(study.sponsor, "trial.lock", lock, status=409)
    study.send(study.site, "dataset.submit", body, status=409)
    study.send(study.sponsor, "trial.unlock", dict(lock, reason="ok"), status=422)
    unlock = dict(lock, reason="Unlocked to correct AE coding found in the final review")
    study.send(study.sponsor, "trial.unlock", unlock)
    study.send(study.site, "dataset.submit", body)
    study.send(study.site, "dataset.submit", body, status=409)  # exists: amend instead


def test_dataset_checks_against_the_uploaded_bytes(study: Study) -> None:
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    body = study.dataset_body("AE", AE_CSV)
    study.send(study.site, "dataset.submit", dict(body, rows=3), status=422)
    study.send(study.site, "dataset.submit", dict(body, content_commitment="0" * 64), status=422)
    study.send(study.site, "dataset.submit", dict(body, payload="1" * 64), status=409)
    study.send(study.site, "dataset.submit", dict(body, domain="adverse"), status=422)
    study.send(study.site, "dataset.submit", dict(body, format="xpt"), status=422)
    study.send(study.site, "dataset.submit", body)


def test_amendments_keep_both_versions_and_need_a_reason(study: Study) -> None:
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    first = study.dataset_body("AE", AE_CSV)
    study.send(study.site, "dataset.submit", first)
    fixed = AE_CSV.replace(b"Nausea,Y", b"Nausea,N")
    second = study.dataset_body("AE", fixed)
    for reason in ("", "correction", "data update"):
        study.send(
            study.site, "dataset.amend", dict(second, supersedes=1, reason=reason), status=422
        )
    why = "AESER corrected for subject S-2 after source data verification (query Q-7)"
    study.send(study.site, "dataset.amend", dict(second, supersedes=2, reason=why), status=409)
    study.send(study.site, "dataset.amend", dict(second, supersedes=1, reason=why))
    history = study.read(f"/api/v1/trials/{TRIAL}/datasets/AE/history").get_json()["versions"]
    assert [(v["version"], v["reason"], v["printed_name"], v["meaning"]) for v in history] == [
        # The site's investigator signed both: the name is theirs, from the registry.
        (1, None, SITE_PERSON, "approval"),
        (2, why, SITE_PERSON, "approval"),
    ]
    for version in history:  # both versions stay retrievable
        assert study.read(f"/api/v1/trials/payloads/{version['payload']}").status_code == 200
    trail = study.read(f"/api/v1/trials/{TRIAL}/history").get_json()["history"]
    assert [e["action"] for e in trail] == ["register", "protocol", "submit", "amend"]
    assert trail[-1]["reason"] == why
    exported = study.read(f"/api/v1/trials/{TRIAL}/history.csv").get_data(as_text=True)
    lines = exported.splitlines()
    assert lines[0].startswith("logged_at,entry,action,what,reason,party,printed_name,meaning")
    assert len(lines) == 5 and f"{SITE_PERSON},approval" in lines[-1] and why in lines[-1]
    assert f"{SPONSOR_PERSON},approval" in lines[1]  # the registration: the sponsor's person


def test_xpt_and_csv_of_the_same_data_share_a_content_hash(study: Study, tmp_path: Path) -> None:
    frame = pd.DataFrame({"USUBJID": ["S-1", "S-2"], "AGE": [34.0, 51.0], "SEX": ["F", "M"]})
    xpt = tmp_path / "dm.xpt"
    pyreadstat.write_xport(frame, str(xpt), file_format_version=5, table_name="DM")
    csv = io.StringIO()
    frame.rename(columns=str.lower).to_csv(csv, index=False)
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    from_xpt = study.dataset_body("DM", xpt.read_bytes(), "xpt")
    from_csv = study.dataset_body("DM-CSV", csv.getvalue().encode(), "csv")
    assert content_hash(parse_dataset(xpt.read_bytes(), "xpt")) == content_hash(
        parse_dataset(csv.getvalue().encode(), "csv")
    )
    study.send(study.site, "dataset.submit", dict(from_xpt, domain="DM"))
    study.send(study.site, "dataset.submit", dict(from_csv, domain="DM"))
    assert from_xpt["rows"] == 2 and from_xpt["columns"] == 3


def test_consent_binding_withdrawal_and_reconsent(study: Study) -> None:
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    base = {"trial": TRIAL, "site": "001", "signature": SIG}
    study.send(
        study.site,
        "consent.record",
        dict(base, subject="S-1", consented="2026-02-01", protocol_version=2),
        status=409,
    )
    study.send(
        study.site,
        "consent.record",
        dict(base, subject="Jane Doe", consented="2026-02-01", protocol_version=1),
        status=422,
    )
    study.send(
        study.site,
        "consent.record",
        dict(base, subject="S-1", consented="2026-02-01", protocol_version=1),
    )
    study.send(study.site, "subject.enrol", dict(base, subject="S-1", enrolled="2026-02-02"))
    study.send(study.site, "subject.enrol", dict(base, subject="S-2", enrolled="2026-02-02"))
    study.send(
        study.site, "subject.enrol", dict(base, subject="S-2", enrolled="2026-02-02"), status=409
    )
    study.send(
        study.site,
        "subject.enrol",
        dict(base, subject="S-3", site="999", enrolled="2026-02-02"),
        status=409,
    )
    study.send(
        study.site,
        "consent.record",
        dict(base, subject="S-2", consented="2026-02-05", protocol_version=1),
    )
    why = "New safety information on hepatotoxicity requires updated consent"
    study.send(
        study.sponsor, "protocol.commit", study.protocol(2, OUTCOMES, reason=why, reconsent=True)
    )
    study.send(
        study.site,
        "consent.record",
        dict(base, subject="S-2", consented="2026-03-01", protocol_version=2),
    )
    study.send(
        study.site,
        "consent.withdraw",
        {"trial": TRIAL, "subject": "S-2", "withdrawn": "2026-04-01", "signature": SIG},
    )
    status = study.read(f"/api/v1/trials/{TRIAL}/consent").get_json()
    assert status["needs_reconsent"] == ["S-1"] and status["withdrawn"] == ["S-2"]
    assert [(f["subject"], f["kind"]) for f in status["findings"]] == [
        ("S-2", "enrolled-before-consent")
    ]


def test_results_and_erasure(study: Study, app: Flask) -> None:
    early = {"trial": TRIAL, "outcomes": [{"id": "P1", "summary": "x"}], "signature": SIG}
    study.send(study.sponsor, "results.report", early, status=409)  # no protocol yet
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    study.send(study.other, "results.report", early, status=403)
    study.send(study.sponsor, "results.report", dict(early, outcomes=[{"id": "P1"}]), status=422)
    body = study.dataset_body("AE", AE_CSV)
    study.send(study.site, "dataset.submit", body)
    report = {"trial": TRIAL, "outcomes": [{"id": "P1", "summary": "HR 0.8"}], "signature": SIG}
    study.send(study.sponsor, "results.report", report)
    erase = {
        "trial": TRIAL,
        "payload": body["payload"],
        "reason": "Subject S-2 exercised the right to erasure (GDPR art. 17)",
        "signature": SIG,
    }
    study.send(study.site, "payload.erase", erase, status=403)
    study.send(study.sponsor, "payload.erase", erase)
    study.send(study.sponsor, "payload.erase", erase, status=409)
    gone = study.read(f"/api/v1/trials/payloads/{body['payload']}")
    assert gone.status_code == 410 and gone.mimetype == "application/problem+json"
    assert (
        gone.get_json()["reason"] == erase["reason"]
        and gone.get_json()["erased_by"] == study.sponsor.gln
    )
    # The same bytes cannot be referenced again once erased.
    again = study.dataset_body("AE2", AE_CSV)
    assert again["payload"] != body["payload"]  # a new salt, a new commitment
    runner = app.test_cli_runner()
    verified = runner.invoke(args=["verify", "--quiet", "--workers", "1"])
    assert verified.exit_code == 0, verified.output
    rebuilt = runner.invoke(args=["rebuild", "--quiet"])
    assert "identical" in rebuilt.output, rebuilt.output
    assert study.read(f"/api/v1/trials/payloads/{body['payload']}").status_code == 410
