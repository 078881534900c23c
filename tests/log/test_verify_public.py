"""Verifying needs the log's public key only: `init` writes it beside the private key, and
`verify` and the ledger report run where no private key is (a copy of the database)."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from provenance import demo
from provenance.log.errors import LogNotInitialised
from provenance.log.keystore import LOG_VKEY_FILE
from provenance.log.note import parse_verifier_key
from provenance.reports.model import Metric, Params
from provenance.web.context import installed, service
from tests.conftest import make_app, run_named_report
from tests.log.damage import app_over, damage, first_problem, public_copy, run_verify

SIZE = 27  # genesis, the six demo parties and 20 attestations


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("public") / "data"
    app = make_app(data_dir, demo=True)
    with app.app_context():
        demo.seed(service(), installed().plugins, SIZE - 7, stories=())
        service().close()
    yield data_dir


def test_init_writes_the_public_verifier_key(app: Flask) -> None:
    with app.app_context():
        keys = service().settings.keys
    served = app.test_client().get("/log/key").get_data(as_text=True)
    assert keys.log_vkey.name == LOG_VKEY_FILE
    assert keys.log_vkey.read_text() == served
    assert stat.S_IMODE(keys.log_vkey.stat().st_mode) == 0o644
    assert stat.S_IMODE(keys.log_key.stat().st_mode) == 0o600
    assert parse_verifier_key(served.strip()).name == "provenance.local/log"
    again = app.test_cli_runner().invoke(args=["init"])
    assert "already initialised: nothing changed" in again.output


def test_a_deployment_from_before_vkey_files_derives_it_once(app: Flask) -> None:
    with app.app_context():
        keys = service().settings.keys
        line = keys.log_vkey.read_text()
        keys.log_vkey.unlink()
    with app_over(Path(app.config["DATA_DIR"])) as later, later.app_context():
        assert service().verifier().line() + "\n" == line
    assert keys.log_vkey.read_text() == line


def test_init_refuses_a_vkey_of_another_key(app: Flask, tmp_path: Path) -> None:
    other = make_app(tmp_path / "other")
    with app.app_context():
        keys = service().settings.keys
    with other.app_context():
        keys.log_vkey.write_text(service().verifier_key())
    outcome = app.test_cli_runner().invoke(args=["init"])
    assert outcome.exit_code == 1
    assert "log.vkey names another key than log-ed25519.pem" in outcome.output


def test_verify_and_the_ledger_report_need_no_private_key(source: Path, tmp_path: Path) -> None:
    copy = public_copy(source, tmp_path / "copy")
    assert sorted(p.name for p in (copy / "keys").iterdir()) == [LOG_VKEY_FILE]
    code, output = run_verify(copy, "--full")
    assert code == 0, output
    assert output.startswith(f"log intact: {SIZE} entries")
    with app_over(copy) as app:
        report = run_named_report(app, "ledger", Params())
        with app.app_context(), pytest.raises(LogNotInitialised):
            service().log  # noqa: B018  (no private key here: this copy cannot sign)
    assert report.metric("Log") == Metric("Log", "intact")
    assert report.metric("Verified through").value.startswith(f"{SIZE:,} entries at ")
    assert report.metric("Checked in this run").value.startswith("entries 27 on")


def test_an_explicit_vkey_where_there_are_no_keys_at_all(source: Path, tmp_path: Path) -> None:
    copy = public_copy(source, tmp_path / "copy")
    vkey = shutil.copy(copy / "keys" / LOG_VKEY_FILE, tmp_path / "their.vkey")
    shutil.rmtree(copy / "keys")
    code, output = run_verify(copy)
    assert code == 1
    assert "no checkpoint key" in output
    code, output = run_verify(copy, "--vkey", str(vkey))
    assert code == 0, output


def test_the_key_of_another_log_verifies_no_checkpoint(source: Path, tmp_path: Path) -> None:
    copy = public_copy(source, tmp_path / "copy")
    other = make_app(tmp_path / "other")
    with other.app_context():
        (tmp_path / "other.vkey").write_text(service().verifier_key())
    code, output = run_verify(copy, "--vkey", str(tmp_path / "other.vkey"))
    assert code == 1
    assert first_problem(output).startswith("first bad index 0: bad checkpoint: checkpoint of")


def test_damage_in_a_public_copy_is_named(source: Path, tmp_path: Path) -> None:
    copy = public_copy(source, tmp_path / "copy")
    damage(copy, "UPDATE log_entry SET data = 1 WHERE idx = 12")
    code, output = run_verify(copy)
    assert code == 1
    assert first_problem(output).startswith("first bad index 12: edited entry")
