"""The schema is the database owner's: the service only checks its version, runs no DDL, and
on PostgreSQL runs as a role granted what `flask --app app grants` prints and nothing more."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import create_app
from provenance.log.errors import SchemaOutdated
from provenance.log.note import open_checkpoint, parse_tlog_proof, parse_verifier_key
from provenance.log.store.engine import make_engine, normalise_url
from provenance.log.store.schema import SCHEMA_VERSION, scrub
from provenance.web.context import service
from tests.conftest import fresh_postgres_database, make_app, postgres_url
from tests.parties import Authority, attestation, post, read, register_party
from tests.paths import TESTS

GLN = "5412345000013"
DDL = ("CREATE", "DROP", "ALTER", "GRANT", "REVOKE", "TRUNCATE", "VACUUM")


def close(app: Flask) -> None:
    with app.app_context():
        service().close()


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every statement any engine in this process sends while the test runs."""
    sent: list[str] = []

    def record(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        sent.append(sql.strip())

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def test_starting_and_serving_run_no_ddl(tmp_path: Path, statements: list[str]) -> None:
    close(make_app(tmp_path))
    statements.clear()
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    client = app.test_client()
    party = register_party(client, Authority.from_app(app), "Acme", GLN, ["manufacturer"])
    assert post(client, attestation(party)).status_code == 201
    assert client.get("/log/checkpoint").status_code == 200
    close(app)
    assert any(sql.startswith("INSERT INTO log_entry") for sql in statements)
    assert [sql for sql in statements if sql.upper().startswith(DDL)] == []


def set_version(app: Flask, version: int | None) -> None:
    with app.app_context():
        engine = service().engine
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM schema_version")
            if version is not None:
                conn.exec_driver_sql(f"INSERT INTO schema_version VALUES ({version}, 'then')")
    close(app)


@pytest.mark.parametrize(
    ("version", "says"),
    [(None, "from before schema versions"), (SCHEMA_VERSION + 1, "newer than this release")],
)
def test_a_schema_of_another_release_refuses_to_start(
    tmp_path: Path, version: int | None, says: str
) -> None:
    set_version(make_app(tmp_path), version)
    with pytest.raises(SchemaOutdated, match=says):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})


def test_flask_migrate_brings_an_old_schema_up_to_date(tmp_path: Path) -> None:
    """`flask --app app migrate` runs where the server refuses to start (it is the way out)."""
    set_version(make_app(tmp_path), None)
    env = {**os.environ, "PROVENANCE_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)

    def flask(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "flask", "--app", "app", *args]
        root = TESTS.parent
        return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)

    migrated = flask("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"from version from before schema versions to {SCHEMA_VERSION}" in migrated.stdout
    again = flask("migrate")
    assert f"schema version {SCHEMA_VERSION}: already current" in again.stdout
    close(create_app({"TESTING": True, "DATA_DIR": str(tmp_path)}))


def test_grants_are_for_postgres(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["grants", "--role", "svc"])
    assert result.exit_code == 1 and "PostgreSQL" in result.output


def as_role(url: str, role: str) -> str:
    return make_url(url).set(username=role).render_as_string(hide_password=False)


@pytest.fixture
def service_role() -> Iterator[str]:
    """A login role that owns nothing (trust authentication on the test server)."""
    base = postgres_url()
    if not base:
        pytest.skip("PROVENANCE_TEST_POSTGRES_URL is not set")
    role = f"provenance_service_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
    try:
        yield role
    finally:
        with admin.connect() as conn:  # its grants went with the test's database
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()


def test_a_service_role_that_owns_nothing(
    tmp_path: Path, service_role: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    with fresh_postgres_database() as owner_url:
        owner = make_app(data, owner_url)  # init, as the owner: schema, guards, genesis
        printed = owner.test_cli_runner().invoke(args=["grants", "--role", service_role])
        assert printed.exit_code == 0, printed.output
        grants = [line for line in printed.output.splitlines() if line.startswith("GRANT")]
        log_tables = "log_entry, log_node, log_checkpoint, log_payload"
        assert f"GRANT SELECT, INSERT ON {log_tables} TO {service_role};" in grants
        with owner.app_context(), service().engine.begin() as conn:
            for grant in grants:
                conn.exec_driver_sql(grant)
        close(owner)

        service_url = as_role(owner_url, service_role)
        app = create_app({"TESTING": True, "DATA_DIR": str(data), "DATABASE_URL": service_url})
        client = app.test_client()
        party = register_party(client, Authority.from_app(app), "Acme", GLN, ["manufacturer"])
        index = post(client, attestation(party, "least/1")).get_json()["index"]
        vkey = parse_verifier_key(client.get("/log/key").text.strip())
        proof = parse_tlog_proof(read(client, party, f"/log/receipt/{index}").data)
        assert open_checkpoint(proof.checkpoint, vkey).size == 3
        refused = app.test_cli_runner().invoke(args=["migrate"])
        assert refused.exit_code != 0  # the owner's step
        close(app)

        engine = create_engine(normalise_url(service_url), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for sql, says in [
                    ("DROP TRIGGER log_entry_append_only ON log_entry", "must be owner"),
                    ("ALTER TABLE log_entry DISABLE TRIGGER ALL", "must be owner"),
                    ("DROP TABLE log_entry", "must be owner"),
                    ("DROP FUNCTION provenance_append_only() CASCADE", "must be owner"),
                    ("UPDATE log_entry SET kind = 'x' WHERE idx = 1", "permission denied"),
                    ("DELETE FROM log_entry WHERE idx = 1", "permission denied"),
                    ("TRUNCATE log_checkpoint", "permission denied"),
                    ("UPDATE schema_version SET version = 0", "permission denied"),
                    ("CREATE TABLE shadow (x int)", "permission denied"),
                ]:
                    with pytest.raises(DBAPIError, match=says):
                        conn.exec_driver_sql(sql)
                assert conn.exec_driver_sql("SELECT count(*) FROM log_entry").scalar() == 3
        finally:
            engine.dispose()
        # PostgreSQL 15 lets only the owner VACUUM: the scrub after an erasure says so.
        engine = make_engine(service_url)
        try:
            with caplog.at_level(logging.WARNING):
                scrub(engine, ["trial_payload"])
        finally:
            engine.dispose()
        assert "until its owner runs VACUUM FULL trial_payload" in caplog.text
