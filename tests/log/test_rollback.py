"""A database that lost or changed what the log signed is never signed over: appends are
refused with a problem naming what it cannot reach, and reads go on."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from provenance.errors import PROBLEM_BASE
from provenance.log import merkle
from provenance.log.note import (
    Checkpoint,
    format_checkpoint,
    open_checkpoint,
    parse_checkpoint,
    parse_note,
    parse_tlog_proof,
    parse_verifier_key,
)
from provenance.log.outside import CHECKPOINTS_DIR, COSIGNED, LATEST
from provenance.web.context import service
from tests.conftest import make_app
from tests.parties import Authority, PartyKey, attestation, post, read, register_party

GLN = "5412345000013"


def database(data: Path) -> Path:
    return data / "provenance.db"


def stored(data: Path) -> tuple[int, int]:
    """(entries, checkpoints) in the database file, read behind the app's back."""
    with sqlite3.connect(database(data)) as conn:
        (entries,) = conn.execute("SELECT count(*) FROM log_entry").fetchone()
        (checkpoints,) = conn.execute("SELECT count(*) FROM log_checkpoint").fetchone()
    return int(entries), int(checkpoints)


def outside(data: Path, name: str = LATEST) -> Checkpoint:
    note = (data / CHECKPOINTS_DIR / name).read_text()
    return parse_checkpoint(parse_note(note).text)


def close(app: Flask) -> None:
    with app.app_context():
        service().close()


def reopened(data: Path) -> Flask:
    """The app started again over the same data directory (a restart after a restore)."""
    return create_app({"TESTING": True, "DATA_DIR": str(data)})


def problem_of(response: object, slug: str) -> dict[str, object]:
    body = response.get_json()  # type: ignore[attr-defined]
    assert response.status_code == 503, body  # type: ignore[attr-defined]
    assert response.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    assert body["type"] == PROBLEM_BASE + slug, body
    return dict(body)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def started(data: Path, attestations: int) -> tuple[Flask, FlaskClient, PartyKey]:
    app = make_app(data)
    client = app.test_client()
    party = register_party(client, Authority.from_app(app), "Acme", GLN, ["manufacturer"])
    for i in range(attestations):
        assert post(client, attestation(party, f"early/{i}")).status_code == 201
    return app, client, party


def test_latest_follows_every_publish_and_only_grows(data: Path) -> None:
    app, client, party = started(data, 3)
    size = client.get("/api/v1/log").get_json()["size"]
    assert outside(data).size == size == 5
    assert (data / CHECKPOINTS_DIR / LATEST).read_text() == client.get("/log/checkpoint").text
    with app.app_context():
        record = service().log.guard.outside
        assert record is not None
        signer = service().log.signer
        older = signer.sign(format_checkpoint(Checkpoint(signer.name, 2, bytes(32))))
        record.record(older)  # a slower process's callback, after a later publish
    assert outside(data).size == size


def test_a_failing_callback_does_not_fail_the_append(
    data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, client, party = started(data, 0)

    def broken(note: str) -> None:
        raise OSError("the disk is full")

    with app.app_context():
        service().log.after_publish.insert(0, broken)
    with caplog.at_level(logging.ERROR):
        assert post(client, attestation(party, "still/1")).status_code == 201
    assert "after_publish callback" in caplog.text
    assert outside(data).size == 3  # the callbacks after it still ran


def test_a_lost_wal_tail_is_refused_not_continued(data: Path) -> None:
    """SQLite lost the tail of its WAL after acknowledged appends (or a backup from before
    them was restored), while checkpoints/latest survived."""
    app, client, party = started(data, 2)
    early = 2
    db = database(data)
    assert Path(f"{db}-wal").stat().st_size > 0  # the appends so far are in the WAL
    saved = {suffix: Path(f"{db}{suffix}").read_bytes() for suffix in ("", "-wal")}
    kept = client.get("/log/checkpoint").text
    for i in range(3):
        assert post(client, attestation(party, f"late/{i}")).status_code == 201
    published = outside(data)
    assert published.size == 7
    close(app)
    for suffix, content in saved.items():
        Path(f"{db}{suffix}").write_bytes(content)
    Path(f"{db}-shm").unlink(missing_ok=True)
    assert stored(data) == (4, 4)

    app = reopened(data)
    client = app.test_client()
    problem = problem_of(post(client, attestation(party, "after/1")), "log-state-unvouched")
    assert problem["checkpoint_size"] == 7 and problem["stored_size"] == 4
    assert problem["source"] == f"{CHECKPOINTS_DIR}/{LATEST}"
    detail = str(problem["detail"])
    assert "published checkpoint 7" in detail and "holds only 4 entries" in detail
    assert "Restore the database" in detail
    assert stored(data) == (4, 4), "nothing was written, no checkpoint signed"
    assert outside(data) == published
    # Reads go on: the checkpoint the database holds, receipts under it, and verify.
    assert client.get("/log/checkpoint").text == kept
    vkey = parse_verifier_key(client.get("/log/key").text.strip())
    proof = parse_tlog_proof(read(client, party, f"/log/receipt/{early}").data)
    assert open_checkpoint(proof.checkpoint, vkey).size == 4
    # verify names the loss: checkpoints/latest is checked with the database's own checkpoints.
    result = app.test_cli_runner().invoke(args=["verify", "--workers", "1", "--quiet"])
    assert result.exit_code == 1, result.output
    assert "first bad index 4: missing entry" in result.output
    assert "checkpoint of size 7" in result.output
    close(app)


@pytest.mark.parametrize("restart", [False, True], ids=["same-process", "restarted"])
def test_a_zeroed_right_edge_hash_is_refused(data: Path, restart: bool) -> None:
    app, client, party = started(data, 5)
    size = client.get("/api/v1/log").get_json()["size"]
    assert size == 7  # right edge: (2, 0), (1, 2), (0, 6)
    level, index = merkle.frontier_addrs(size)[0]
    close(app)
    with sqlite3.connect(database(data), isolation_level=None) as conn:
        conn.execute("DROP TRIGGER log_node_no_update")  # as an attacker with the file would
        conn.execute(
            "UPDATE log_node SET hash = zeroblob(32) WHERE level = ? AND idx = ?", (level, index)
        )
    if restart:
        app = reopened(data)
        client = app.test_client()
    problem = problem_of(post(client, attestation(party, "after/1")), "log-state-unvouched")
    assert "tree hash" in str(problem["detail"])
    assert stored(data) == (size, size), "nothing was written, no checkpoint signed"
    assert outside(data).size == size
    assert client.get("/log/checkpoint").status_code == 200
    close(app)


def test_a_cosigned_checkpoint_the_database_lacks_is_refused(data: Path) -> None:
    app, client, party = started(data, 1)
    with app.app_context():
        signer = service().log.signer
    # A checkpoint a witness cosigned (its cosignature lines are none of the log's business).
    ahead = signer.sign(format_checkpoint(Checkpoint(signer.name, 9, bytes(range(32)))))
    (data / CHECKPOINTS_DIR / COSIGNED).write_text(ahead)
    problem = problem_of(post(client, attestation(party, "after/1")), "log-state-unvouched")
    assert problem["source"] == f"{CHECKPOINTS_DIR}/{COSIGNED}"
    assert problem["checkpoint_size"] == 9
    # One the database holds (the same size and root) is no obstacle.
    (data / CHECKPOINTS_DIR / COSIGNED).write_text(client.get("/log/checkpoint").text)
    assert post(client, attestation(party, "after/2")).status_code == 201
    close(app)


def test_a_forged_outside_checkpoint_is_ignored(
    data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, client, party = started(data, 1)
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from provenance.log.note import Signer

    with app.app_context():
        origin = service().settings.origin
    forger = Signer(origin, ed25519.Ed25519PrivateKey.generate())
    forged = forger.sign(format_checkpoint(Checkpoint(origin, 1000, bytes(32))))
    (data / CHECKPOINTS_DIR / LATEST).write_text(forged)
    with caplog.at_level(logging.WARNING):
        assert post(client, attestation(party, "after/1")).status_code == 201
    assert "ignoring" in caplog.text and LATEST in caplog.text
    assert outside(data).size == 4, "the forgery was replaced by the log's own checkpoint"
    close(app)


def test_a_malformed_database_file_refuses_appends_without_a_traceback(data: Path) -> None:
    app, client, party = started(data, 40)
    close(app)  # the WAL is checkpointed into the file
    db = database(data)
    content = bytearray(db.read_bytes())
    page = int.from_bytes(content[16:18], "big")
    middle = len(content) // page // 2
    content[middle * page : (middle + 1) * page] = bytes(page)
    db.write_bytes(bytes(content))

    app = reopened(data)
    client = app.test_client()
    problem = problem_of(post(client, attestation(party, "after/1")), "storage-damaged")
    assert "quick_check" in str(problem["detail"])
    # Reads answer a problem too where they touch the damage, never a 500.
    for url in ("/log/checkpoint", "/api/v1/log", "/log/receipt/3"):
        assert read(client, party, url).status_code in (200, 503), url
    close(app)


def test_a_damaged_page_met_by_a_read_is_a_problem(data: Path) -> None:
    """The driver's "database disk image is malformed" is translated where it is raised."""
    app, client, party = started(data, 1)
    close(app)
    with sqlite3.connect(database(data)) as conn:
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'log_checkpoint'"
        ).fetchone()
        (page,) = conn.execute("PRAGMA page_size").fetchone()
    with database(data).open("r+b") as handle:
        handle.seek((root - 1) * page)
        handle.write(b"\xff" * page)
    app = reopened(data)
    problem = problem_of(app.test_client().get("/log/checkpoint"), "storage-damaged")
    assert "malformed" in str(problem["detail"])
    close(app)
