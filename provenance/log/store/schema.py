"""The schema (core and personality tables, append-only triggers), and scrubbing erasures."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, MetaData

from provenance.log.errors import IntegrityError
from provenance.log.store.engine import is_sqlite, write_transaction
from provenance.log.store.tables import LOG_TABLES, METADATA

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


def create_schema(engine: Engine, metadata: Sequence[MetaData] = ()) -> None:
    """Create the core's tables, those of `metadata` (the personalities') and the append-only
    guards; safe to run again on an existing database."""
    with write_transaction(engine) as conn:
        for schema in (METADATA, *metadata):
            schema.create_all(conn)
        _install_guards(conn)


def scrub(engine: Engine, tables: Sequence[str]) -> None:
    """Remove erased bytes from the database's files once the erasing entry has committed.

    SQLite: the erasure overwrote the freed pages (secure_delete); a TRUNCATE checkpoint copies
    the WAL into the database and empties it, so no older frame still holds the bytes.
    PostgreSQL: an UPDATE leaves the old row version in the table (and its TOAST table) until
    VACUUM; VACUUM FULL rewrites the tables into new files. Neither reaches backups, replicas
    or, on PostgreSQL, WAL segments not yet recycled: README says what operators must do.
    """
    if not tables:
        return
    with engine.connect() as conn:
        if is_sqlite(engine):
            for _ in range(50):  # readers on older snapshots can hold the checkpoint back
                busy, _log, _moved = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
                if not busy:
                    return
                time.sleep(0.1)
            raise IntegrityError("the erased bytes could not be checkpointed out of the WAL")
        vacuum = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in sorted(set(tables)):
            vacuum.exec_driver_sql(f"VACUUM FULL {table}")
