"""The PostgreSQL backend end to end: API, receipts, append-only guards, tamper detection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from provenance import demo
from provenance.log.note import open_checkpoint, parse_tlog_proof, parse_verifier_key
from provenance.log.store.engine import normalise_url
from provenance.web.context import installed, service
from tests.conftest import app_on
from tests.parties import Authority, PartyKey, attestation, post, read, register_party


@pytest.fixture
def pg_app(tmp_path: Path) -> Iterator[Flask]:
    with app_on("postgresql", tmp_path / "data", demo=True) as made:
        yield made


def test_api_flow_on_postgres(pg_app: Flask) -> None:
    client = pg_app.test_client()
    authority = Authority.from_app(pg_app)
    party = register_party(client, authority, "Acme", "5412345000013", ["manufacturer"])
    envelope = attestation(party, "pg/1")
    first = post(client, envelope)
    assert first.status_code == 201
    assert post(client, envelope).get_json() == {**first.get_json(), "duplicate": True}
    size = client.get("/api/v1/log").get_json()["size"]
    assert post(client, attestation(authority, "authority is not a party role")).status_code == 403
    assert client.get("/api/v1/log").get_json()["size"] == size
    vkey = parse_verifier_key(client.get("/log/key").get_data(as_text=True).strip())
    proof = parse_tlog_proof(read(client, party, f"/log/receipt/{first.get_json()['index']}").data)
    assert open_checkpoint(proof.checkpoint, vkey).size == size


def seeded(app: Flask) -> str:
    with app.app_context():
        demo.seed(service(), installed().plugins, 120, stories=("supply",))
        service().close()
        return service().settings.database_url


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE log_entry SET kind = 'x' WHERE idx = 3",
        "DELETE FROM log_entry WHERE idx = 3",
        "TRUNCATE log_entry CASCADE",
        "INSERT INTO log_entry SELECT * FROM log_entry WHERE idx = 3 "
        "ON CONFLICT (idx) DO UPDATE SET kind = 'x'",
        "UPDATE log_node SET hash = '\\x00' WHERE level = 0 AND idx = 3",
        "DELETE FROM log_node",
        "TRUNCATE log_node",
        "INSERT INTO log_node VALUES (0, 3, '\\x00') ON CONFLICT (level, idx) DO UPDATE "
        "SET hash = excluded.hash",
        "UPDATE log_checkpoint SET note = ''",
        "DELETE FROM log_checkpoint",
        "TRUNCATE log_checkpoint",
    ],
)
def test_guards_refuse_rewrites(pg_app: Flask, sql: str) -> None:
    url = seeded(pg_app)
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(sql))
    finally:
        engine.dispose()
    result = pg_app.test_cli_runner().invoke(args=["verify", "--quiet"])
    assert result.exit_code == 0, result.output


def test_tampering_is_found_on_postgres(pg_app: Flask) -> None:
    url = seeded(pg_app)
    engine = create_engine(normalise_url(url))
    try:
        with engine.begin() as conn:
            for table in ("log_entry", "log_node", "log_checkpoint"):
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            conn.execute(text("DELETE FROM log_entry WHERE idx = 60"))
    finally:
        engine.dispose()
    result = pg_app.test_cli_runner().invoke(args=["verify", "--quiet"])
    assert result.exit_code == 1
    assert "first bad index 60: missing entry" in result.output


def test_supply_chain_epcis_and_rebuild_on_postgres(pg_app: Flask) -> None:
    from provenance.supply import demo as demo_supply
    from tests.supply.test_epcis_capture import (
        capture,
        commissioning,
        document,
        receiving,
        shipping,
    )

    runner = pg_app.test_cli_runner()
    with pg_app.app_context():
        demo.seed(service(), installed().plugins, 0, stories=("supply",))
    client = pg_app.test_client()
    for verdict, (gtin, lot, serial) in demo_supply.SHOWCASE.items():
        answer = client.get(
            f"/01/{gtin}/10/{lot}/21/{serial}", headers={"Accept": "application/json"}
        ).get_json()
        assert answer["verdict"] == verdict
    with pg_app.app_context():
        acme = demo.demo_key(service().settings.data_dir, "acme")
        medsupply = demo.demo_key(service().settings.data_dir, "medsupply")
    serials = ["PG01", "PG02"]
    shipped = capture(client, PartyKey(acme), document(commissioning(serials), shipping(serials)))
    assert shipped.status_code == 202, shipped.get_json()
    assert capture(client, PartyKey(medsupply), document(receiving(serials))).status_code == 202
    maker = PartyKey(acme, demo_supply.GLNS["acme"])
    # The captured lot: the demo's own custody statements are EPCIS events too.
    query = {"gtin": demo_supply.AMOXICILLIN, "lot": "EP-LOT-1"}
    events = read(client, maker, "/epcis/events", query_string=query).get_json()
    assert len(events["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 3
    result = runner.invoke(args=["rebuild", "--quiet"])
    assert result.exit_code == 0 and "identical" in result.output, result.output
    verified = runner.invoke(args=["verify", "--quiet", "--workers", "1"])
    assert verified.exit_code == 0, verified.output


def test_trial_with_erasure_and_rebuild_on_postgres(pg_app: Flask) -> None:
    from tests.trials.test_trials import OUTCOMES, SIG, TRIAL, Study, registration

    client = pg_app.test_client()
    authority = Authority.from_app(pg_app)
    study = Study.with_parties(client, authority)
    study.send(study.sponsor, "trial.register", registration())
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    body = study.dataset_body("AE", b"SUBJECT,AETERM\nS-1,Headache\n")
    study.send(study.site, "dataset.submit", body)
    erase = {
        "trial": TRIAL,
        "payload": body["payload"],
        "signature": SIG,
        "reason": "Erasure requested by the subject through the site (GDPR art. 17)",
    }
    study.send(study.sponsor, "payload.erase", erase)
    erased = read(client, study.sponsor, f"/api/v1/trials/payloads/{body['payload']}")
    assert erased.status_code == 410
    runner = pg_app.test_cli_runner()
    rebuilt = runner.invoke(args=["rebuild", "--quiet"])
    assert rebuilt.exit_code == 0 and "identical" in rebuilt.output, rebuilt.output
    assert runner.invoke(args=["verify", "--quiet", "--workers", "1"]).exit_code == 0
