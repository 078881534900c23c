"""Creating the schema: the core's tables, the personalities' tables, append-only triggers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, MetaData

from provenance.log.store.engine import write_transaction
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
