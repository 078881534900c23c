"""The `provenance` command against a real server: keys, registration, signing, receipts."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from provenance.cli import main
from provenance.client import load_private_key
from tests.parties import ORIGIN, PartyKey, read
from tests.server import live_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Flask, Path]]:
    data_dir = tmp_path / "data"
    with live_server(data_dir, demo=True) as (url, app):
        yield url, app, data_dir


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def test_full_party_flow(server: tuple[str, Flask, Path], tmp_path: Path) -> None:
    url, _, data_dir = server
    key, pub = tmp_path / "acme.pem", tmp_path / "acme.pub.pem"
    made = run("keygen", key, "--public-out", pub)
    assert made.exit_code == 0, made.output
    assert (key.stat().st_mode & 0o777) == 0o600
    assert run("keygen", key).exit_code == 1  # never overwrites a key

    registered = run(
        "register-party",
        "--authority-key",
        data_dir / "keys/authority-p256.pem",
        "--name",
        "Acme",
        "--gln",
        "5412345000013",
        "--role",
        "manufacturer",
        "--public-key",
        pub,
        "--url",
        url,
    )
    assert registered.exit_code == 0, registered.output
    assert registered.output.startswith("index 1 ")

    statement = tmp_path / "statement.json"
    statement.write_text(
        json.dumps({"kind": "attestation", "body": {"subject": "lot/7", "claim": {"ok": True}}})
    )
    envelope = tmp_path / "envelope.json"
    assert run("sign", statement, "--key", key, "--out", envelope).exit_code == 2  # which log?
    assert run("sign", statement, "--key", key, "--out", envelope, "--url", url).exit_code == 0
    receipts = tmp_path / "receipts"
    # A receipt carries the entry: its reader signs the request for it.
    assert run("submit", envelope, "--url", url, "--receipt-dir", receipts).exit_code == 2
    submitted = run("submit", envelope, "--url", url, "--receipt-dir", receipts, "--key", key)
    assert submitted.exit_code == 0, submitted.output
    assert submitted.output.startswith("index 2 ")
    again = run("submit", envelope, "--url", url)
    assert "index 2 (already logged)" in again.output

    vkey_file = tmp_path / "log.vkey"
    import urllib.request

    with urllib.request.urlopen(f"{url}/log/key") as response:
        vkey_file.write_text(response.read().decode())
    proof = receipts / "entry-2.tlog-proof"
    checked = run("verify-receipt", proof, "--vkey-file", vkey_file, "--envelope", envelope)
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("OK: entry 2 is in the log")
    assert "attestation signed by" in checked.output


@pytest.fixture
def receipt(server: tuple[str, Flask, Path], tmp_path: Path) -> tuple[Path, str, Path]:
    url, _, data_dir = server
    key = tmp_path / "k.pem"
    run("keygen", key)
    import urllib.request

    with urllib.request.urlopen(f"{url}/log/key") as response:
        vkey = response.read().decode().strip()
    with urllib.request.urlopen(f"{url}/log/receipt/0") as response:
        proof = tmp_path / "genesis.tlog-proof"
        proof.write_bytes(response.read())
    return proof, vkey, tmp_path


def test_verify_receipt_failures(receipt: tuple[Path, str, Path]) -> None:
    proof, vkey, tmp = receipt
    assert run("verify-receipt", proof, "--vkey", vkey).exit_code == 0
    text = proof.read_text()
    other_key = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    assert run("verify-receipt", proof, "--vkey", other_key).exit_code == 1

    extra_line = text.splitlines()[1]
    flipped = extra_line[:-8] + ("A" if extra_line[-8] != "A" else "B") + extra_line[-7:]
    cases = {
        "flipped entry byte": text.replace(extra_line, flipped),
        "wrong index": text.replace("\nindex 0\n", "\nindex 1\n"),
        "truncated": text[: len(text) // 2],
    }
    for name, bad in cases.items():
        path = tmp / f"{name}.tlog-proof"
        path.write_text(bad)
        result = run("verify-receipt", path, "--vkey", vkey)
        assert result.exit_code == 1, name
        assert "Traceback" not in result.output and "Error" in result.output, name

    other_envelope = tmp / "other.json"
    other_envelope.write_text(json.dumps({"payload": "", "payloadType": "x", "signatures": []}))
    mismatch = run("verify-receipt", proof, "--vkey", vkey, "--envelope", other_envelope)
    assert mismatch.exit_code == 1 and "another envelope" in mismatch.output
    assert run("verify-receipt", proof).exit_code == 2


def test_submit_by_unregistered_key_prints_the_problem(
    server: tuple[str, Flask, Path], tmp_path: Path
) -> None:
    url, _, _ = server
    key, statement, envelope = tmp_path / "k.pem", tmp_path / "s.json", tmp_path / "e.json"
    run("keygen", key)
    statement.write_text(json.dumps({"kind": "attestation", "body": {"subject": "x", "claim": {}}}))
    run("sign", statement, "--key", key, "--out", envelope, "--log", ORIGIN)
    result = run("submit", envelope, "--url", url)
    assert result.exit_code == 1
    assert "HTTP 403" in result.output and "not registered" in result.output


def test_server_down_is_a_clean_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    envelope = tmp_path / "e.json"
    envelope.write_text("{}")
    result = run("submit", envelope, "--url", f"http://127.0.0.1:{port}")
    assert result.exit_code == 1 and "cannot reach" in result.output


def test_sign_rejects_a_bad_statement_file(tmp_path: Path) -> None:
    key, statement = tmp_path / "k.pem", tmp_path / "s.json"
    run("keygen", key)
    statement.write_text("[1, 2]")
    result = run("sign", statement, "--key", key)
    assert result.exit_code == 1 and "kind and body" in result.output


def test_scan_and_epcis_capture_from_the_command_line(
    server: tuple[str, Flask, Path], tmp_path: Path
) -> None:
    from provenance import demo
    from provenance.supply import demo as demo_supply
    from provenance.web.context import installed, service
    from tests.supply.test_epcis_capture import commissioning, document, shipping

    url, app, data_dir = server
    with app.app_context():
        demo.seed(service(), installed().plugins, 0, stories=("supply",))
    city = data_dir / "demo" / "citypharmacy.pem"
    gtin, lot, serial = demo_supply.SHOWCASE["unknown"]
    scanned = run("scan", f"]d201{gtin}10{lot}\x1d21{serial}", "--key", city, "--url", url)
    assert scanned.exit_code == 0, scanned.output
    assert "Unknown: possible counterfeit" in scanned.output
    as_city = PartyKey(load_private_key(city))  # alerts are read by the party they were raised at
    alerts = read(app.test_client(), as_city, "/api/v1/alerts").get_json()["alerts"]
    assert alerts[0]["kind"] == "unknown-serial" and alerts[0]["serial"] == serial
    bad = run("scan", "not a barcode", "--key", city, "--url", url)
    assert bad.exit_code == 1 and "Error" in bad.output

    serials = ["CLI1", "CLI2"]
    docs = [tmp_path / "a.jsonld", tmp_path / "b.jsonld"]
    docs[0].write_text(json.dumps(document(commissioning(serials, "CLILOT"))))
    docs[1].write_text(json.dumps(document(shipping(serials, "urn:desadv:CLI"))))
    acme = data_dir / "demo" / "acme.pem"
    captured = run("capture-epcis", *docs, "--key", acme, "--url", url)
    assert captured.exit_code == 0, captured.output
    assert (
        "a.jsonld: 1 new events" in captured.output and "b.jsonld: 1 new events" in captured.output
    )
    again = tmp_path / "c.jsonld"  # a shipment by the wrong party is refused, naming the event
    again.write_text(json.dumps(document(shipping(serials, "urn:desadv:CLI-2"))))
    refused = run(
        "capture-epcis", again, "--key", data_dir / "demo" / "medsupply.pem", "--url", url
    )
    assert refused.exit_code == 1 and "event 0 (shipping)" in refused.output


def test_trial_commands_sign_locally(server: tuple[str, Flask, Path], tmp_path: Path) -> None:
    from provenance import demo
    from provenance.web.context import installed, service

    url, app, data_dir = server
    with app.app_context():
        demo.seed(service(), installed().plugins, 0, stories=())
    sponsor = data_dir / "demo" / "sponsor.pem"
    # The sponsor registers the person who signs (her key made on her side), with the CLI.
    person, public = tmp_path / "jane.pem", tmp_path / "jane.pub.pem"
    assert run("keygen", person, "--public-out", public).exit_code == 0
    registered = run(
        "register-person", "--party-key", sponsor, "--gln", "5412345000051",
        "--person", "NW-0042", "--name", "Dr. Jane Roe", "--role", "clinical data manager",
        "--public-key", public, "--url", url,
    )  # fmt: skip
    assert registered.exit_code == 0, registered.output
    with_system_key = ["--key", sponsor, "--url", url, "--meaning"]
    sign = ["--key", person, "--url", url, "--meaning"]
    registration = tmp_path / "trial.json"
    registration.write_text(
        json.dumps(
            {
                "trial": "NCT05555555",
                "title": "CLI trial",
                "phase": "2",
                "planned_enrolment": 40,
                "primary_completion": "2028-01-31",
                "sites": [{"site": "01", "name": "Main site"}],
            }
        )
    )
    refused = run("trial", "register", registration, *with_system_key, "approval")
    assert refused.exit_code == 1 and "HTTP 403" in refused.output
    assert run("trial", "register", registration, *sign, "approval").exit_code == 0
    document, outcomes = tmp_path / "protocol.pdf", tmp_path / "outcomes.json"
    document.write_bytes(b"%PDF-1.4 protocol v1")
    outcomes.write_text(
        json.dumps([{"id": "P1", "title": "Response", "type": "primary", "time_frame": "8 weeks"}])
    )
    committed = run(
        "protocol",
        "commit",
        "NCT05555555",
        "--version",
        1,
        "--document",
        document,
        "--outcomes",
        outcomes,
        *sign,
        "approval",
    )
    assert committed.exit_code == 0, committed.output
    ae = tmp_path / "ae.csv"
    ae.write_text("SUBJECT,AETERM\nS-1,Headache\n")
    submitted = run(
        "submit-dataset", "NCT05555555", "AE", ae, "--domain", "AE", *sign, "authorship"
    )
    assert submitted.exit_code == 0 and "AE: 1 rows x 2 columns (csv)" in submitted.output
    ae.write_text("SUBJECT,AETERM\nS-1,Migraine\n")

    def amend(reason: str) -> Result:
        return run(
            "amend",
            "NCT05555555",
            "AE",
            ae,
            "--domain",
            "AE",
            "--supersedes",
            1,
            "--reason",
            reason,
            *sign,
            "authorship",
        )

    lazy = amend("update")
    assert lazy.exit_code == 1 and "HTTP 422" in lazy.output
    amended = amend("Term recoded to MedDRA preferred term after query Q-12")
    assert amended.exit_code == 0, amended.output
    as_sponsor = PartyKey(load_private_key(sponsor))
    history_url = "/api/v1/trials/NCT05555555/datasets/AE/history"
    history = read(app.test_client(), as_sponsor, history_url).get_json()
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert history["versions"][1]["printed_name"] == "Dr. Jane Roe"  # from the registry


def test_a_key_can_be_kept_under_a_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, statement, out = tmp_path / "jane.pem", tmp_path / "s.json", tmp_path / "env.json"
    monkeypatch.setenv("PROVENANCE_KEY_PASSPHRASE", "short")
    assert "at least 12" in run("keygen", key, "--passphrase").output
    assert not key.exists()
    monkeypatch.setenv("PROVENANCE_KEY_PASSPHRASE", "correct horse battery staple")
    made = run("keygen", key, "--passphrase")
    assert made.exit_code == 0, made.output
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    statement.write_text(json.dumps({"kind": "attestation", "body": {"subject": "s", "claim": {}}}))
    signing = ["sign", statement, "--key", key, "--log", "provenance.local/log", "--out", out]
    assert run(*signing).exit_code == 0
    envelope = json.loads(out.read_text())
    assert envelope["signatures"][0]["keyid"] in made.output  # signed with the protected key
    monkeypatch.setenv("PROVENANCE_KEY_PASSPHRASE", "wrong horse battery staple")
    wrong = run(*signing)
    assert wrong.exit_code == 1 and "passphrase does not open" in wrong.output
    monkeypatch.delenv("PROVENANCE_KEY_PASSPHRASE")
    locked = run(*signing)  # no terminal to ask on, and no variable
    assert locked.exit_code == 1 and "PROVENANCE_KEY_PASSPHRASE" in locked.output
