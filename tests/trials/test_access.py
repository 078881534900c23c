"""Who reads and uploads what in the trials: every route, as every kind of party."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import BACKENDS, app_on
from tests.parties import Authority, PartyKey, read, register_party, signed
from tests.trials.test_trials import AE_CSV, OUTCOMES, SIG, TRIAL, Study, registration
from trials.queries import REGISTRATION_COLUMNS
from trials.web import ACCESS

OTHER_TRIAL = "NCT07654321"
ROLES = ("anonymous", "sponsor", "other sponsor", "site party", "unlisted site", "regulator")
#: The trial's own parties and regulators; anonymous requests are asked to sign (401).
TRIAL_READERS = {
    "anonymous": 401,
    "sponsor": 200,
    "other sponsor": 403,
    "site party": 200,
    "unlisted site": 403,
    "regulator": 200,
}
EVERYONE = dict.fromkeys(ROLES, 200)
#: A payload no statement names yet: its uploader (the sponsor) and regulators.
UPLOADER = dict(TRIAL_READERS, **{"site party": 403})
#: The trial reports: regulators, and the trial's sponsor for its own trial.
REPORT_READERS = dict(TRIAL_READERS, **{"site party": 403})


@dataclass
class World:
    """TRIAL (its sponsor; site 001 listed for `site party`, 002 for nobody) with protocol v1,
    dataset AE, S-1 enrolled and consented at 001, S-2 enrolled at 002 without consent, and S-9
    withdrawn by the site party before any enrolment; OTHER_TRIAL of `other sponsor`, whose
    only site lists `unlisted site`."""

    app: Flask
    client: FlaskClient
    study: Study
    parties: dict[str, PartyKey | None]
    named: str  # the payload of TRIAL's dataset AE
    unnamed: str  # uploaded by TRIAL's sponsor, named by no statement

    def status(self, role: str, url: str) -> int:
        return int(read(self.client, self.parties[role], url).status_code)

    def statuses(self, url: str) -> dict[str, int]:
        return {role: self.status(role, url) for role in ROLES}

    def json(self, role: str, url: str) -> Any:
        response = read(self.client, self.parties[role], url)
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The matrix runs on SQLite and on PostgreSQL: the rules must not depend on SQL."""
    with app_on(request.param, tmp_path_factory.mktemp("access") / "data") as app:
        yield from _world(app)


S = TypeVar("S", bound=Study)


def matrix_study(app: Flask, kind: type[S]) -> tuple[S, dict[str, PartyKey | None], dict[str, Any]]:
    """The matrix's trial, its protocol committed and its AE dataset submitted, and another
    sponsor's trial listing the unlisted site; each role's key (None: anonymous) and the AE
    submission."""
    client = app.test_client()
    authority = Authority.from_app(app)
    study = kind.with_parties(client, authority)
    rival = register_party(client, authority, "Rival site", "5412345000075", ["site"])
    regulator = register_party(client, authority, "Regulator", "5412345000044", ["regulator"])
    study.send(study.sponsor, "trial.register", registration())
    rival_sites = [{"site": "R1", "name": "Rival site", "gln": rival.gln}]
    study.send(study.other, "trial.register", registration(trial=OTHER_TRIAL, sites=rival_sites))
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    ae = study.dataset_body("AE", AE_CSV)
    study.send(study.site, "dataset.submit", ae)
    parties: dict[str, PartyKey | None] = {
        "anonymous": None,
        "sponsor": study.sponsor,
        "other sponsor": study.other,
        "site party": study.site,
        "unlisted site": rival,
        "regulator": regulator,
    }
    return study, parties, ae


def _world(app: Flask) -> Iterator[World]:
    study, parties, ae = matrix_study(app, Study)
    base = {"trial": TRIAL, "signature": SIG}
    consent = dict(base, subject="S-1", site="001", consented="2026-02-01", protocol_version=1)
    study.send(study.site, "consent.record", consent)
    study.send(
        study.site, "subject.enrol", dict(base, subject="S-1", site="001", enrolled="2026-02-02")
    )
    study.send(
        study.sponsor, "subject.enrol", dict(base, subject="S-2", site="002", enrolled="2026-02-03")
    )
    study.send(study.site, "consent.withdraw", dict(base, subject="S-9", withdrawn="2026-02-04"))
    unnamed, _ = study.upload(b"a draft no statement names yet", "text/plain")
    yield World(app, study.client, study, parties, ae["payload"], unnamed)


ROUTES = [
    ("trials.list_trials", "/api/v1/trials", EVERYONE),
    ("trials.trials_page", "/trials", EVERYONE),
    ("trials.trial_json", "/api/v1/trials/{trial}", TRIAL_READERS),
    ("trials.trial_page", "/trials/{trial}", TRIAL_READERS),
    ("trials.trial_history", "/api/v1/trials/{trial}/history", TRIAL_READERS),
    ("trials.trial_history_csv", "/api/v1/trials/{trial}/history.csv", TRIAL_READERS),
    ("trials.dataset_history", "/api/v1/trials/{trial}/datasets/AE/history", TRIAL_READERS),
    ("trials.consent", "/api/v1/trials/{trial}/consent", TRIAL_READERS),
    ("trials.download_payload", "/api/v1/trials/payloads/{named}", TRIAL_READERS),
    ("trials.download_payload", "/api/v1/trials/payloads/{unnamed}", UPLOADER),
]


@pytest.mark.parametrize(("endpoint", "route", "expected"), ROUTES, ids=[r[1] for r in ROUTES])
def test_who_reads_each_trial_route(
    world: World, endpoint: str, route: str, expected: dict[str, int]
) -> None:
    url = route.format(trial=TRIAL, named=world.named, unnamed=world.unnamed)
    assert world.statuses(url) == expected


def test_every_trial_route_is_in_the_table() -> None:
    assert {endpoint for endpoint, _, _ in ROUTES} | {
        "trials.upload_payload",
        "trials.stylesheet",  # the trial page's style, public
    } == set(ACCESS)


def test_sponsors_and_site_parties_upload(world: World) -> None:
    url = "/api/v1/trials/payloads"
    statuses = {}
    for number, role in enumerate(ROLES):
        data = f"upload number {number}".encode()
        headers = {"X-Salt": f"{number:02x}" * 32, "Content-Type": "text/plain"}
        party = world.parties[role]
        if party is not None:
            headers.update(signed(party, "POST", url, data))
        statuses[role] = world.client.post(url, data=data, headers=headers).status_code
    assert statuses == {
        "anonymous": 401,
        "sponsor": 201,
        "other sponsor": 201,
        "site party": 201,
        "unlisted site": 201,
        "regulator": 403,
    }


def test_unknown_trials_and_payloads_are_404_once_signed_in(world: World) -> None:
    for url in ("/api/v1/trials/NCT00000404", "/api/v1/trials/payloads/" + "0" * 64):
        statuses = world.statuses(url)
        assert statuses["anonymous"] == 401
        assert {statuses[role] for role in ROLES[1:]} == {404}


def test_the_public_list_holds_registration_facts_only(world: World) -> None:
    listed = world.json("anonymous", "/api/v1/trials")["trials"]
    assert [t["trial_id"] for t in listed] == [TRIAL, OTHER_TRIAL]
    assert all(set(t) == set(REGISTRATION_COLUMNS) for t in listed)
    page = read(world.client, None, "/trials").get_data(as_text=True)
    assert f'href="/trials/{TRIAL}"' in page and "locked" not in page


def test_a_site_party_sees_its_own_sites_subjects(world: World) -> None:
    url = f"/api/v1/trials/{TRIAL}/consent"
    everyone = world.json("sponsor", url)
    assert (everyone["enrolled"], everyone["consented"], everyone["withdrawn"]) == (2, 1, ["S-9"])
    assert [(f["subject"], f["kind"]) for f in everyone["findings"]] == [("S-2", "no-consent")]
    assert world.json("regulator", url) == everyone
    own = world.json("site party", url)
    assert (own["enrolled"], own["consented"], own["withdrawn"], own["findings"]) == (1, 1, [], [])
    assert world.json("site party", f"/api/v1/trials/{TRIAL}")["consent"] == own

    def trail(role: str) -> list[tuple[str, str]]:
        rows = world.json(role, f"/api/v1/trials/{TRIAL}/history")["history"]
        return [(row["action"], row["subject"]) for row in rows]

    assert ("enrol", "subject S-2 at site 002") in trail("sponsor")
    seen = trail("site party")
    assert ("enrol", "subject S-1 at site 001") in seen
    assert not any("S-2" in what for _, what in seen)
    assert ("withdraw", "subject S-9") in seen  # no site's subject, but the party signed it
    assert len(seen) == len(trail("sponsor")) - 1
    csv_text = read(world.client, world.study.site, f"/api/v1/trials/{TRIAL}/history.csv").text
    page = read(world.client, world.study.site, f"/trials/{TRIAL}").text
    assert "S-1" in csv_text and "S-1" in page
    assert "S-2" not in csv_text and "S-2" not in page
    # Datasets name no site: every party listed for the trial sees all of them.
    versions = world.json("site party", f"/api/v1/trials/{TRIAL}/datasets/AE/history")["versions"]
    assert [v["payload"] for v in versions] == [world.named]


@pytest.mark.parametrize("report", ["trial-checks", "monitoring"])
def test_a_sponsor_runs_the_trial_reports_for_its_own_trial_only(world: World, report: str) -> None:
    own = f"/reports/{report}/report.json?trial={TRIAL}"
    assert world.statuses(own) == REPORT_READERS
    assert world.status("sponsor", f"/reports/{report}/report.json") == 403  # every trial
    assert world.status("sponsor", f"/reports/{report}/report.json?trial={OTHER_TRIAL}") == 403
    assert (
        world.status("other sponsor", f"/reports/{report}/report.json?trial={OTHER_TRIAL}") == 200
    )
    assert world.status("regulator", f"/reports/{report}/report.json") == 200


def _trial_entries(world: World) -> dict[tuple[str, str | None], int]:
    """(kind, subject) → index of each statement of TRIAL, as a regulator reads the log."""
    found: dict[tuple[str, str | None], int] = {}
    size = int(world.client.get("/api/v1/log").get_json()["size"])
    for index in range(size):
        entry = world.json("regulator", f"/api/v1/log/entries/{index}")["entry"]
        statement = json.loads(base64.b64decode(entry["envelope"]["payload"]))
        if statement["body"].get("trial") == TRIAL:
            found[(statement["kind"], statement["body"].get("subject"))] = index
    return found


def test_a_trial_entry_is_read_by_the_trials_readers(world: World) -> None:
    """An entry, its receipt and its payload follow the trial's reading rules: the sponsor and
    the listed site parties read the trial's entries, a site only its own sites' subjects'."""
    entries = _trial_entries(world)
    trial_wide = dict(TRIAL_READERS)  # sponsor, listed site party, regulator
    own_site = dict(TRIAL_READERS)  # S-1, at site 001, listed for the site party
    other_site = dict(TRIAL_READERS, **{"site party": 403})  # S-2, at site 002
    cases = {
        ("trial.register", None): trial_wide,
        ("protocol.commit", None): trial_wide,
        ("dataset.submit", None): trial_wide,  # signed by the site party: the sponsor reads it
        ("subject.enrol", "S-1"): own_site,
        ("consent.record", "S-1"): own_site,
        ("subject.enrol", "S-2"): other_site,  # signed by the sponsor, at site 002
    }
    for key, expected in cases.items():
        for url in (f"/api/v1/log/entries/{entries[key]}", f"/log/receipt/{entries[key]}"):
            assert world.statuses(url) == expected, (key, url)
