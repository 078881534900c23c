"""Engines for SQLite (WAL) and PostgreSQL, read snapshots and exclusive write transactions."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

from provenance.log.errors import LogNotInitialised, ReadOnly
from provenance.log.store.faults import translate_errors

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


def is_read_only(engine: Engine) -> bool:
    """Whether `engine` was made read-only (see `make_engine`)."""
    return bool(engine.get_execution_options().get("provenance_read_only"))


def make_engine(url: str, *, synchronous: str = "FULL", read_only: bool = False) -> Engine:
    """An engine whose write transactions can be made exclusive (see `write_transaction`).

    `read_only`: the database is opened so that nothing can be written through it (SQLite's
    `mode=ro` or `immutable=1`; PostgreSQL sessions default to read-only transactions, as a
    replica's are), and `write_transaction` refuses at once."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        options = "-c default_transaction_read_only=on" if read_only else None
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            connect_args={"options": options} if options else {},
        )
        translate_errors(engine)
        return engine.execution_options(provenance_read_only=True) if read_only else engine
    if read_only:
        url = read_only_sqlite_url(make_url(url)).render_as_string(hide_password=False)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    translate_errors(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling cannot issue BEGIN IMMEDIATE; take it over.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if read_only:
            # Belt and braces over the read-only file: SQLite refuses every write statement.
            cursor.execute("PRAGMA query_only=ON")
        else:
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

    return engine.execution_options(provenance_read_only=True) if read_only else engine


def read_only_sqlite_url(url: URL) -> URL:
    """A URI that opens the SQLite file read-only (https://sqlite.org/uri.html).

    A WAL database opened read-only needs its -shm and -wal files, or a directory where SQLite
    may create them (https://sqlite.org/wal.html, "Read-Only Databases"). Where it has neither,
    the file alone is the database as long as the WAL holds nothing: `immutable=1` reads it
    without locks or a -shm file.
    """
    path = Path(url.database or "")
    if not path.is_file():
        raise LogNotInitialised(f"read-only mode needs an existing database; {path} is not one")
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if os.access(path.parent, os.W_OK) or (wal.exists() and shm.exists()):
        mode = {"mode": "ro"}
    elif not wal.exists() or wal.stat().st_size == 0:
        mode = {"immutable": "1"}
    else:
        raise ReadOnly(
            f"{wal.name} holds transactions SQLite cannot read in a read-only directory "
            f"without {shm.name}: open the database once read-write (or copy it somewhere "
            "writable) so that the WAL is checkpointed into the file"
        )
    uri = "file:" + urllib.parse.quote(str(path.resolve()))
    return url.set(database=uri, query={**mode, "uri": "true"})


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
    with engine.connect() as conn, exclusive_transaction(engine, conn):
        yield conn


@contextlib.contextmanager
def exclusive_transaction(engine: Engine, conn: Connection) -> Iterator[Connection]:
    """`write_transaction` on a connection the caller holds, so that its temporary tables (a
    rebuild's shadow projection) are in reach while appends wait."""
    if is_read_only(engine):
        raise ReadOnly("this server is read-only (READ_ONLY): it serves the log but writes nothing")
    sqlite = is_sqlite(engine)
    with _writer_queue(engine):
        if sqlite:  # in place: the connection's later transactions are deferred again below
            conn.execution_options(immediate=True)
        try:
            with conn.begin():
                if not sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK_KEY})
                yield conn
        finally:
            if sqlite:
                conn.execution_options(immediate=False)


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
