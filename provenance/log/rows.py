"""Typed handles on a personality's projection tables: the one place rows get their types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar, cast

from provenance.log.ledger import Ledger, RowView

#: Where rows are read: an entry's working copy (a statement being applied) or the projection.
Rows = Ledger | RowView

RowT = TypeVar("RowT", bound=Mapping[str, object])
KeyT = TypeVar("KeyT", bound=tuple[object, ...])


class Table(Generic[RowT, KeyT]):
    """A projection table, the type of its rows (a TypedDict) and of its primary key.

    Ledgers and views hand out `dict[str, Any]`; a domain declares one `Table` per table it
    reads, and this is the only place that says which row type a table's dicts are."""

    def __init__(self, name: str, row_type: type[RowT]) -> None:
        self.name = name
        self.row_type = row_type

    def get(self, rows: Rows, key: KeyT) -> RowT | None:
        """The row with this primary key (as the entry sees it so far, through a ledger)."""
        if isinstance(rows, Ledger):
            return cast("RowT | None", rows.get(self.name, *key))
        return cast("RowT | None", rows.row(self.name, key))

    def put(self, ledger: Ledger, row: RowT) -> RowT:
        """Write a new row, or one returned by `get` and edited in place, to the working copy."""
        ledger.put(self.name, cast(dict[str, Any], row))
        return row

    def touch(self, ledger: Ledger, row: RowT) -> None:
        """Mark a row returned by `get` and edited in place as changed."""
        ledger.touch(self.name, cast(dict[str, Any], row))
