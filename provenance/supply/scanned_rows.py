"""The rows a resolver lookup reads, in one statement of searches by key, and party names read
by key: a lookup's cost does not grow with the log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from provenance.log.store.engine import query
from provenance.supply.readers import HANDLED_BY
from provenance.supply.tables import KEYS, METADATA


def party_names(conn: Connection, glns: Iterable[str]) -> dict[str, str]:
    """The names of these parties (those registered), by primary key: never the whole table."""
    wanted = sorted(set(glns))
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT gln, name FROM party WHERE gln IN ({marks})"
        names.update((gln, name) for gln, name in query(conn, sql, tuple(chunk)))
    return names


def prefixed(alias: str, table: str) -> list[str]:
    """The table's columns, each named after its alias (`p__gtin`), to read several tables
    in one join."""
    return [f"{alias}.{c.name} AS {alias}__{c.name}" for c in METADATA.tables[table].columns]


def unprefixed(row: dict[str, Any], alias: str, table: str) -> dict[str, Any] | None:
    """The table's row among a join's columns; None where the outer join found none."""
    values = {c.name: row[f"{alias}__{c.name}"] for c in METADATA.tables[table].columns}
    return None if any(values[k] is None for k in KEYS[table]) else values


#: The product, pack and batch a scan names, its maker's name, whether `reader` handled the
#: batch, the serial's open duplicate alerts and the batch's quantity in transit: one statement,
#: each part a search by key. A serial scanned without a lot names its pack's batch.
SCANNED = (
    "SELECT "
    + ", ".join([*prefixed("p", "product"), *prefixed("k", "pack"), *prefixed("b", "batch")])
    + ", m.name AS maker_name, "
    "(SELECT count(*) FROM alert a WHERE a.gtin = ? AND a.serial = ? "
    "AND a.kind = 'duplicate-serial' AND a.resolved_index IS NULL) AS duplicates, "
    f"CASE WHEN {HANDLED_BY} THEN 1 ELSE 0 END AS handled, "
    "(SELECT coalesce(sum(s.quantity - s.received), 0) FROM shipment s "
    "WHERE s.gtin = b.gtin AND s.lot = b.lot AND s.status <> 'received') AS in_transit "
    "FROM (SELECT 1 AS one) one_row "
    "LEFT JOIN product p ON p.gtin = ? "
    "LEFT JOIN party m ON m.gln = p.manufacturer "
    "LEFT JOIN pack k ON k.gtin = ? AND k.serial = ? "
    "LEFT JOIN batch b ON b.gtin = ? AND b.lot = coalesce(?, k.lot)"
)


class Found:
    """The rows one joined read found, read by key as `verdict.judge_scan` reads rows."""

    key_columns = KEYS

    def __init__(self, found: dict[str, dict[str, Any] | None]) -> None:
        self.found = found

    def row(self, table: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        row = self.found.get(table)
        if row is None or tuple(row[c] for c in KEYS[table]) != tuple(key):
            return None
        return row

    def rows(self, table: str, keys: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        return [row for key in keys if (row := self.row(table, key)) is not None]
