"""Which values of an indexed field the events a reader may read hold: the top-level
collections of the EPCIS REST binding (event types, EPCs, steps, locations, dispositions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.log.store.engine import query
from provenance.supply.event_queries import READABLE_BY
from provenance.supply.readers import limited_to


def index_values(
    conn: Connection,
    *,
    fields: Sequence[str],
    low: str,
    high: str | None,
    reader: Principal | None,
    after: str | None,
    limit: int,
    budget: int,
) -> tuple[list[str], str | None]:
    """Up to `limit` distinct index keys in [low, high) that some event the reader may read
    holds in one of `fields`, in the index's order, after `after`; and where to continue (None
    when the range is done).

    The index is walked one distinct key at a time (a seek per key, however many events share
    it), at most `budget` keys per call: a page may hold fewer keys than `limit` and still have
    a next one, never silently fewer."""
    found: list[str] = []
    gln = limited_to(reader)
    readable = f" AND {READABLE_BY}" if gln is not None else ""
    upper = " AND x.epc < ?" if high is not None else ""
    marks = ", ".join("?" * len(fields))
    cursor, start = (after, ">") if after is not None else (low, ">=")
    while budget > 0:
        step = min(budget, 2 * (limit + 1 - len(found)) + 8)
        sql = (
            "WITH RECURSIVE walk(k, n) AS ("
            f"SELECT (SELECT min(x.epc) FROM epcis_epc x WHERE x.epc {start} ?{upper}), 1 "
            f"UNION ALL SELECT (SELECT min(x.epc) FROM epcis_epc x WHERE x.epc > w.k{upper}), "
            "w.n + 1 FROM walk w WHERE w.k IS NOT NULL AND w.n < ?) "
            "SELECT w.k, CASE WHEN EXISTS (SELECT 1 FROM epcis_epc y "
            "JOIN epcis_event e ON e.hash_id = y.hash_id "
            f"WHERE y.epc = w.k AND y.field IN ({marks}){readable}) THEN 1 ELSE 0 END "
            "FROM walk w WHERE w.k IS NOT NULL ORDER BY w.n"
        )
        bounds = (high,) if high is not None else ()
        params: list[Any] = [cursor, *bounds, *bounds, step, *fields]
        if gln is not None:
            params.extend((gln, gln, gln, gln))
        rows = query(conn, sql, tuple(params))
        budget -= len(rows)
        for key, held in rows:
            if held:
                found.append(str(key))
                if len(found) > limit:
                    return found[:limit], found[limit - 1]
        if len(rows) < step:
            return found, None  # the walk reached the end of the range
        cursor, start = str(rows[-1][0]), ">"
    return found, cursor
