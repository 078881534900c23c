"""Engines for SQLite (WAL) and PostgreSQL, read snapshots and exclusive write transactions."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

#: Key of the PostgreSQL advisory lock that serialises appends ("prov" in ASCII).
APPEND_LOCK_KEY = 0x70726F76
SQLITE_BUSY_TIMEOUT_MS = 60_000


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, synchronous: str = "FULL") -> Engine:
    """An engine whose write transactions can be made exclusive (see `write_transaction`)."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling cannot issue BEGIN IMMEDIATE; take it over.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # A checkpoint is published only after its entries are durable.
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # The digest index takes random inserts; keep its hot pages in memory (64 MiB).
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA foreign_keys=ON")
        # REPLACE conflict resolution deletes rows; make it fire the DELETE guards too.
        cursor.execute("PRAGMA recursive_triggers=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the database lock up front so two appenders never read the same size.
        mode = "IMMEDIATE" if conn.get_execution_options().get("immediate") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def marks(conn: Connection, count: int) -> str:
    """`count` positional parameter markers in the driver's own style (qmark or format)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * count)


def query(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """A driver-level query for hot paths; `sql` uses `?` markers, translated per driver."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    return list(conn.exec_driver_sql(sql, params).fetchall())


def query_dicts(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Like `query`, with each row as a dict of column name to value."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    result = conn.exec_driver_sql(sql, params)
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One exclusive write transaction: appends are serialised across processes."""
    with _writer_queue(engine), engine.connect() as conn:
        if is_sqlite(engine):
            conn = conn.execution_options(immediate=True)
        with conn.begin():
            if not is_sqlite(engine):
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK_KEY})
            yield conn


class _FileLock:
    """An flock beside a SQLite file, held by one thread of one process at a time.

    SQLite's busy handler polls with sleeps of up to 25 ms, which throttles writers in several
    processes; a blocking flock wakes the next writer as soon as the lock is free. BEGIN
    IMMEDIATE still guards the database itself, so other clients of the file stay safe.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.thread_lock = threading.Lock()
        self.fd: int | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self.thread_lock:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)


_FILE_LOCKS: dict[tuple[int, str], _FileLock] = {}


def _writer_queue(engine: Engine) -> contextlib.AbstractContextManager[None]:
    database = engine.url.database if is_sqlite(engine) else None
    if not database or database == ":memory:":
        return contextlib.nullcontext()
    # Keyed by process too: a forked child must not share its parent's open file description.
    key = (os.getpid(), os.path.abspath(database) + ".lock")
    lock = _FILE_LOCKS.get(key)
    if lock is None:
        lock = _FILE_LOCKS[key] = _FileLock(key[1])
    return lock.held()


@contextlib.contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A read transaction with one consistent snapshot."""
    with engine.connect() as conn:
        if not is_sqlite(engine):
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn
