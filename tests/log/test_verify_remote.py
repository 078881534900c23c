"""`verify --url`: a published log checked over HTTP (checkpoint, hash tiles, entry bundles read
as a regulator), replayed as the database verify replays it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask

from provenance import demo
from provenance.log.note import parse_verifier_key, verifier_key
from provenance.remote_verify import verify_remote
from provenance.web.context import installed, service
from tests.log.damage import damage, first_problem
from tests.server import live_server

ENTRIES = 600  # two full entry bundles and a partial one; a partial tile at level 1


def served(data_dir: Path, count: int) -> Iterator[tuple[str, Flask]]:
    with live_server(data_dir, demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, count, stories=())
        yield url, app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask]]:
    yield from served(tmp_path_factory.mktemp("remote") / "data", ENTRIES)


def regulator_pem(app: Flask) -> str:
    return str(Path(app.config["DATA_DIR"]) / "demo" / "regulator.pem")


def verify_over_http(app: Flask, url: str, *options: str) -> tuple[int, str]:
    args = ["verify", "--url", url, "--vkey-url", url, "--quiet", "--workers", "1", *options]
    outcome = app.test_cli_runner().invoke(args=args)
    return outcome.exit_code, outcome.output


def test_a_published_log_verifies_over_http(server: tuple[str, Flask]) -> None:
    url, app = server
    code, output = verify_over_http(app, url, "--key", regulator_pem(app))
    assert code == 0, output
    size = ENTRIES + 7
    assert output.startswith(f"log intact: {size} entries, {size} signatures, 1 checkpoints")
    with app.app_context():
        vkey = parse_verifier_key(service().verifier_key())
        key = demo.demo_key(service().settings.data_dir, "regulator")
        report = verify_remote(url, installed().registry, vkey, key=key, workers=1)
    # Every hash of every tile: level 0 holds the leaves, level 1 the nodes over 256 of them.
    assert (report.size, report.nodes) == (size, size + size // 256)


def test_entry_bundles_are_read_as_a_regulator(server: tuple[str, Flask]) -> None:
    url, app = server
    code, output = verify_over_http(app, url)
    assert code == 1
    assert "HTTP 401" in output and "regulators for entry bundles" in output


def test_the_key_must_be_the_logs(server: tuple[str, Flask], tmp_path: Path) -> None:
    url, app = server
    other = tmp_path / "other.vkey"
    public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    other.write_text(verifier_key("provenance.local/log", public) + "\n")
    args = ["verify", "--url", url, "--vkey", str(other), "--key", regulator_pem(app)]
    outcome = app.test_cli_runner().invoke(args=[*args, "--quiet"])
    assert outcome.exit_code == 1
    assert outcome.output == "Error: the note has no signature by a known key\n"


@pytest.mark.parametrize(
    ("sql", "first"),
    [
        (
            # idx values swapped: bundle 0 serves entry 41 at position 40.
            (
                "UPDATE log_entry SET idx = -40 WHERE idx = 40",
                "UPDATE log_entry SET idx = 40 WHERE idx = 41",
                "UPDATE log_entry SET idx = 41 WHERE idx = -40",
            ),
            "first bad index 40: moved entry: row 40 holds the entry for index 41",
        ),
        (
            ("UPDATE log_node SET hash = zeroblob(32) WHERE level = 0 AND idx = 300",),
            "first bad index 300: edited tree hash: stored node (level 0, index 300) differs",
        ),
        (
            ("UPDATE log_node SET hash = zeroblob(32) WHERE level = 8 AND idx = 1",),
            "first bad index 256: edited tree hash: stored node (level 8, index 1) differs",
        ),
    ],
)
def test_damage_is_named_alike_over_http_and_in_the_database(
    tmp_path: Path, sql: tuple[str, ...], first: str
) -> None:
    data_dir = tmp_path / "data"
    for url, app in served(data_dir, ENTRIES):
        damage(data_dir, *sql)
        code, output = verify_over_http(app, url, "--key", regulator_pem(app))
        assert code == 1, output
        assert first_problem(output).startswith(first)
        outcome = app.test_cli_runner().invoke(args=["verify", "--quiet", "--workers", "1"])
        assert outcome.exit_code == 1
        assert first_problem(outcome.output).startswith(first)
