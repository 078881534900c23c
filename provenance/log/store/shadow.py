"""A rebuild's shadow projection: temporary twins of the projection tables, and the swap."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Connection, MetaData, Table

#: Appended to a projection table's name to name its shadow.
SUFFIX = "__rebuild"
# Tables created in these schemas are the connection's own: no other connection sees them, they
# take no lock on the database (SQLite) and they vanish with the connection, even after a crash.
_TEMPORARY_SCHEMA = {"sqlite": "temp", "postgresql": "pg_temp"}


def shadow_name(table: str) -> str:
    return table + SUFFIX


def definitions(metadata: Sequence[MetaData], tables: Iterable[str]) -> dict[str, Table]:
    """The SQLAlchemy definition of each of these tables, found in any of `metadata`."""
    known: dict[str, Table] = {}
    for schema in metadata:
        known.update({table.name: table for table in schema.tables.values()})
    missing = [name for name in tables if name not in known]
    if missing:
        raise ValueError(f"projection tables without a definition: {', '.join(missing)}")
    return {name: known[name] for name in tables}


def create(conn: Connection, tables: Mapping[str, Table]) -> dict[str, str]:
    """An empty temporary twin of each table on this connection (its columns, keys, constraints
    and indexes); returns each table's shadow name."""
    schema = _TEMPORARY_SCHEMA[conn.dialect.name]
    twins = MetaData()
    for name, table in tables.items():
        table.to_metadata(twins, schema=schema, name=shadow_name(name))
    drop(conn, tables)  # a twin left on a pooled connection by a rebuild that was killed
    twins.create_all(conn, checkfirst=False)
    return {name: shadow_name(name) for name in tables}


def drop(conn: Connection, tables: Iterable[str]) -> None:
    schema = _TEMPORARY_SCHEMA[conn.dialect.name]
    for name in tables:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.{shadow_name(name)}")


def swap(conn: Connection, tables: Mapping[str, Table]) -> int:
    """Make each live table hold exactly its shadow's rows; returns how many rows that deleted
    and inserted.

    Only rows that differ are written: the tables themselves (indexes, constraints, triggers,
    grants) stay as they are, and a projection that had not drifted costs one anti-join and two
    counts per table, and no writes. Children are emptied before and filled after their parents.
    """
    deleted = {name: _delete_differing(conn, tables[name]) for name in reversed(list(tables))}
    inserted = 0
    for name, table in tables.items():
        # Every row left has its twin in the shadow: equal counts mean nothing is missing.
        if deleted[name] or _count(conn, name) != _count(conn, shadow_name(name)):
            inserted += _insert_missing(conn, table)
    return sum(deleted.values()) + inserted


def _count(conn: Connection, table: str) -> int:
    quoted = conn.dialect.identifier_preparer.quote(table)
    return int(conn.exec_driver_sql(f"SELECT count(*) FROM {quoted}").scalar_one())


def _delete_differing(conn: Connection, table: Table) -> int:
    """Delete the live rows that have no identical row in the shadow."""
    quote = conn.dialect.identifier_preparer.quote
    live, shadow = quote(table.name), quote(shadow_name(table.name))
    same = " AND ".join(_same(conn, quote(c.name), c.primary_key, live) for c in table.columns)
    sql = f"DELETE FROM {live} WHERE NOT EXISTS (SELECT 1 FROM {shadow} AS s WHERE {same})"
    return int(conn.exec_driver_sql(sql).rowcount)


def _insert_missing(conn: Connection, table: Table) -> int:
    """Insert the shadow rows whose key the live table lacks (after the delete: every row that
    was missing or differed)."""
    quote = conn.dialect.identifier_preparer.quote
    live, shadow = quote(table.name), quote(shadow_name(table.name))
    columns = ", ".join(quote(c.name) for c in table.columns)
    keys = [quote(c.name) for c in table.primary_key.columns]
    same = " AND ".join(_same(conn, key, True, "l") for key in keys)
    sql = (
        f"INSERT INTO {live} ({columns}) SELECT {columns} FROM {shadow} AS s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {live} AS l WHERE {same})"
    )
    return int(conn.exec_driver_sql(sql).rowcount)


def _same(conn: Connection, column: str, key: bool, live: str) -> str:
    """`s.column` equals `live.column`, NULL equal to NULL."""
    if conn.dialect.name == "sqlite":
        # SQLite lets a non-integer primary key column hold NULL; IS still uses the index.
        return f"s.{column} IS {live}.{column}"
    if key:  # PostgreSQL keys are never NULL, and only = uses the index
        return f"s.{column} = {live}.{column}"
    return f"s.{column} IS NOT DISTINCT FROM {live}.{column}"
