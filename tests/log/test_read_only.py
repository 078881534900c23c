"""Read-only mode: the database is opened so nothing can be written, every write answers 503
`read-only`, and the log (a damaged one too) is served as it is."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app import create_app
from provenance.errors import PROBLEM_BASE
from provenance.log import merkle
from provenance.log.errors import ReadOnly
from provenance.log.note import open_checkpoint, parse_tlog_proof, parse_verifier_key
from provenance.log.store.engine import is_read_only, normalise_url, read_only_sqlite_url
from provenance.web.context import service
from tests.conftest import fresh_postgres_database, make_app
from tests.parties import Authority, PartyKey, attestation, post, read, register_party

GLN = "5412345000013"


def read_only_problem(response: object) -> None:
    body = response.get_json()  # type: ignore[attr-defined]
    assert response.status_code == 503, body  # type: ignore[attr-defined]
    assert body["type"] == PROBLEM_BASE + "read-only", body


def close(app: Flask) -> None:
    with app.app_context():
        service().close()


def fingerprint(directory: Path) -> dict[str, tuple[int, str]]:
    """mtime and SHA-256 of every file but SQLite's -shm index (a reader may map it)."""
    return {
        str(path.relative_to(directory)): (
            path.stat().st_mtime_ns,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not path.name.endswith(("-shm", "-wal"))
    }


@pytest.fixture
def damaged(tmp_path: Path) -> Iterator[tuple[Path, PartyKey, str]]:
    """A data directory, made read-only, whose log has a zeroed right-edge tree hash (appends
    are refused there), with the party that appended and the checkpoint it holds."""
    data = tmp_path / "data"
    app = make_app(data)
    client = app.test_client()
    party = register_party(client, Authority.from_app(app), "Acme", GLN, ["manufacturer"])
    for i in range(2):
        assert post(client, attestation(party, f"kept/{i}")).status_code == 201
    checkpoint = client.get("/log/checkpoint").text
    close(app)
    with sqlite3.connect(data / "provenance.db", isolation_level=None) as conn:
        conn.execute("DROP TRIGGER log_node_no_update")
        level, index = merkle.frontier_addrs(4)[0]
        conn.execute(
            "UPDATE log_node SET hash = zeroblob(32) WHERE level = ? AND idx = ?", (level, index)
        )
    os.system(f"chmod -R a-w '{data}'")  # noqa: S605  (what an operator would run)
    try:
        yield data, party, checkpoint
    finally:
        os.system(f"chmod -R u+w '{data}'")  # noqa: S605


def test_a_read_only_directory_is_served_and_never_written(
    damaged: tuple[Path, PartyKey, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, party, checkpoint = damaged
    assert not stat.S_IMODE((data / "provenance.db").stat().st_mode) & 0o222
    before = fingerprint(data)
    monkeypatch.setenv("PROVENANCE_READ_ONLY", "1")
    app = create_app({"TESTING": True, "DATA_DIR": str(data)})
    client = app.test_client()
    with app.app_context():
        engine = service().engine
        # Tests run as root, whom file modes do not stop: the database itself is read-only.
        assert is_read_only(engine)
        assert engine.url.query.get("mode") == "ro" and engine.url.database.startswith("file:")
        with pytest.raises(ReadOnly), engine.connect() as conn:  # SQLite itself refuses
            conn.exec_driver_sql("INSERT INTO schema_version VALUES (99, 'x')")
    assert client.get("/log/checkpoint").text == checkpoint
    vkey = parse_verifier_key(client.get("/log/key").text.strip())
    proof = parse_tlog_proof(read(client, party, "/log/receipt/2").data)
    assert open_checkpoint(proof.checkpoint, vkey).size == 4
    assert read(client, party, "/api/v1/log/entries/3").status_code == 200
    assert client.get("/log/tile/0/000.p/4").status_code == 200
    read_only_problem(post(client, attestation(party, "refused/1")))
    read_only_problem(client.post("/logout"))
    read_only_problem(client.get("/login/some-nonce"))  # redeeming a link writes
    close(app)
    assert fingerprint(data) == before


def test_read_only_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mode=ro where SQLite can keep its WAL index; immutable=1 where it cannot and the WAL is
    empty; a refusal where it cannot and the WAL holds transactions."""
    db = tmp_path / "log.db"
    with pytest.raises(Exception, match="existing database"):
        read_only_sqlite_url(make_url(f"sqlite:///{db}"))
    sqlite3.connect(db).close()
    assert read_only_sqlite_url(make_url(f"sqlite:///{db}")).query["mode"] == "ro"
    monkeypatch.setattr("provenance.log.store.engine.os.access", lambda *_: False)
    url = read_only_sqlite_url(make_url(f"sqlite:///{db}"))
    assert url.query["immutable"] == "1"
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA quick_check").scalar() == "ok"
    engine.dispose()
    Path(f"{db}-wal").write_bytes(b"frames")
    with pytest.raises(ReadOnly, match="open the database once read-write"):
        read_only_sqlite_url(make_url(f"sqlite:///{db}"))


def test_a_read_only_postgres_session_writes_nothing(tmp_path: Path) -> None:
    """Against PostgreSQL (a replica, or a primary read through a read-only session)."""
    with fresh_postgres_database() as url:
        owner = make_app(tmp_path / "data", url)
        client = owner.test_client()
        party = register_party(client, Authority.from_app(owner), "Acme", GLN, ["manufacturer"])
        checkpoint = client.get("/log/checkpoint").text
        close(owner)
        config = {"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": url}
        app = create_app({**config, "READ_ONLY": True})
        client = app.test_client()
        assert client.get("/log/checkpoint").text == checkpoint
        read_only_problem(post(client, attestation(party, "refused/1")))
        with app.app_context():
            engine = service().engine
            assert is_read_only(engine)
            with pytest.raises(ReadOnly), engine.connect() as conn:  # the session refuses
                conn.exec_driver_sql("INSERT INTO schema_version VALUES (99, 'x')")
        close(app)
        check = create_engine(normalise_url(url))
        try:
            with check.connect() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM log_entry").scalar() == 2
        finally:
            check.dispose()
