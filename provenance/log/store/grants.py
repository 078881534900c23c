"""The least privileges a service role needs on PostgreSQL, as GRANT statements to run."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, MetaData

from provenance.errors import BadParameter
from provenance.log.store.engine import is_sqlite, query, read_connection
from provenance.log.store.schema import VERSION_METADATA
from provenance.log.store.tables import LOG_TABLES, METADATA


def grant_statements(engine: Engine, role: str, metadata: Sequence[MetaData] = ()) -> list[str]:
    """GRANTs that let `role` run the service and nothing more: read and append the log tables,
    read, write and delete the projection and off-log tables, read the schema version. No
    ownership, so no DDL: it cannot drop a guard trigger or a table, nor change the schema."""
    if is_sqlite(engine):
        raise BadParameter(
            "grants are for PostgreSQL; a SQLite database is guarded by its file's permissions"
        )
    with read_connection(engine) as conn:
        quote = conn.dialect.identifier_preparer.quote
        ((database, schema),) = query(conn, "SELECT current_database(), current_schema()")
        maintain = (conn.dialect.server_version_info or (0,)) >= (17,)
        tables = [table for md in (METADATA, *metadata) for table in md.sorted_tables]
        sequences = []
        for table in tables:
            column = table.autoincrement_column
            if column is not None:
                rows = query(conn, "SELECT pg_get_serial_sequence(?, ?)", (table.name, column.name))
                if rows and rows[0][0]:
                    sequences.append(str(rows[0][0]))
    who = quote(role)
    log_tables = ", ".join(LOG_TABLES)
    rest = ", ".join(sorted({t.name for t in tables} - set(LOG_TABLES)))
    version = ", ".join(t.name for t in VERSION_METADATA.sorted_tables)
    lines = [
        f"-- Least privilege for the service role {who}; run as the owner of the tables",
        "-- (the role `flask --app app migrate` runs as), again after every migrate.",
        f"GRANT CONNECT ON DATABASE {quote(database)} TO {who};",
        f"GRANT USAGE ON SCHEMA {quote(schema)} TO {who};",
        f"GRANT SELECT ON {version} TO {who};",
        f"GRANT SELECT, INSERT ON {log_tables} TO {who};",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {rest} TO {who};",
    ]
    lines += [f"GRANT USAGE, SELECT ON SEQUENCE {name} TO {who};" for name in sequences]
    if maintain:
        # VACUUM FULL scrubs erased bytes out of the table files after a payload.erase.
        lines.append(f"GRANT MAINTAIN ON {rest} TO {who};")
    else:
        lines += [
            "-- Before PostgreSQL 17 only a table's owner may VACUUM it: after a payload.erase",
            "-- the owner runs VACUUM FULL on the erased table (the service logs which).",
        ]
    return lines
