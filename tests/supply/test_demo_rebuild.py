"""The demo chain shows every verdict; `flask rebuild` replays the log into identical state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from provenance.demo import demo_key
from provenance.log.rebuild import projection_digest
from provenance.log.store.engine import read_connection, write_transaction
from provenance.supply import demo as demo_supply
from provenance.web.context import service
from tests.conftest import make_app
from tests.parties import PartyKey, read

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One demo log (supply chain and trial) for the module; the drift test repairs itself."""
    app = make_app(tmp_path_factory.mktemp("demo") / "data", demo=True)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init"]).exit_code == 0
    result = runner.invoke(args=["seed-demo", "--entries", "3"])
    assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        service().close()


def demo_party(app: Flask, slug: str) -> PartyKey:
    """A demo party of the supply story, with the key the seed made for it."""
    party = next(p for p in demo_supply.parties() if p.slug == slug)
    with app.app_context():
        return PartyKey(demo_key(service().settings.data_dir, slug), party.gln)


@pytest.mark.parametrize("expected", sorted(demo_supply.SHOWCASE))
def test_demo_shows_each_verdict(seeded: Flask, expected: str) -> None:
    gtin, lot, serial = demo_supply.SHOWCASE[expected]
    response = seeded.test_client().get(
        f"/01/{gtin}/10/{lot}/21/{serial}", headers={"Accept": "application/json"}
    )
    assert response.get_json()["verdict"] == expected


def test_demo_full_chain_reaches_the_patient(seeded: Flask) -> None:
    gtin, lot, _ = demo_supply.SHOWCASE["authentic"]
    client, city = seeded.test_client(), demo_party(seeded, demo_supply.CITY)
    body = read(client, city, f"/01/{gtin}/10/{lot}", headers=JSON).get_json()
    actions = [e["action"] for e in body["timeline"]]
    assert actions[:6] == ["commission", "ship", "receive", "ship", "receive", "dispense"]
    assert body["batch"]["conserved"]
    kinds = {a["kind"] for a in read(client, city, "/api/v1/alerts").get_json()["alerts"]}
    assert "unknown-serial" in kinds  # the forged pack City Pharmacy scanned


def test_rebuild_gives_identical_projection(seeded: Flask) -> None:
    with seeded.app_context(), read_connection(service().engine) as conn:
        before = projection_digest(conn, service().registry)
        ((batches,),) = conn.execute(text("SELECT count(*) FROM batch")).all()
    assert batches == 4
    result = seeded.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "identical to the projection it replaced" in result.output
    with seeded.app_context(), read_connection(service().engine) as conn:
        assert projection_digest(conn, service().registry) == before


def test_rebuild_reports_a_projection_that_drifted(seeded: Flask) -> None:
    with seeded.app_context(), write_transaction(service().engine) as conn:
        conn.execute(text("UPDATE holding SET quantity = quantity + 1"))
    result = seeded.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert result.exit_code == 1
    assert "DIFFERENT" in result.output
    # The rebuild itself repaired it: a second run finds nothing to change.
    again = seeded.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert again.exit_code == 0 and "identical" in again.output


def test_demo_trial_finds_the_known_consent_violations(seeded: Flask) -> None:
    """clindata's facts.txt: 4 enrolled without consent, 16 enrolled before consent."""
    client, regulator = seeded.test_client(), demo_party(seeded, demo_supply.REGULATOR)
    consent = read(client, regulator, "/api/v1/trials/NCT99000001/consent").get_json()
    kinds = [finding["kind"] for finding in consent["findings"]]
    assert (consent["enrolled"], consent["consented"]) == (1301, 1297)
    assert (kinds.count("no-consent"), kinds.count("enrolled-before-consent")) == (4, 16)
    trial = read(client, regulator, "/api/v1/trials/NCT99000001").get_json()
    assert trial["protocols"][1]["changes"] == [
        {"id": "O2", "change": "type changed", "from": "secondary", "to": "primary"}
    ]
    versions = [(d["dataset"], d["version"]) for d in trial["datasets"]]
    assert versions == [("AE", 1), ("AE", 2), ("DM", 1), ("SV", 1)]
    page = read(client, regulator, "/trials/NCT99000001").get_data(as_text=True)
    assert "Dr. Jane Roe (responsibility)" in page
    assert "4 enrolled without consent" in page and "16 enrolled before consent" in page
