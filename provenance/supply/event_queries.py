"""Reads of captured EPCIS events: the query, and how many events an entry captured."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.epcis.epc_index import field_range, value_key
from provenance.epcis.simple_query import SimpleQuery
from provenance.log.store.engine import query
from provenance.supply.readers import HANDLED_BY, limited_to

#: Where an event stands in a query's order: event time (UTC millis), entry index, position.
EventKey = tuple[str, int, int]

#: Who may read an event `e`: the signer of its entry, and the parties that handled its batch.
READABLE_BY = (
    "(EXISTS (SELECT 1 FROM log_entry l JOIN party_key k ON k.key_id = l.signer "
    "WHERE l.idx = e.idx AND k.gln = ?) "
    f"OR EXISTS (SELECT 1 FROM batch b WHERE b.gtin = e.gtin AND b.lot = e.lot AND {HANDLED_BY}))"
)


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
    """Captured events matching every given filter, oldest first (`find_events` with the
    filters as keyword arguments). Each of `epcs` is (fields, EPC keys): the event names one of
    the keys (in the indexed form of `provenance.epcis.epc_index.epc_key`) in one of the
    fields."""
    matches = tuple((tuple(fields), tuple(keys)) for fields, keys in epcs)
    if biz_step is not None:
        matches += ((("bizStep",), (value_key("bizStep", biz_step),)),)
    wanted = SimpleQuery(matches=matches, gtin=gtin, lot=lot, since=since, until=until)
    return find_events(conn, wanted, limit=limit, reader=reader, after=after, page_keys=page_keys)


def find_events(
    conn: Connection,
    wanted: SimpleQuery,
    *,
    limit: int = 1000,
    reader: Principal | None = None,
    after: EventKey | None = None,
    page_keys: list[EventKey] | None = None,
) -> list[dict[str, Any]]:
    """Captured events matching every filter of `wanted`, in its order, each with its
    recordTime (when its entry was logged). A party reads the events of entries it signed and
    those of batches it handled (an event is filed under the first batch it names); a regulator
    all. Every filter is a read of the `epcis_epc` index or of an indexed column.

    `after` continues a query after the event with that key (the order's own key: time, entry,
    position); `page_keys`, if given, receives each returned event's key, so the caller can name
    where a page ended."""
    columns, column_params = _column_filters(conn, wanted, after)
    keyed = _Keyed.of(conn, wanted, reader)
    order = ["e.idx", "e.position"]
    if wanted.order == "eventTime":
        order.insert(0, "e.event_time")
    order_by = ", ".join(c + (" DESC" if wanted.descending else "") for c in order)
    select = (
        "SELECT e.event, e.hash_id, e.event_time, e.idx, e.position, "
        "(SELECT l.logged_at FROM log_entry l WHERE l.idx = e.idx) FROM "
    )
    rows = None
    if keyed.common:
        # Every filter matches many events: the next few pages' worth of events in order
        # likely hold a page of them, checked by key; if not, the index finds them.
        where, params = keyed.checked()
        rows = query(
            conn,
            f"{select} (SELECT * FROM epcis_event e WHERE {' AND '.join(columns)} "
            f"ORDER BY {order_by} LIMIT {WINDOW * int(limit)}) e "
            f"WHERE {' AND '.join(where)} ORDER BY {order_by} LIMIT {int(limit)}",
            (*column_params, *params),
        )
        rows = rows if len(rows) == limit else None
    if rows is None:
        where, params = keyed.driven()
        rows = query(
            conn,
            f"{select} epcis_event e WHERE {' AND '.join([*columns, *where])} "
            f"ORDER BY {order_by} LIMIT {int(limit)}",
            (*column_params, *params),
        )
    events = []
    for raw, hash_id, at, idx, position, logged_at in rows:
        event = json.loads(raw)
        event.setdefault("eventID", hash_id)
        if logged_at is not None:
            event["recordTime"] = logged_at  # the repository's record time: when it was logged
        events.append(event)
        if page_keys is not None:
            page_keys.append((str(at), int(idx), int(position)))
    return events


def count_events(conn: Connection, wanted: SimpleQuery, reader: Principal | None, most: int) -> int:
    """How many events match `wanted` for `reader`, counting no further than `most`."""
    columns, column_params = _column_filters(conn, wanted, None)
    where, params = _Keyed.of(conn, wanted, reader).driven()
    ((count,),) = query(
        conn,
        f"SELECT count(*) FROM (SELECT 1 FROM epcis_event e "
        f"WHERE {' AND '.join([*columns, *where])} LIMIT {int(most)}) counted",
        (*column_params, *params),
    )
    return int(count)


def _column_filters(
    conn: Connection, wanted: SimpleQuery, after: EventKey | None
) -> tuple[list[str], list[Any]]:
    """The filters on the event's own indexed columns, and where the page starts."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    for column, value in (("gtin", wanted.gtin), ("lot", wanted.lot)):
        if value is not None:
            where.append(f"e.{column} = ?")
            params.append(value)
    for op, value in ((">=", wanted.since), ("<", wanted.until)):
        if value is not None:
            where.append(f"e.event_time {op} ?")
            params.append(value)
    # Entries are logged in index order (a clock that steps back logs at the last time
    # again), so a record time bound is an entry index bound, found by key.
    if wanted.recorded_since is not None:
        where.append("e.idx >= ?")
        params.append(_first_logged(conn, wanted.recorded_since))
    if wanted.recorded_until is not None:
        where.append("e.idx < ?")
        params.append(_first_logged(conn, wanted.recorded_until))
    if after is not None:
        clause, more = _after(wanted, after)
        where.append(clause)
        params.extend(more)
    return where, params


#: How many index entries of a filter are counted, at most, to choose the one that drives.
PROBE = 2000
#: When every filter is common, how many pages' worth of events in order are checked first.
WINDOW = 8


@dataclass
class _Keyed:
    """The filters read from the `epcis_epc` index (each a subquery body naming `x`), the
    event ID filter, and the reader's access."""

    bodies: list[tuple[str, list[Any]]]
    ids: tuple[str, list[Any]] | None
    access: tuple[str, list[Any]] | None
    common: bool = False

    @classmethod
    def of(cls, conn: Connection, wanted: SimpleQuery, reader: Principal | None) -> _Keyed:
        bodies: list[tuple[str, list[Any]]] = []
        for fields, keys in wanted.matches:
            bodies.append(
                (
                    f"FROM epcis_epc x WHERE x.epc IN ({_marks(keys)}) "
                    f"AND x.field IN ({_marks(fields)})",
                    [*keys, *fields],
                )
            )
        for bound in wanted.ranges:
            low, high = field_range(bound.field)
            bodies.append(
                (
                    "FROM epcis_epc x WHERE x.field = ? AND x.epc >= ? AND x.epc < ? "
                    f"AND x.epc {bound.op} ?",
                    [bound.field, low, high, bound.key],
                )
            )
        ids = None
        if wanted.event_ids:
            # An event's ID is the one its document gave it, else its Event Hash ID.
            given = [value_key("eventID", i) for i in wanted.event_ids]
            ids = (
                f"(e.hash_id IN ({_marks(wanted.event_ids)}) OR e.hash_id IN "
                "(SELECT x.hash_id FROM epcis_epc x WHERE x.field = 'eventID' "
                f"AND x.epc IN ({_marks(given)})))",
                [*wanted.event_ids, *given],
            )
        gln = limited_to(reader)
        # Both by key, per candidate event: the entry's signer, and the event's batch.
        access = (READABLE_BY, [gln] * 4) if gln is not None else None
        keyed = cls(bodies, ids, access)
        if ids is None and bodies:
            # The filter the fewest index entries answer drives; a common value
            # (bizStep=shipping) never drives a query that a rare one (a read point) narrows.
            sizes = [_probe(conn, *body) for body in bodies]
            keyed.bodies.insert(0, keyed.bodies.pop(sizes.index(min(sizes))))
            keyed.common = min(sizes) >= PROBE
        return keyed

    def driven(self) -> tuple[list[str], list[Any]]:
        """The event IDs, else the first filter, find the candidates; the rest are checked."""
        where: list[str] = []
        params: list[Any] = []
        checked = self.bodies
        if self.ids is not None:
            where.append(self.ids[0])
            params.extend(self.ids[1])
        elif self.bodies:
            body, body_params = self.bodies[0]
            where.append(f"e.hash_id IN (SELECT x.hash_id {body})")
            params.extend(body_params)
            checked = self.bodies[1:]
        return self._check(where, params, checked)

    def checked(self) -> tuple[list[str], list[Any]]:
        """Every filter checked per event, by key."""
        return self._check([], [], self.bodies)

    def _check(
        self, where: list[str], params: list[Any], bodies: list[tuple[str, list[Any]]]
    ) -> tuple[list[str], list[Any]]:
        for body, body_params in bodies:
            where.append(f"EXISTS (SELECT 1 {body} AND x.hash_id = e.hash_id)")
            params.extend(body_params)
        if self.access is not None:
            where.append(self.access[0])
            params.extend(self.access[1])
        return where or ["1 = 1"], params


def _probe(conn: Connection, body: str, params: list[Any]) -> int:
    ((count,),) = query(
        conn, f"SELECT count(*) FROM (SELECT 1 {body} LIMIT {PROBE}) probed", tuple(params)
    )
    return int(count)


def _after(wanted: SimpleQuery, after: EventKey) -> tuple[str, list[Any]]:
    """The clause keeping the events that follow `after` in the query's order."""
    at, idx, position = after
    beyond = "<" if wanted.descending else ">"
    entry = f"(e.idx {beyond} ? OR (e.idx = ? AND e.position {beyond} ?))"
    if wanted.order == "recordTime":
        return entry, [idx, idx, position]
    return (
        f"(e.event_time {beyond} ? OR (e.event_time = ? AND {entry}))",
        [at, at, idx, idx, position],
    )


def _first_logged(conn: Connection, moment: str) -> int:
    """The index of the first entry logged at or after `moment` (the log's size if none): a
    binary search of the log by its primary key."""
    ((last,),) = query(conn, "SELECT max(idx) FROM log_entry")
    low, high = 0, 0 if last is None else int(last) + 1
    while low < high:
        middle = (low + high) // 2
        ((logged_at,),) = query(conn, "SELECT logged_at FROM log_entry WHERE idx = ?", (middle,))
        if logged_at < moment:
            low = middle + 1
        else:
            high = middle
    return low


def _marks(values: Sequence[str]) -> str:
    if not values:
        raise ValueError("an index match needs at least one value")
    return ", ".join("?" * len(values))


def events_captured(conn: Connection, index: int) -> int:
    """How many EPCIS events the entry at `index` captured (duplicates are not counted)."""
    ((count,),) = query(conn, "SELECT count(*) FROM epcis_event WHERE idx = ?", (index,))
    return int(count)
