"""The schema (core and personality tables, append-only triggers, its version): created and
migrated by the database owner (`flask --app app migrate`), only checked by the service."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, inspect
from sqlalchemy.exc import OperationalError

from provenance.errors import Error
from provenance.log.errors import ErasureIncomplete, SchemaOutdated
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import is_sqlite, query, read_connection, write_transaction
from provenance.log.store.tables import LOG_TABLES, METADATA

log = logging.getLogger(__name__)

#: The schema this release reads and writes. Version 1: the tables of the core, the plug-ins
#: and the sessions, with the append-only guards. A change to a table bumps it and adds the
#: step that brings a database from the previous version to `migrate_schema`.
SCHEMA_VERSION = 1
VERSION_METADATA = MetaData()
SCHEMA_VERSION_TABLE = Table(
    "schema_version",
    VERSION_METADATA,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("migrated_at", String(24), nullable=False),
)
MIGRATE = "run `flask --app app migrate` as the database owner"

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


def _schemas(metadata: Sequence[MetaData]) -> tuple[MetaData, ...]:
    return (METADATA, VERSION_METADATA, *metadata)


def _version(conn: Connection) -> int | None:
    ((found,),) = query(conn, "SELECT max(version) FROM schema_version")
    return None if found is None else int(found)


def migrate_schema(engine: Engine, metadata: Sequence[MetaData] = ()) -> None:
    """Bring the database to SCHEMA_VERSION: create the core's tables, those of `metadata`
    (the plug-ins' and the sessions'), the append-only guards, and record the version. Run by
    the role that owns the tables; safe to run again."""
    with write_transaction(engine) as conn:
        present = set(inspect(conn).get_table_names())
        version = _version(conn) if "schema_version" in present else None
        if version is not None and version > SCHEMA_VERSION:
            raise SchemaOutdated(_newer(version))
        for schema in _schemas(metadata):
            schema.create_all(conn)
            # create_all skips a table that exists, with it the indexes a release added to it.
            for table in schema.sorted_tables:
                for index in table.indexes:
                    index.create(conn, checkfirst=True)
        _install_guards(conn)
        if version != SCHEMA_VERSION:
            conn.execute(
                SCHEMA_VERSION_TABLE.insert().values(
                    version=SCHEMA_VERSION, migrated_at=now_timestamp()
                )
            )


def _newer(version: int) -> str:
    return (
        f"the database schema is version {version}, newer than this release's "
        f"{SCHEMA_VERSION}: run the release that migrated it"
    )


@dataclass(frozen=True)
class SchemaStatus:
    """What a database holds of the schema this release needs, found without changing it."""

    version: int | None  # None: no version recorded (no schema, or one from before versions)
    present: frozenset[str]
    missing: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """No table of this release's schema exists: `init` creates them all."""
        return not self.present

    def problem(self) -> Error | None:
        """Why this release may not serve the database as it is, or None (also for an empty
        one: it answers "not initialised" until `init`)."""
        if self.empty or (self.version == SCHEMA_VERSION and not self.missing):
            return None
        if self.version is not None and self.version > SCHEMA_VERSION:
            return SchemaOutdated(_newer(self.version))
        held = "from before schema versions" if self.version is None else str(self.version)
        lacking = f", and lacks the tables {', '.join(self.missing)}" if self.missing else ""
        return SchemaOutdated(
            f"the database schema is version {held}, this release needs {SCHEMA_VERSION}"
            f"{lacking}: {MIGRATE}",
            schema_version=self.version,
            required_version=SCHEMA_VERSION,
        )


def check_schema(engine: Engine, metadata: Sequence[MetaData] = ()) -> SchemaStatus:
    """The schema's version and missing tables, read without any DDL."""
    expected = {table.name for schema in _schemas(metadata) for table in schema.sorted_tables}
    with read_connection(engine) as conn:
        tables = set(inspect(conn).get_table_names())
        version = _version(conn) if "schema_version" in tables else None
    present = frozenset(expected & tables)
    return SchemaStatus(version, present, tuple(sorted(expected - tables)))


def scrub(engine: Engine, tables: Sequence[str], *, wait: float = 5.0) -> None:
    """Remove erased bytes from the database's files once the erasing entry has committed.

    SQLite: the erasure overwrote the freed pages (secure_delete); a TRUNCATE checkpoint copies
    the WAL into the database and empties it, so no older frame still holds the bytes.
    PostgreSQL: an UPDATE leaves the old row version in the table (and its TOAST table) until
    VACUUM; VACUUM FULL rewrites the tables into new files, but keeps the row versions a
    transaction older than the erasure may still read. Either waits up to `wait` seconds for
    readers of older states to finish, then raises ErasureIncomplete. Neither reaches backups,
    replicas or, on PostgreSQL, WAL segments not yet recycled: README says what operators must
    do.
    """
    if not tables:
        return
    deadline = time.monotonic() + wait
    with engine.connect() as conn:
        if is_sqlite(engine):
            while True:  # readers on older snapshots can hold the checkpoint back
                busy, _log, _moved = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
                if not busy:
                    return
                if time.monotonic() > deadline:
                    raise ErasureIncomplete(
                        "the erasure is logged, but a reader of an older state keeps the "
                        "erased bytes in the WAL: they go at the next checkpoint"
                    )
                time.sleep(0.1)
        vacuum = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in sorted(set(tables)):
            if not _may_vacuum(vacuum, table):
                # PostgreSQL skips such a table with a warning only: say what is left to do.
                log.warning(
                    "the erased bytes stay in dead row versions of %s until its owner runs "
                    "VACUUM FULL %s (this role may not: README, Least privilege)",
                    table,
                    table,
                )
                continue
            while (kept := _vacuum_full(vacuum, table, deadline)) and time.monotonic() < deadline:
                time.sleep(0.2)
            if kept:
                raise ErasureIncomplete(
                    f"the erasure is logged, but old row versions of {table} that a "
                    "transaction older than the erasure may still read hold the erased bytes: "
                    f"once it ends, VACUUM FULL {table} removes them",
                    table=table,
                )


_KEPT_DEAD = re.compile(r"(\d+) dead row versions cannot be removed yet")


def _vacuum_full(conn: Connection, table: str, deadline: float) -> int:
    """VACUUM FULL `table` (and its TOAST table); how many dead row versions it had to keep
    (-1: it could not lock the table by the deadline, a reader holding it)."""
    driver = conn.connection.driver_connection
    kept: list[int] = []
    # VACUUM FULL waits for every reader of the table to finish: bounded, since the append
    # lock is held meanwhile.
    wait_ms = max(1, int((deadline - time.monotonic()) * 1000))
    conn.exec_driver_sql(f"SET lock_timeout = {wait_ms}")

    def notice(diagnostic: Any) -> None:
        # VERBOSE reports, per rewritten table, the dead rows a running transaction may see.
        found = _KEPT_DEAD.search(diagnostic.message_detail or "")
        if found:
            kept.append(int(found.group(1)))

    driver.add_notice_handler(notice)  # type: ignore[union-attr]
    try:
        conn.exec_driver_sql(f"VACUUM (FULL, VERBOSE) {table}")
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        return -1
    finally:
        driver.remove_notice_handler(notice)  # type: ignore[union-attr]
        conn.exec_driver_sql("RESET lock_timeout")
    return sum(kept)


def _may_vacuum(conn: Connection, table: str) -> bool:
    """Whether this role may VACUUM `table`: it owns it, or (PostgreSQL 17+) holds MAINTAIN."""
    maintain = (conn.dialect.server_version_info or (0,)) >= (17,)
    sql = "SELECT pg_has_role(c.relowner, 'USAGE')"
    sql += " OR has_table_privilege(c.oid, 'MAINTAIN')" if maintain else ""
    rows = query(conn, f"{sql} FROM pg_class c WHERE c.oid = to_regclass(?)", (table,))
    return bool(rows and rows[0][0])
