"""Reads of captured EPCIS events: the query, and how many events an entry captured."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.log.store.engine import query
from provenance.supply.readers import HANDLED_BY, limited_to

#: Where an event stands in a query's order: event time (UTC millis), entry index, position.
EventKey = tuple[str, int, int]


def epcis_events(
    conn: Connection,
    *,
    epcs: Sequence[tuple[Sequence[str], Sequence[str]]] = (),
    gtin: str | None = None,
    lot: str | None = None,
    biz_step: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 1000,
    reader: Principal | None = None,
    after: EventKey | None = None,
    page_keys: list[EventKey] | None = None,
) -> list[dict[str, Any]]:
    """Captured events matching every given filter, oldest first. A party reads the events of
    entries it signed and those of batches it handled (an event is filed under the first batch
    it names); a regulator all.

    Each of `epcs` is (fields, EPC keys): the event names one of the keys (in the indexed form
    of `provenance.epcis.epc_index.epc_key`) in one of the fields. `after` continues a query
    after the event with that key (the order's own key: time, entry, position); `page_keys`, if
    given, receives each returned event's key, so the caller can name where a page ended."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    for column, value in (("gtin", gtin), ("lot", lot), ("biz_step", biz_step)):
        if value is not None:
            where.append(f"e.{column} = ?")
            params.append(value)
    gln = limited_to(reader)
    if gln is not None:
        # Both by key, per candidate event: the entry's signer, and the event's batch.
        where.append(
            "(EXISTS (SELECT 1 FROM log_entry l JOIN party_key k ON k.key_id = l.signer "
            "WHERE l.idx = e.idx AND k.gln = ?) "
            f"OR EXISTS (SELECT 1 FROM batch b WHERE b.gtin = e.gtin AND b.lot = e.lot "
            f"AND {HANDLED_BY}))"
        )
        params.extend((gln, gln, gln, gln))
    for fields, keys in epcs:
        # By key on the EPC index: exact, and as fast at a million events as at ten.
        where.append(
            "e.hash_id IN (SELECT x.hash_id FROM epcis_epc x "
            f"WHERE x.epc IN ({_marks(keys)}) AND x.field IN ({_marks(fields)}))"
        )
        params.extend((*keys, *fields))
    if since is not None:
        where.append("e.event_time >= ?")
        params.append(since)
    if until is not None:
        where.append("e.event_time < ?")
        params.append(until)
    if after is not None:
        at, idx, position = after
        where.append(
            "(e.event_time > ? OR (e.event_time = ? AND (e.idx > ? OR "
            "(e.idx = ? AND e.position > ?))))"
        )
        params.extend((at, at, idx, idx, position))
    rows = query(
        conn,
        "SELECT e.event, e.hash_id, e.event_time, e.idx, e.position FROM epcis_event e "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY e.event_time, e.idx, e.position LIMIT {int(limit)}",
        tuple(params),
    )
    events = []
    for raw, hash_id, at, idx, position in rows:
        event = json.loads(raw)
        event.setdefault("eventID", hash_id)
        events.append(event)
        if page_keys is not None:
            page_keys.append((str(at), int(idx), int(position)))
    return events


def _marks(values: Sequence[str]) -> str:
    if not values:
        raise ValueError("an EPC match needs at least one value")
    return ", ".join("?" * len(values))


def events_captured(conn: Connection, index: int) -> int:
    """How many EPCIS events the entry at `index` captured (duplicates are not counted)."""
    ((count,),) = query(conn, "SELECT count(*) FROM epcis_event WHERE idx = ?", (index,))
    return int(count)
