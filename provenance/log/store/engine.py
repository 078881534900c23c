"""Engines for SQLite (WAL) and PostgreSQL, schema creation, append-only triggers, write locks."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from provenance.log.store import tables  # noqa: F401  (registers the tables in the metadata)
from provenance.log.store.tables import LOG_TABLES

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


_SQLITE_GUARDS = [
    (
        "CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} "
        "BEGIN SELECT RAISE(ABORT, '{t} is append-only: UPDATE refused'); END"
    ),
    (
        "CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t} "
        "BEGIN SELECT RAISE(ABORT, '{t} is append-only: DELETE refused'); END"
    ),
]
# INSERT OR REPLACE resolves conflicts by deleting; refuse any insert that would collide.
_SQLITE_NO_REPLACE = {
    "log_entry": "idx = NEW.idx OR payload_digest = NEW.payload_digest",
    "log_node": "level = NEW.level AND idx = NEW.idx",
    "log_checkpoint": "size = NEW.size",
    "log_payload": "digest = NEW.digest",
}

_PG_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION provenance_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING
    MESSAGE = TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused',
    ERRCODE = 'insufficient_privilege';
END $$
"""


def _install_guards(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for table in LOG_TABLES:
            for ddl in _SQLITE_GUARDS:
                conn.exec_driver_sql(ddl.format(t=table))
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {_SQLITE_NO_REPLACE[table]}) "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: row exists'); END"
            )
        return
    conn.exec_driver_sql(_PG_GUARD_FUNCTION)
    for table in LOG_TABLES:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        conn.exec_driver_sql(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION provenance_append_only()"
        )
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        conn.exec_driver_sql(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION provenance_append_only()"
        )


def create_schema(engine: Engine) -> None:
    """Create tables and guards; safe to run again on an existing database."""
    with write_transaction(engine) as conn:
        SQLModel.metadata.create_all(conn)
        _install_guards(conn)
