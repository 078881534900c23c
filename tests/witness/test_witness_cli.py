"""`provenance witness init | add-log | logs`: a witness's key, its logs, its refusals."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner

from provenance.cli import main
from provenance.log.cosign import parse_witness_vkey
from provenance.witness.store import KEY_FILE, WitnessStore
from tests.witness.trees import TestLog


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["witness", *args])
    return result.exit_code, result.output


def test_init_add_log_and_list(tmp_path: Path) -> None:
    where = str(tmp_path / "w")
    code, output = _run("init", "--dir", where, "--name", "witness.example.org/w1")
    assert code == 0, output
    verifier = parse_witness_vkey(output.strip())
    assert verifier.name == "witness.example.org/w1"
    assert stat.S_IMODE((tmp_path / "w" / KEY_FILE).stat().st_mode) == 0o600
    # The printed key is the key the witness signs with.
    assert WitnessStore(tmp_path / "w").signer.vkey() == output.strip()
    code, output = _run("init", "--dir", where, "--name", "witness.example.org/w1")
    assert code == 1 and "already holds a witness" in output

    log = TestLog()
    code, output = _run("add-log", "--dir", where, "--vkey", log.vkey)
    assert code == 0 and f"following {log.origin}" in output
    assert _run("add-log", "--dir", where, "--vkey", log.vkey)[0] == 0  # again: no change
    code, output = _run("add-log", "--dir", where, "--vkey", TestLog().vkey)
    assert code == 1 and "another key" in output
    code, output = _run("logs", "--dir", where)
    assert output == f"{log.origin}\t0\t{log.vkey}\n"


def test_refusals(tmp_path: Path) -> None:
    where = str(tmp_path / "w")
    code, output = _run("add-log", "--dir", where, "--vkey", TestLog().vkey)
    assert code == 1 and "witness init" in output
    assert _run("init", "--dir", where, "--name", "has space")[0] == 1
    assert not (tmp_path / "w" / KEY_FILE).exists()
    code, output = _run("init", "--dir", where, "--name", "witness.example.org/w1")
    # A witness key is no log key, and a vkey must parse.
    code, output = _run("add-log", "--dir", where, "--vkey", output.strip())
    assert code == 1 and "a log's key signs checkpoints" in output
    code, output = _run("add-log", "--dir", where, "--vkey", "not+a+key")
    assert code == 1 and "not a verifier key" in output
    assert "serve" in _run("--help")[1]
