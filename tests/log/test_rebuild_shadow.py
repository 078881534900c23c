"""`rebuild` replays into shadow tables while appends go on, and swaps them in atomically."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine, event, text

from provenance.gs1.keys import with_check_digit
from provenance.log import rebuild as rebuild_module
from provenance.log.personality import Registry
from provenance.log.rebuild import RebuildReport, projection_digest, rebuild
from provenance.log.store import engine as engine_module
from provenance.log.store import shadow
from provenance.log.store.engine import make_engine, read_connection, write_transaction
from provenance.web.context import service
from tests.conftest import BACKENDS, app_on
from tests.parties import Authority, PartyKey, register_party, register_person

PARTIES = 12
TIMEOUT = 60


def gln(n: int) -> str:
    return with_check_digit(f"541234{n:06d}")


@pytest.fixture(params=BACKENDS)
def log_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """A log of parties and people (identity rows) and supply-chain attestations."""
    with app_on(request.param, tmp_path / "data") as app:
        client, authority = app.test_client(), Authority.from_app(app)
        for n in range(PARTIES):
            party = register_party(client, authority, f"Party {n}", gln(n), ["manufacturer"])
            register_person(client, party, f"p{n}", f"Person {n}", "qa")
        yield app


def digest(app: Flask) -> str:
    with app.app_context(), read_connection(service().engine) as conn:
        return projection_digest(conn, service().registry)


def drift(app: Flask) -> None:
    """Change a projection row behind the log's back, as a faulty tool would."""
    with app.app_context(), write_transaction(service().engine) as conn:
        conn.execute(text("UPDATE party SET name = 'drifted' WHERE gln = :g"), {"g": gln(3)})


def shadow_tables(engine: Engine, conn: Connection) -> list[str]:
    """Shadow tables anywhere in the database: PostgreSQL lists every session's temporary
    tables; SQLite only this connection's (so they are looked for on every pooled one)."""
    if engine.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master UNION ALL SELECT name FROM sqlite_temp_master"
    else:
        sql = "SELECT relname FROM pg_class"
    return [name for (name,) in conn.exec_driver_sql(sql) if name.endswith(shadow.SUFFIX)]


@pytest.fixture
def leftovers(log_app: Flask) -> Iterator[list[str]]:
    """Shadow tables on each connection the pool takes back (SQLite's are per connection)."""
    engine = service_engine(log_app)
    found: list[str] = []

    def on_checkin(dbapi_conn: Any, _record: Any) -> None:
        if dbapi_conn is not None and engine.dialect.name == "sqlite":
            names = dbapi_conn.execute("SELECT name FROM sqlite_temp_master").fetchall()
            found.extend(name for (name,) in names if name.endswith(shadow.SUFFIX))

    event.listen(engine, "checkin", on_checkin)
    yield found
    event.remove(engine, "checkin", on_checkin)


def service_engine(app: Flask) -> Engine:
    with app.app_context():
        return service().engine


def registry_of(app: Flask) -> Registry:
    with app.app_context():
        return service().registry


def pausing(paused: Any, resume: Any) -> Callable[[int], None]:
    """A progress hook that stops after the first page until `resume` is set."""
    calls: list[int] = []

    def hook(count: int) -> None:
        calls.append(count)
        if len(calls) == 1:
            paused.set()
            assert resume.wait(TIMEOUT), "the test never resumed the rebuild"

    return hook


def append_party(app: Flask, n: int) -> PartyKey:
    return register_party(
        app.test_client(), Authority.from_app(app), f"New {n}", gln(n), ["pharmacy"]
    )


def append_within(app: Flask, n: int, seconds: float) -> bool:
    """Whether an append issued now completes within `seconds`."""
    outcome: list[BaseException | None] = []

    def append() -> None:
        try:
            append_party(app, n)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's own thread
            outcome.append(exc)

    worker = threading.Thread(target=append, daemon=True)
    worker.start()
    worker.join(seconds)
    if outcome and outcome[0] is not None:
        raise outcome[0]
    return bool(outcome)


def test_appends_complete_while_a_rebuild_runs(log_app: Flask) -> None:
    drift(log_app)
    drifted = digest(log_app)
    paused, resume = threading.Event(), threading.Event()
    reports: list[RebuildReport] = []
    engine, registry = service_engine(log_app), registry_of(log_app)
    rebuilding = threading.Thread(
        target=lambda: reports.append(rebuild(engine, registry, pausing(paused, resume), page=5))
    )
    rebuilding.start()
    try:
        assert paused.wait(TIMEOUT)
        # Paused between pages: the append lock is free, and readers see the old projection.
        assert append_within(log_app, 900, 20), "an append waited for the paused rebuild"
        assert digest(log_app) != drifted  # the new party, and the drift not yet repaired
        with log_app.app_context(), read_connection(engine) as conn:
            names = conn.execute(text("SELECT name FROM party WHERE gln = :g"), {"g": gln(3)})
            assert names.scalar_one() == "drifted"
    finally:
        resume.set()
        rebuilding.join(TIMEOUT)
    (report,) = reports
    # The entry appended during the pause was replayed in a later round, still unlocked.
    assert report.entries == 1 + 2 * PARTIES + 1 and report.caught_up == 0
    assert not report.identical  # it found the drift
    # The result is what a rebuild of the whole log with nothing appended meanwhile gives.
    again = rebuild(engine, registry)
    assert again.identical and again.caught_up == 0
    assert digest(log_app) == report.after == again.after


def test_an_append_from_another_process_completes_while_a_rebuild_runs(log_app: Flask) -> None:
    with log_app.app_context():
        url = service().settings.database_url
    registry = registry_of(log_app)
    forked = multiprocessing.get_context("fork")
    paused, resume, results = forked.Event(), forked.Event(), forked.Queue()

    def child() -> None:  # a process of its own: its own engine, locks and connections
        results.put(rebuild(make_engine(url), registry, pausing(paused, resume), page=5))

    process = forked.Process(target=child)
    process.start()
    try:
        assert paused.wait(TIMEOUT)
        assert append_within(log_app, 901, 20), "an append waited for the paused rebuild"
    finally:
        resume.set()
    report = results.get(timeout=TIMEOUT)
    process.join(TIMEOUT)
    assert process.exitcode == 0
    assert report.identical and report.entries == 1 + 2 * PARTIES + 1
    assert report.after == digest(log_app)


def test_entries_appended_just_before_the_lock_are_replayed_under_it(
    log_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, registry = service_engine(log_app), registry_of(log_app)
    locked = engine_module.exclusive_transaction

    @contextlib.contextmanager
    def append_then_lock(engine: Engine, conn: Connection) -> Iterator[Connection]:
        append_party(log_app, 902)  # after the last unlocked round, before the lock
        with locked(engine, conn) as held:
            yield held

    monkeypatch.setattr(rebuild_module, "exclusive_transaction", append_then_lock)
    drift(log_app)
    report = rebuild(engine, registry)
    assert report.caught_up == 1 and report.entries == 1 + 2 * PARTIES + 1
    assert not report.identical and 0 < report.locked_seconds < TIMEOUT
    monkeypatch.undo()
    again = rebuild(engine, registry)
    assert again.identical and digest(log_app) == report.after == again.after


def test_a_rebuild_that_fails_leaves_the_projection_and_no_shadow(
    log_app: Flask, leftovers: list[str]
) -> None:
    drift(log_app)
    drifted = digest(log_app)
    engine, registry = service_engine(log_app), registry_of(log_app)

    def failing(count: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        rebuild(engine, registry, failing, page=5)
    assert digest(log_app) == drifted
    with engine.connect() as conn:
        assert shadow_tables(engine, conn) == []
    assert leftovers == []


def test_a_swap_that_fails_is_rolled_back_whole(
    log_app: Flask, leftovers: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drift(log_app)
    drifted = digest(log_app)
    engine, registry = service_engine(log_app), registry_of(log_app)
    swap = shadow.swap

    def swap_then_fail(conn: Connection, tables: Any) -> int:
        assert swap(conn, tables) > 0  # the drifted row was replaced ...
        raise RuntimeError("after the swap")  # ... and the transaction never commits

    monkeypatch.setattr(shadow, "swap", swap_then_fail)
    with pytest.raises(RuntimeError, match="after the swap"):
        rebuild(engine, registry)
    assert digest(log_app) == drifted
    with engine.connect() as conn:
        assert shadow_tables(engine, conn) == []
    assert leftovers == []
    monkeypatch.undo()
    assert not rebuild(engine, registry).identical
    assert rebuild(engine, registry).identical


def test_the_swap_keeps_the_tables_indexes(log_app: Flask) -> None:
    engine, registry = service_engine(log_app), registry_of(log_app)
    sql = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name",
        "postgresql": "SELECT indexname FROM pg_indexes ORDER BY indexname",
    }[engine.dialect.name]
    with engine.connect() as conn:
        before = [name for (name,) in conn.exec_driver_sql(sql)]
    drift(log_app)
    assert not rebuild(engine, registry).identical
    with engine.connect() as conn:
        assert [name for (name,) in conn.exec_driver_sql(sql)] == before
    assert "person_key_person" in before


def test_the_cli_reports_how_long_appends_waited(log_app: Flask) -> None:
    result = log_app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "identical to the projection it replaced" in result.output
    assert "append lock held" in result.output
