"""The identity projection in the database and in memory, both fed the same pure changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from ..custody import PRIMARY_KEYS, PutRow
from ..identity import KeyRecord, PartyRecord, PutKey, PutParty
from . import supply_tables  # noqa: F401  (registers the tables in the metadata)
from .engine import marks, query, query_dicts
from .tables import Party, PartyKey

_party = Party.__table__  # type: ignore[attr-defined]
_key = PartyKey.__table__  # type: ignore[attr-defined]


_KEY_FIELDS = [f.name for f in fields(KeyRecord)]
_KEY_COLUMNS = ", ".join(_KEY_FIELDS)


def _key_record(row: Any) -> KeyRecord:
    values = dict(zip(_KEY_FIELDS, row, strict=True))
    values["public_key"] = bytes(values["public_key"])
    return KeyRecord(**values)


class MemoryView:
    """Projection state held in dicts: used to replay the log when verifying it, and in tests."""

    def __init__(self) -> None:
        self.parties: dict[str, PartyRecord] = {}
        self.keys: dict[str, KeyRecord] = {}
        self.tables: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}

    def row(self, table: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        return self.tables.get(table, {}).get(key)

    def key(self, key_id: str) -> KeyRecord | None:
        return self.keys.get(key_id)

    def party(self, gln: str) -> PartyRecord | None:
        return self.parties.get(gln)

    def apply(self, changes: Sequence[object]) -> None:
        for change in changes:
            if isinstance(change, PutParty):
                self.parties[change.party.gln] = change.party
            elif isinstance(change, PutKey):
                self.keys[change.key.key_id] = change.key
            elif isinstance(change, PutRow):
                self.tables.setdefault(change.table, {})[change.key()] = dict(change.values)


class DbView:
    """Identity state in the projection tables, read and written inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def row(self, table: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        where = " AND ".join(f"{column} = ?" for column in PRIMARY_KEYS[table])
        found = query_dicts(self.conn, f"SELECT * FROM {table} WHERE {where}", key)
        return found[0] if found else None

    def key(self, key_id: str) -> KeyRecord | None:
        rows = query(self.conn, f"SELECT {_KEY_COLUMNS} FROM party_key WHERE key_id = ?", (key_id,))
        return _key_record(rows[0]) if rows else None

    def party(self, gln: str) -> PartyRecord | None:
        rows = query(
            self.conn, "SELECT gln, name, roles, registered_index FROM party WHERE gln = ?", (gln,)
        )
        if not rows:
            return None
        gln, name, roles, registered_index = rows[0]
        return PartyRecord(gln, name, tuple(roles.split(",")), int(registered_index))

    def apply(self, changes: Sequence[object]) -> None:
        rows: dict[str, list[dict[str, Any]]] = {}
        for change in changes:
            if isinstance(change, PutRow):
                rows.setdefault(change.table, []).append(change.values)
            elif isinstance(change, PutParty):
                values = asdict(change.party)
                values["roles"] = ",".join(change.party.roles)
                self.conn.execute(insert(_party).values(**values))
            elif isinstance(change, PutKey):
                # Projection rows are replaced whole: the log, not this table, is the history.
                self.conn.execute(delete(_key).where(_key.c.key_id == change.key.key_id))
                self.conn.execute(insert(_key).values(**asdict(change.key)))
            else:
                raise TypeError(f"no projection for change {type(change).__name__}")
        for table, table_rows in rows.items():
            upsert_rows(self.conn, table, table_rows)

    def parties(self) -> list[PartyRecord]:
        rows = self.conn.execute(select(_party).order_by(_party.c.registered_index)).mappings()
        return [
            PartyRecord(r["gln"], r["name"], tuple(r["roles"].split(",")), r["registered_index"])
            for r in rows
        ]

    def keys_of(self, gln: str) -> list[KeyRecord]:
        rows = self.conn.execute(
            select(_key).where(_key.c.gln == gln).order_by(_key.c.added_index)
        ).mappings()
        return [KeyRecord(**r) for r in rows]


def upsert_rows(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO UPDATE (SQLite ≥ 3.24 and PostgreSQL), one executemany."""
    columns = list(rows[0])
    keys = PRIMARY_KEYS[table]
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(conn, len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO " + (f"UPDATE SET {updates}" if updates else "NOTHING")
    )
    conn.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])
