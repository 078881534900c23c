"""Admin commands: init is idempotent and private, seed-demo is repeatable, verify reports."""

from __future__ import annotations

import stat
from pathlib import Path

from flask import Flask

from app import create_app
from provenance.supply import demo as demo_supply


def test_init_writes_private_keys_and_is_idempotent(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0, first.output
    assert "appended the genesis entry" in first.output
    for name in ("log-ed25519.pem", "authority-p256.pem"):
        mode = stat.S_IMODE((tmp_path / "keys" / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    vkey = app.test_client().get("/log/key").get_data(as_text=True).strip()
    assert f"log verifier key: {vkey}" in first.output
    keys_before = {p.name: p.read_bytes() for p in (tmp_path / "keys").iterdir()}
    second = runner.invoke(args=["init"])
    assert second.exit_code == 0
    assert "already initialised: nothing changed" in second.output
    assert {p.name: p.read_bytes() for p in (tmp_path / "keys").iterdir()} == keys_before
    assert app.test_client().get("/api/v1/log").get_json()["size"] == 1


def test_seed_demo_twice_appends_more_from_the_same_parties(demo_app: Flask) -> None:
    app = demo_app
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--entries", "12"])
    assert first.exit_code == 0, first.output
    story = len(demo_supply.story())
    assert (
        f"registered 6 demo parties, appended 12 statements\nsupply chain: {story} demo "
        "statements\ndemo trial NCT99000001: "
    ) in first.output
    size = app.test_client().get("/api/v1/log").get_json()["size"]
    assert f"log size {size}" in first.output
    parties = app.test_client().get("/api/v1/parties").get_json()
    second = runner.invoke(args=["seed-demo", "--entries", "5"])
    assert "registered 0 demo parties, appended 5 statements\n" in second.output
    assert "demo trial NCT99000001 already present" in second.output
    assert f"log size {size + 5}" in second.output
    assert app.test_client().get("/api/v1/parties").get_json() == parties
    skipped = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "demo seed skipped" in skipped.output
    verified = runner.invoke(args=["verify", "--quiet", "--workers", "1"])
    assert verified.exit_code == 0 and f"log intact: {size + 5} entries" in verified.output


def test_demo_keys_are_random_and_kept_private(tmp_path: Path) -> None:
    """No demo key can be computed from the source: each data folder makes its own."""
    from provenance.demo import demo_key
    from provenance.log.signing import key_id, public_key_der

    a = demo_key(tmp_path / "a", "acme")
    b = demo_key(tmp_path / "b", "acme")
    assert key_id(public_key_der(a)) != key_id(public_key_der(b))
    assert key_id(public_key_der(demo_key(tmp_path / "a", "acme"))) == key_id(public_key_der(a))
    assert stat.S_IMODE((tmp_path / "a/demo/acme.pem").stat().st_mode) == 0o600


def test_only_a_demo_log_takes_the_demo_and_says_so(app: Flask, demo_app: Flask) -> None:
    refused = app.test_cli_runner().invoke(args=["seed-demo"])
    assert refused.exit_code == 1 and "not a demonstration log" in refused.output
    real = app.test_client()
    assert real.get("/api/v1/parties").get_json()[1:] == []  # the authority alone
    assert "Provenance-Demo" not in real.get("/").headers
    assert real.get("/api/v1/log").get_json()["demo"] is False
    assert "Demonstration log" not in real.get("/").get_data(as_text=True)
    seeded = demo_app.test_cli_runner().invoke(args=["seed-demo", "--entries", "1"])
    assert seeded.exit_code == 0, seeded.output
    shown = demo_app.test_client()
    for path in ("/", "/api/v1/log", "/log/checkpoint", "/scan", "/trials"):
        assert shown.get(path).headers["Provenance-Demo"] == "true", path
    assert "Demonstration log" in shown.get("/").get_data(as_text=True)
    assert "Demonstration log" in shown.get("/scan").get_data(as_text=True)
    assert shown.get("/api/v1/log").get_json()["demo"] is True
    again = demo_app.test_cli_runner().invoke(args=["init"])
    assert again.exit_code == 0 and "nothing changed" in again.output
    made_real = app.test_cli_runner().invoke(args=["init", "--demo"])
    assert made_real.exit_code == 1 and "real log" in made_real.output


def test_seed_before_init_is_a_clear_error(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "init" in result.output


def test_origin_is_configurable_and_names_the_key(tmp_path: Path) -> None:
    from provenance.log.note import open_checkpoint, parse_verifier_key

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "ORIGIN": "example.org/drugs"})
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    client = app.test_client()
    vkey = parse_verifier_key(client.get("/log/key").get_data(as_text=True).strip())
    assert vkey.name == "example.org/drugs"
    checkpoint = open_checkpoint(client.get("/log/checkpoint").get_data(as_text=True), vkey)
    assert checkpoint.origin == "example.org/drugs" and checkpoint.size == 1
