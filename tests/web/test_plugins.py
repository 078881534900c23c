"""Plug-ins are chosen per deployment: the app, its pages, problems and reports follow them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from provenance.app import create_app
from provenance.cli import main
from provenance.plugins import available, load_plugins
from provenance.web.context import service
from tests.parties import Authority, register_party


def make(tmp_path: Path, plugins: list[str]) -> Flask:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "PLUGINS": plugins})
    with app.app_context():
        service().initialise()
    return app


def test_both_domains_are_installed_as_entry_points() -> None:
    assert {"supply", "trials"} <= set(available())
    installed = load_plugins()
    assert [p.name for p in installed.plugins] == sorted(available())
    assert {"custody.ship", "epcis.capture", "trial.register"} <= set(installed.registry.kinds)


def test_unknown_plugin_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no plug-in nope.*installed: supply, trials"):
        load_plugins(["nope"])


def test_an_app_without_plugins_serves_the_log_only(tmp_path: Path) -> None:
    app = make(tmp_path, [])
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert "Latest checkpoint" in page and "Supply chain" not in page and "/scan" not in page
    assert client.get("/log/checkpoint").status_code == 200
    for path in ("/scan", "/trials", "/epcis/events", "/01/09506000134352/10/L1"):
        assert client.get(path).status_code == 404, path
    slugs = {p["type"].rsplit("/", 1)[1] for p in client.get("/problems").get_json()}
    assert {"bad-envelope", "not-found"} <= slugs and not {"bad-epcis", "bad-dataset"} & slugs
    assert client.get("/reports").status_code == 401  # reports are for regulators
    authority = Authority.from_app(app)
    body = {"gln": "5412345000013", "name": "A", "roles": ["manufacturer"], "public_key": ""}
    answer = client.post("/api/v1/statements", json=authority.envelope("party.register", body))
    assert answer.status_code == 422


def test_an_app_with_one_domain_knows_only_its_kinds(tmp_path: Path) -> None:
    app = make(tmp_path, ["supply"])
    client = app.test_client()
    assert client.get("/scan").status_code == 200
    assert client.get("/trials").status_code == 404
    nav = client.get("/scan").get_data(as_text=True)
    assert 'href="/scan"' in nav and 'href="/trials"' not in nav
    authority = Authority.from_app(app)
    with pytest.raises(AssertionError, match="roles must be"):
        register_party(client, authority, "Sponsor", "5412345000051", ["sponsor"])
    maker = register_party(client, authority, "Maker", "5412345000013", ["manufacturer"])
    trial = {"trial": "NCT01234567"}
    answer = client.post("/api/v1/statements", json=maker.envelope("trial.register", trial))
    assert answer.status_code == 422 and "unknown statement kind" in answer.get_json()["detail"]


def test_the_command_line_offers_every_plugin_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("keygen", "submit", "report", "scan", "capture-epcis", "trial", "amend"):
        assert f"  {command}" in result.output, command
