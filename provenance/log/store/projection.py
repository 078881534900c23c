"""The projection in the database and in memory, both fed the same pure changes."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import Connection, Table, TableClause, column, delete, insert, select
from sqlalchemy import table as table_clause

from provenance.log.identity import (
    KeyRecord,
    PartyRecord,
    PersonRecord,
    PutKey,
    PutParty,
    PutPerson,
)
from provenance.log.ledger import KeyColumns, PutRow, SetColumns
from provenance.log.store.engine import marks
from provenance.log.store.tables import Party, PartyKey, PersonKey

_party = Party.__table__  # type: ignore[attr-defined]
_key = PartyKey.__table__  # type: ignore[attr-defined]
_person = PersonKey.__table__  # type: ignore[attr-defined]


_KEY_FIELDS = [f.name for f in fields(KeyRecord)]
_KEY_COLUMNS = ", ".join(_KEY_FIELDS)
_PERSON_COLUMNS = ", ".join(field.name for field in fields(PersonRecord))


def _key_record(row: Any) -> KeyRecord:
    values = dict(zip(_KEY_FIELDS, row, strict=True))
    values["public_key"] = bytes(values["public_key"])
    return KeyRecord(**values)


def _stored_as(definition: Table, name: str) -> Table | TableClause:
    """The table's columns (with their types) under the name it is stored as."""
    if name == definition.name:
        return definition
    return table_clause(name, *(column(c.name, c.type) for c in definition.columns))


class MemoryView:
    """Projection state held in dicts: used to replay the log when verifying it, and in tests."""

    def __init__(self, key_columns: KeyColumns | None = None) -> None:
        self.key_columns: KeyColumns = key_columns or {}
        self.parties: dict[str, PartyRecord] = {}
        self.keys: dict[str, KeyRecord] = {}
        self.people: dict[str, PersonRecord] = {}
        self.tables: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}

    def row(self, table: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        return self.tables.get(table, {}).get(key)

    def rows(self, table: str, keys: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        stored = self.tables.get(table, {})
        return [stored[key] for key in keys if key in stored]

    def key(self, key_id: str) -> KeyRecord | None:
        return self.keys.get(key_id)

    def party(self, gln: str) -> PartyRecord | None:
        return self.parties.get(gln)

    def keys_of(self, gln: str) -> list[KeyRecord]:
        found = [key for key in self.keys.values() if key.gln == gln]
        return sorted(found, key=lambda key: key.added_index)

    def person_of(self, key_id: str) -> PersonRecord | None:
        return self.people.get(key_id)

    def person_keys(self, gln: str, person: str) -> list[PersonRecord]:
        found = [p for p in self.people.values() if (p.gln, p.person) == (gln, person)]
        return sorted(found, key=lambda p: p.registered_index)

    def apply(self, changes: Sequence[object]) -> None:
        for change in changes:
            if isinstance(change, PutParty):
                self.parties[change.party.gln] = change.party
            elif isinstance(change, PutPerson):
                self.people[change.person.key_id] = change.person
            elif isinstance(change, PutKey):
                self.keys[change.key.key_id] = change.key
            elif isinstance(change, PutRow):
                self.tables.setdefault(change.table, {})[change.key] = dict(change.values)
            elif isinstance(change, SetColumns):
                row = self.tables.get(change.table, {}).get(change.key)
                if row is not None and row.get(change.unless_set) is None:
                    row.update(change.values)


class DbView:
    """The projection tables, read and written inside one transaction; `key_columns` names the
    row tables it may read (those of the log's personalities), `stored_as` the tables stored
    under another name (a rebuild's shadow tables)."""

    def __init__(
        self,
        conn: Connection,
        key_columns: KeyColumns | None = None,
        stored_as: Mapping[str, str] | None = None,
    ) -> None:
        self.conn = conn
        self.key_columns: KeyColumns = key_columns or {}
        self.stored_as: dict[str, str] = dict(stored_as or {})
        self._party = _stored_as(_party, self._name("party"))
        self._key = _stored_as(_key, self._name("party_key"))
        self._person = _stored_as(_person, self._name("person_key"))
        self._cursor: Any = None
        #: Tables whose erased columns the store must scrub from its files after commit.
        self.erased: set[str] = set()
        self._parties: dict[str, PartyRecord] = {}

    def _raw(self, sql: str, params: tuple[Any, ...]) -> Any:
        """A DBAPI cursor over `sql`: per-row lookups skip SQLAlchemy's result machinery,
        which costs more than SQLite's own work for a primary-key read."""
        if self._cursor is None:
            self._cursor = self.conn.connection.cursor()
        if self.conn.dialect.paramstyle != "qmark":
            sql = sql.replace("?", "%s")
        self._cursor.execute(sql, params)
        return self._cursor

    def _name(self, table: str) -> str:
        return self.stored_as.get(table, table)

    def row(self, table: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        where = " AND ".join(f"{column} = ?" for column in self.key_columns[table])
        cursor = self._raw(f"SELECT * FROM {self._name(table)} WHERE {where}", key)
        found = cursor.fetchone()
        if found is None:
            return None
        return dict(zip((d[0] for d in cursor.description), found, strict=True))

    def rows(self, table: str, keys: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """The rows among these primary keys that exist, in bounded OR-of-keys queries."""
        columns = self.key_columns[table]
        match = "(" + " AND ".join(f"{column} = ?" for column in columns) + ")"
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 200):
            chunk = keys[start : start + 200]
            params = tuple(value for key in chunk for value in key)
            cursor = self._raw(
                f"SELECT * FROM {self._name(table)} WHERE {' OR '.join([match] * len(chunk))}",
                params,
            )
            names = [d[0] for d in cursor.description]
            found.extend(dict(zip(names, row, strict=True)) for row in cursor.fetchall())
        return found

    def key(self, key_id: str) -> KeyRecord | None:
        sql = f"SELECT {_KEY_COLUMNS} FROM {self._name('party_key')} WHERE key_id = ?"
        found = self._raw(sql, (key_id,)).fetchone()
        return _key_record(found) if found is not None else None

    def party(self, gln: str) -> PartyRecord | None:
        # Parties are only ever added, so a party once read stays valid for this view.
        cached = self._parties.get(gln)
        if cached is not None:
            return cached
        sql = f"SELECT gln, name, roles, registered_index FROM {self._name('party')} WHERE gln = ?"
        found = self._raw(sql, (gln,)).fetchone()
        if found is None:
            return None
        gln, name, roles, registered_index = found
        record = PartyRecord(gln, name, tuple(roles.split(",")), int(registered_index))
        self._parties[gln] = record
        return record

    def apply(self, changes: Sequence[object]) -> None:
        rows: dict[str, list[dict[str, Any]]] = {}
        for change in changes:
            if isinstance(change, PutRow):
                rows.setdefault(change.table, []).append(change.values)
            elif isinstance(change, SetColumns):
                self._erase(change)
            elif isinstance(change, PutParty):
                values = asdict(change.party)
                values["roles"] = ",".join(change.party.roles)
                self.conn.execute(insert(self._party).values(**values))
            elif isinstance(change, PutKey):
                # Projection rows are replaced whole: the log, not this table, is the history.
                key = self._key
                self.conn.execute(delete(key).where(key.c.key_id == change.key.key_id))
                self.conn.execute(insert(key).values(**asdict(change.key)))
            elif isinstance(change, PutPerson):
                record = change.person
                person = self._person
                self.conn.execute(delete(person).where(person.c.key_id == record.key_id))
                self.conn.execute(insert(person).values(**asdict(record)))
            else:
                raise TypeError(f"no projection for change {type(change).__name__}")
        for table, table_rows in rows.items():
            upsert_rows(self.conn, self._name(table), self.key_columns[table], table_rows)

    def _erase(self, change: SetColumns) -> None:
        where = " AND ".join(f"{column} = ?" for column in change.key_columns)
        sets = ", ".join(f"{column} = ?" for column in change.values)
        sqlite = self.conn.dialect.name == "sqlite"
        if sqlite:  # zero the freed pages as the row shrinks, not only unlink them
            self._raw("PRAGMA secure_delete = ON", ())
        target = self._name(change.table)
        self._raw(
            f"UPDATE {target} SET {sets} WHERE {where} AND {change.unless_set} IS NULL",
            (*change.values.values(), *change.key),
        )
        if sqlite:
            self._raw("PRAGMA secure_delete = OFF", ())
        self.erased.add(change.table)

    def person_of(self, key_id: str) -> PersonRecord | None:
        # Asked for every statement a key signs: a raw read, as for the key itself.
        sql = f"SELECT {_PERSON_COLUMNS} FROM {self._name('person_key')} WHERE key_id = ?"
        found = self._raw(sql, (key_id,)).fetchone()
        return PersonRecord(*found) if found is not None else None

    def person_keys(self, gln: str, person: str) -> list[PersonRecord]:
        people = self._person
        query = (
            select(people)
            .where(people.c.gln == gln, people.c.person == person)
            .order_by(people.c.registered_index)
        )
        return [PersonRecord(**r) for r in self.conn.execute(query).mappings()]

    def parties(self) -> list[PartyRecord]:
        party = self._party
        rows = self.conn.execute(select(party).order_by(party.c.registered_index)).mappings()
        return [
            PartyRecord(r["gln"], r["name"], tuple(r["roles"].split(",")), r["registered_index"])
            for r in rows
        ]

    def keys_of(self, gln: str) -> list[KeyRecord]:
        rows = self.conn.execute(
            select(self._key).where(self._key.c.gln == gln).order_by(self._key.c.added_index)
        ).mappings()
        return [KeyRecord(**r) for r in rows]


def upsert_rows(
    conn: Connection, table: str, keys: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """INSERT … ON CONFLICT DO UPDATE (SQLite ≥ 3.24 and PostgreSQL), one executemany."""
    columns = list(rows[0])
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(conn, len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO " + (f"UPDATE SET {updates}" if updates else "NOTHING")
    )
    values = operator.itemgetter(*columns)
    conn.exec_driver_sql(
        sql, [values(row) for row in rows] if len(columns) > 1 else [(values(row),) for row in rows]
    )
