"""The working copy of projection rows one entry reads and changes, and the changes it makes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

#: Primary-key columns of each row table a view can read, by table name.
KeyColumns = Mapping[str, tuple[str, ...]]


class PutRow(NamedTuple):
    """Insert or replace one projection row, keyed by its table's primary key."""

    table: str
    key: tuple[Any, ...]
    values: dict[str, Any]


class SetColumns(NamedTuple):
    """Erase columns of one row that is not in the projection (an off-log payload's bytes);
    only rows where `unless_set` is still NULL change, so a replay changes nothing again. The
    store overwrites what it frees, and scrubs it from its files once the entry commits."""

    table: str
    key_columns: tuple[str, ...]
    key: tuple[Any, ...]
    values: dict[str, Any]
    unless_set: str


class RowView(Protocol):
    """Rows of the projection (and of off-log tables read like rows), by primary key."""

    @property
    def key_columns(self) -> KeyColumns: ...

    def row(self, table: str, key: tuple[Any, ...]) -> dict[str, Any] | None: ...

    def rows(self, table: str, keys: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]: ...


class Ledger:
    """Working copy of the rows one entry reads and changes; `changes()` is what it wrote.

    Several operations in one entry (an EPCIS document) see each other's effects here before
    anything reaches the projection, so a failure part-way leaves the projection untouched.
    """

    def __init__(self, view: RowView, index: int, logged_at: str, key_id: str) -> None:
        self.view = view
        self.index = index
        self.logged_at = logged_at
        self.key_id = key_id
        self._keys = view.key_columns
        self._rows: dict[tuple[str, tuple[Any, ...]], dict[str, Any] | None] = {}
        self._dirty: dict[tuple[str, tuple[Any, ...]], None] = {}
        self._seq: dict[str, int] = {}
        self._extra: list[object] = []

    def get(self, table: str, *key: Any) -> dict[str, Any] | None:
        slot = (table, key)
        if slot not in self._rows:
            found = self.view.row(table, key)
            self._rows[slot] = dict(found) if found is not None else None
        return self._rows[slot]

    def prefetch(self, table: str, keys: Iterable[tuple[Any, ...]]) -> None:
        """Read many rows in a few queries ahead of per-row `get`s (absent ones cached too)."""
        wanted = [key for key in dict.fromkeys(keys) if (table, key) not in self._rows]
        for key in wanted:
            self._rows[(table, key)] = None
        columns = self._keys[table]
        for found in self.view.rows(table, wanted):
            self._rows[(table, tuple(found[c] for c in columns))] = dict(found)

    def put(self, table: str, values: dict[str, Any]) -> dict[str, Any]:
        slot = (table, tuple(values[c] for c in self._keys[table]))
        self._rows[slot] = values
        self._dirty[slot] = None
        return values

    def touch(self, table: str, row: dict[str, Any]) -> None:
        """Mark a row returned by `get` and edited in place as changed."""
        self.put(table, row)

    def also(self, change: object) -> None:
        """A change beyond projection rows (e.g. erasing an off-log payload), applied last."""
        self._extra.append(change)

    def changes(self) -> list[object]:
        """The rows written, each once in its final state (the ledger is done with them)."""
        rows = self._rows
        puts = [PutRow(table, key, rows[(table, key)] or {}) for table, key in self._dirty]
        return [*puts, *self._extra]

    def next_seq(self, table: str) -> int:
        """Rows keyed (entry index, seq) are numbered 0, 1, … within the entry."""
        seq = self._seq.get(table, 0)
        self._seq[table] = seq + 1
        return seq
