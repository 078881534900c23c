"""An acknowledged erasure leaves the erased bytes in no file of the database."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from provenance.log.errors import ErasureIncomplete
from provenance.log.store.schema import scrub
from provenance.web.context import service
from tests.conftest import make_app
from tests.parties import Authority
from tests.trials.test_trials import AE_CSV, OUTCOMES, TRIAL, Study, registration


def erase_a_marked_dataset(app: Flask, settle: Callable[[], None] = lambda: None) -> bytes:
    """Submit a dataset carrying a unique marker, erase it, and return the marker; `settle`
    runs before the erasure and after it (to push what the database buffers into its files)."""
    client = app.test_client()
    authority = Authority.from_app(app)
    study = Study.with_parties(client, authority)
    study.send(study.sponsor, "trial.register", registration())
    study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
    marker = f"ERASE-ME-{secrets.token_hex(12)}".encode()
    # Large enough to live in overflow (SQLite) and TOAST (PostgreSQL) pages, as real data does,
    # and random, so that PostgreSQL stores it uncompressed and the marker is there to find.
    terms = [secrets.token_hex(24).encode() for _ in range(3, 400)]
    rows = [b"S-%d,%s,N,2026-02-01\n" % (n, term) for n, term in enumerate(terms, start=3)]
    data = AE_CSV + b"S-400,%s,N,2026-02-01\n" % marker + b"".join(rows)
    body = study.dataset_body("AE", data)
    study.send(study.sponsor, "dataset.submit", body)
    settle()
    reason = "Subject S-2 exercised the right to erasure (GDPR art. 17)"
    erase = {"trial": TRIAL, "payload": body["payload"], "reason": reason, "signature": study_sig()}
    study.send(study.sponsor, "payload.erase", erase)
    settle()
    assert study.read(f"/api/v1/trials/payloads/{body['payload']}").status_code == 410
    return marker


def study_sig() -> dict[str, str]:
    from tests.trials.test_trials import SIG

    return SIG


def files_holding(paths: list[Path], marker: bytes) -> list[str]:
    return [str(p) for p in paths if p.exists() and marker in p.read_bytes()]


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path / "data")
    yield app
    with app.app_context():
        service().close()


def test_erased_bytes_leave_every_sqlite_file(sqlite_app: Flask, tmp_path: Path) -> None:
    marker = erase_a_marked_dataset(sqlite_app)
    files = sorted((tmp_path / "data").glob("provenance.db*"))
    assert any(p.name == "provenance.db" for p in files)
    assert files_holding(files, marker) == []


def test_erased_bytes_leave_the_postgresql_tables(postgres_database: str, tmp_path: Path) -> None:
    url = postgres_database.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")

    def checkpoint() -> None:
        # The bytes reach the table's files only at a checkpoint: force one on each side.
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))

    app = make_app(tmp_path / "data", postgres_database)
    try:
        marker = erase_a_marked_dataset(app, checkpoint)
    finally:
        with app.app_context():
            service().close()
    try:
        with engine.connect() as conn:
            root = Path(str(conn.execute(text("SHOW data_directory")).scalar()))
            relations = conn.execute(
                text(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                    "WHERE c.oid = 'trial_payload'::regclass "
                    "OR c.oid = (SELECT reltoastrelid FROM pg_class "
                    "WHERE relname = 'trial_payload')"
                )
            ).scalars()
            paths = [root / str(p) for p in relations if p]
    finally:
        engine.dispose()
    if not all(p.exists() for p in paths) or not paths:
        pytest.fail(f"cannot read PostgreSQL's files {paths}: run the tests as the server's user")
    segments = [s for p in paths for s in [p, *sorted(p.parent.glob(p.name + ".*"))]]
    assert files_holding(segments, marker) == []


def test_an_erasure_an_older_reader_still_sees_is_not_acknowledged(
    postgres_database: str, tmp_path: Path
) -> None:
    url = postgres_database.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    app = make_app(tmp_path / "data", postgres_database)
    try:
        study = Study.with_parties(app.test_client(), Authority.from_app(app))
        study.send(study.sponsor, "trial.register", registration())
        study.send(study.sponsor, "protocol.commit", study.protocol(1, OUTCOMES))
        body = study.dataset_body("AE", AE_CSV)
        study.send(study.sponsor, "dataset.submit", body)
        with engine.connect() as reader:
            # A report, a backup or a replica's query that began before the erasure: its
            # snapshot still sees the bytes, so PostgreSQL must keep their old row version.
            reader.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
            assert reader.exec_driver_sql("SELECT count(*) FROM log_entry").scalar()
            why = "Subject S-1 asked for erasure under GDPR art. 17"
            erase = {"trial": TRIAL, "payload": body["payload"], "reason": why}
            erase["signature"] = study_sig()
            refused = study.send(study.sponsor, "payload.erase", erase, status=503)
            assert refused["type"].endswith("/erasure-incomplete"), refused
            assert "VACUUM FULL trial_payload" in refused["detail"]
            reader.exec_driver_sql("ROLLBACK")
        # The erasure itself is logged: the bytes are deleted, and go from the files as soon
        # as no transaction may read them.
        assert study.read(f"/api/v1/trials/payloads/{body['payload']}").status_code == 410
        with app.app_context():
            scrub(service().engine, ["trial_payload"], wait=0)
            with engine.connect() as reader:
                # A reader of the table itself: VACUUM FULL waits for it, within bounds.
                reader.exec_driver_sql("BEGIN")
                reader.exec_driver_sql("SELECT count(*) FROM trial_payload")
                started = time.monotonic()
                with pytest.raises(ErasureIncomplete, match="VACUUM FULL trial_payload"):
                    scrub(service().engine, ["trial_payload"], wait=1)
                assert time.monotonic() - started < 5
                reader.exec_driver_sql("ROLLBACK")
    finally:
        with app.app_context():
            service().close()
        engine.dispose()
