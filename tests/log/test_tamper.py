"""Tampering with a real database file (guards dropped first, as an attacker with file access
would) is found by `flask --app app verify`, which names the first bad index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from provenance import demo
from provenance.log.outside import CHECKPOINTS_DIR, LATEST
from provenance.web.context import installed, service
from tests.conftest import make_app

ENTRIES = 300


@pytest.fixture
def seeded(tmp_path: Path) -> Flask:
    app = make_app(tmp_path / "data", demo=True)
    with app.app_context():
        # Several batches so there are several checkpoints to check against.
        for _ in range(3):
            demo.seed(service(), installed().plugins, ENTRIES // 3, stories=())
    return app


def db_path(app: Flask) -> Path:
    return Path(app.config["DATA_DIR"]) / "provenance.db"


def attacker(app: Flask) -> sqlite3.Connection:
    with app.app_context():
        service().engine.dispose()
    conn = sqlite3.connect(db_path(app), isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    return conn


def run_verify(app: Flask) -> tuple[int, str]:
    result: FlaskCliRunner = app.test_cli_runner()
    outcome = result.invoke(args=["verify", "--workers", "2", "--quiet"])
    return outcome.exit_code, outcome.output


def test_intact_log_verifies(seeded: Flask) -> None:
    code, output = run_verify(seeded)
    assert code == 0, output
    assert f"log intact: {ENTRIES + 7} entries" in output


def test_edited_byte_is_found(seeded: Flask) -> None:
    conn = attacker(seeded)
    (data,) = conn.execute("SELECT data FROM log_entry WHERE idx = 150").fetchone()
    edited = data.replace(b'"logged_at":"2', b'"logged_at":"1', 1)
    assert edited != data and len(edited) == len(data)
    conn.execute("UPDATE log_entry SET data = ? WHERE idx = 150", (edited,))
    code, output = run_verify(seeded)
    assert code == 1
    assert "first bad index 150: edited entry" in output
    assert "broken link" not in output.splitlines()[0]


def test_edited_entry_with_recomputed_hashes_is_found(seeded: Flask) -> None:
    """Rewriting the entry and its stored leaf hash still breaks the next link and the root."""
    from provenance.log.merkle import leaf_hash

    conn = attacker(seeded)
    (data,) = conn.execute("SELECT data FROM log_entry WHERE idx = 120").fetchone()
    edited = data.replace(b'"logged_at":"2', b'"logged_at":"1', 1)
    assert edited != data
    conn.execute(
        "UPDATE log_entry SET data = ?, leaf_hash = ? WHERE idx = 120", (edited, leaf_hash(edited))
    )
    conn.execute("UPDATE log_node SET hash = ? WHERE level = 0 AND idx = 120", (leaf_hash(edited),))
    code, output = run_verify(seeded)
    assert code == 1
    # The rewritten time is caught first: a log's time never goes back (rules 2).
    assert "first bad index 120: edited entry: logged_at 1" in output
    assert "root mismatch" not in output.splitlines()[0]


def test_deleted_middle_row_is_found(seeded: Flask) -> None:
    conn = attacker(seeded)
    conn.execute("DELETE FROM log_entry WHERE idx = 77")
    code, output = run_verify(seeded)
    assert code == 1
    assert "first bad index 77: missing entry: entries 77..77 are missing" in output


def test_deleted_last_rows_are_found(seeded: Flask) -> None:
    conn = attacker(seeded)
    (size,) = conn.execute("SELECT count(*) FROM log_entry").fetchone()
    conn.execute("DELETE FROM log_entry WHERE idx >= ?", (size - 5,))
    conn.execute("DELETE FROM log_node WHERE (idx + 1) * (1 << level) > ?", (size - 5,))
    code, output = run_verify(seeded)
    assert code == 1
    assert f"first bad index {size - 5}: missing entry" in output
    assert f"checkpoint of size {size} was signed" in output


def test_swapped_rows_are_found(seeded: Flask) -> None:
    conn = attacker(seeded)
    rows = dict(conn.execute("SELECT idx, data FROM log_entry WHERE idx IN (40, 41)").fetchall())
    conn.execute("UPDATE log_entry SET data = ? WHERE idx = 40", (rows[41],))
    conn.execute("UPDATE log_entry SET data = ? WHERE idx = 41", (rows[40],))
    code, output = run_verify(seeded)
    assert code == 1
    assert "first bad index 40: moved entry: row 40 holds the entry for index 41" in output


def test_forged_signature_is_found(seeded: Flask) -> None:
    """An entry whose envelope was re-signed by another key fails signature checking."""
    import base64
    import json

    conn = attacker(seeded)
    (data,) = conn.execute("SELECT data FROM log_entry WHERE idx = 200").fetchone()
    entry = json.loads(data)
    sig = bytearray(base64.b64decode(entry["envelope"]["signatures"][0]["sig"]))
    sig[-1] ^= 1
    entry["envelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    import rfc8785

    from provenance.log.merkle import leaf_hash

    forged = rfc8785.dumps(entry)
    conn.execute(
        "UPDATE log_entry SET data = ?, leaf_hash = ? WHERE idx = 200", (forged, leaf_hash(forged))
    )
    code, output = run_verify(seeded)
    assert code == 1
    assert "first bad index 200: bad signature" in output


def test_guards_refuse_rewrites(seeded: Flask) -> None:
    with seeded.app_context():
        service().engine.dispose()
    conn = sqlite3.connect(db_path(seeded), isolation_level=None)
    conn.execute("PRAGMA recursive_triggers=ON")
    statements = [
        "UPDATE log_entry SET kind = 'x' WHERE idx = 5",
        "DELETE FROM log_entry WHERE idx = 5",
        "INSERT OR REPLACE INTO log_entry SELECT * FROM log_entry WHERE idx = 5",
        "UPDATE log_node SET hash = x'00' WHERE level = 0 AND idx = 5",
        "DELETE FROM log_node",
        "INSERT OR REPLACE INTO log_node VALUES (0, 5, x'00')",
        "DELETE FROM log_checkpoint",
        "UPDATE log_checkpoint SET note = '' ",
        "INSERT OR REPLACE INTO log_checkpoint SELECT * FROM log_checkpoint LIMIT 1",
    ]
    for sql in statements:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    code, output = run_verify(seeded)
    assert code == 0, output


def test_deleting_rows_and_checkpoints_is_caught_by_a_kept_checkpoint(
    seeded: Flask, tmp_path: Path
) -> None:
    """An auditor who kept the last checkpoint catches a truncation that removed it too."""
    kept = tmp_path / "kept.checkpoint"
    kept.write_text(seeded.test_client().get("/log/checkpoint").get_data(as_text=True))
    conn = attacker(seeded)
    (size,) = conn.execute("SELECT count(*) FROM log_entry").fetchone()
    # Cut back to an earlier checkpoint (entries beyond the last checkpoint would show).
    (cut,) = conn.execute("SELECT max(size) FROM log_checkpoint WHERE size < ?", (size,)).fetchone()
    conn.execute("DELETE FROM log_entry WHERE idx >= ?", (cut,))
    conn.execute("DELETE FROM log_node WHERE (idx + 1) * (1 << level) > ?", (cut,))
    conn.execute("DELETE FROM log_checkpoint WHERE size > ?", (cut,))
    # The server's own record of what it published, kept beside the database, names the cut...
    code, output = run_verify(seeded)
    assert code == 1 and f"first bad index {cut}: missing entry" in output, output
    # ...unless the attacker, with file access, removed that too.
    with seeded.app_context():
        published = service().settings.data_dir / CHECKPOINTS_DIR / LATEST
    published.unlink()
    code, output = run_verify(seeded)
    assert code == 0, "without outside knowledge the shortened log is self-consistent"
    outcome = seeded.test_cli_runner().invoke(args=["verify", "--quiet", "--checkpoint", str(kept)])
    assert outcome.exit_code == 1
    assert f"first bad index {cut}: missing entry" in outcome.output
