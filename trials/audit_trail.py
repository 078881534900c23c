"""A trial's audit trail filtered (signer, record, kind, dates), counted, read a page at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection

from provenance.errors import BadParameter
from provenance.log.store.engine import query, query_dicts
from provenance.web import page_token
from trials import queries
from trials.scope import Scope

#: The query parameters of a filter, as the trial page's form and the JSON and CSV routes take them.
FILTERS = ("signer", "record", "kind", "from", "to")
#: Longest filter text taken (longer is 400, not a slow query).
MAX_TEXT = 200
#: What each audit-trail action means, in the words the trial page's kind filter shows.
ACTIONS: Mapping[str, str] = {
    "register": "registration",
    "protocol": "protocol version",
    "enrol": "enrolment",
    "consent": "consent",
    "withdraw": "consent withdrawn",
    "submit": "dataset submitted",
    "amend": "dataset amended",
    "lock": "database locked",
    "unlock": "database unlocked",
    "results": "results reported",
    "erase": "payload erased",
}
#: For the API document: the filter parameters.
QUERY: dict[str, Mapping[str, Any]] = {
    "signer": {
        "description": "entries signed by this person (part of the printed name, any case), "
        "party GLN or key id",
        "schema": {"type": "string", "maxLength": MAX_TEXT},
    },
    "record": {
        "description": "entries about this record (part of what the entry is about, e.g. a "
        "subject pseudonym, `dataset AE` or `protocol v2`)",
        "schema": {"type": "string", "maxLength": MAX_TEXT},
    },
    "kind": {
        "description": "one kind of entry",
        "schema": {"type": "string", "enum": sorted(ACTIONS)},
    },
    "from": {
        "description": "logged on or after this day (UTC)",
        "schema": {"type": "string", "format": "date"},
    },
    "to": {
        "description": "logged on or before this day (UTC)",
        "schema": {"type": "string", "format": "date"},
    },
}


@dataclass(frozen=True)
class Filter:
    """Which entries of the trail are asked for; empty fields ask for all."""

    signer: str = ""
    record: str = ""
    kind: str = ""
    since: date | None = None
    until: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.signer or self.record or self.kind or self.since or self.until)

    def form(self) -> dict[str, str]:
        """The filter as the form's field values."""
        return {
            "signer": self.signer,
            "record": self.record,
            "kind": self.kind,
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
        }

    def sql(self) -> tuple[str, tuple[Any, ...]]:
        """` AND …` conditions on trial_event and their parameters."""
        where: list[str] = []
        params: list[Any] = []
        if self.signer:
            where.append("(LOWER(printed_name) LIKE ? ESCAPE '\\' OR party = ? OR key_id = ?)")
            params += [_contains(self.signer), self.signer, self.signer.lower()]
        if self.record:
            where.append("LOWER(subject) LIKE ? ESCAPE '\\'")
            params.append(_contains(self.record))
        if self.kind:
            where.append("action = ?")
            params.append(self.kind)
        # `at` is the log's ISO 8601 UTC time, so text order is time order.
        if self.since:
            where.append("at >= ?")
            params.append(self.since.isoformat())
        if self.until:
            where.append("at < ?")
            params.append((self.until + timedelta(days=1)).isoformat())
        return "".join(f" AND {w}" for w in where), tuple(params)


def _contains(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _day(args: Mapping[str, str], name: str) -> date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"{name} must be a date YYYY-MM-DD, not {value[:40]!r}") from None


def parse_filter(args: Mapping[str, str]) -> Filter:
    """The filter a request's query asks for; 400 `bad-parameter` for a date that is not one,
    an unknown kind, text too long or a range that ends before it starts."""
    texts = {name: (args.get(name) or "").strip() for name in ("signer", "record", "kind")}
    for name, value in texts.items():
        if len(value) > MAX_TEXT:
            raise BadParameter(f"{name} may be at most {MAX_TEXT} characters")
    if texts["kind"] and texts["kind"] not in ACTIONS:
        raise BadParameter(f"kind must be one of {', '.join(sorted(ACTIONS))}")
    since, until = _day(args, "from"), _day(args, "to")
    if since and until and until < since:
        raise BadParameter("to must not be before from")
    return Filter(texts["signer"], texts["record"], texts["kind"], since, until)


def entries_after(
    conn: Connection, trial_id: str, wanted: Filter, after: queries.EventKey | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` entries matching `wanted` after the entry `after` names, in trail order."""
    where, params = wanted.sql()
    if after is not None:
        where += " AND (idx > ? OR (idx = ? AND seq > ?))"
        params += (after[0], *after)
    return query_dicts(
        conn,
        f"SELECT * FROM trial_event WHERE trial_id = ?{where} ORDER BY idx, seq LIMIT {int(limit)}",
        (trial_id, *params),
    )


def entries(conn: Connection, trial_id: str, scope: Scope, wanted: Filter) -> list[dict[str, Any]]:
    """The whole trail the reader may see, as `wanted` narrows it (for the CSV export)."""
    queries.trial(conn, trial_id)
    return scope.history(conn, trial_id, entries_after(conn, trial_id, wanted, None, 2**62))


def count(
    conn: Connection,
    trial_id: str,
    scope: Scope,
    wanted: Filter,
    through: queries.EventKey | None = None,
) -> int:
    """How many entries the reader sees that match `wanted` (up to and including `through`)."""
    where, params = wanted.sql()
    if through is not None:
        where += " AND (idx < ? OR (idx = ? AND seq <= ?))"
        params += (through[0], *through)
    if scope.everything:
        sql = f"SELECT COUNT(*) FROM trial_event WHERE trial_id = ?{where}"
        return int(query(conn, sql, (trial_id, *params))[0][0])
    # A site party's view is decided row by row (`Scope.history`), so its rows are read.
    rows = query_dicts(
        conn,
        f"SELECT idx, seq, action, party FROM trial_event WHERE trial_id = ?{where}",
        (trial_id, *params),
    )
    return len(scope.history(conn, trial_id, rows))


@dataclass(frozen=True)
class TrailPage:
    """A page of the trail and where it stands: entries `first`–`first + len(rows) - 1` of
    `matching` (of `total` the reader sees unfiltered)."""

    rows: list[dict[str, Any]]
    token: str | None
    first: int
    matching: int
    total: int
    #: The page before this one: False on the first page, True for the first page (which needs
    #: no token), else its token.
    previous: str | bool = False


def trail_page(
    conn: Connection, trial_id: str, scope: Scope, wanted: Filter, page: page_token.Page
) -> TrailPage:
    """A page of the trail as `scope` sees it, filtered by `wanted`, and its counts. Rows the
    reader may not see are skipped and the page filled from the rows after them."""
    queries.trial(conn, trial_id)
    after = None if page.after is None else (int(page.after[0]), int(page.after[1]))
    paged = page_token.filtered_page(
        lambda key, n: entries_after(
            conn, trial_id, wanted, None if key is None else (int(key[0]), int(key[1])), n
        ),
        lambda rows: scope.history(conn, trial_id, rows),
        page,
        queries.event_key,
    )
    before = 0 if after is None else count(conn, trial_id, scope, wanted, after)
    matching = count(conn, trial_id, scope, wanted)
    total = matching if not wanted.active else count(conn, trial_id, scope, Filter())
    previous: str | bool = before > 0
    if before > page.size:
        # The page before starts after the entry `page.size + 1` places before this one.
        key = _nth_key(conn, trial_id, scope, wanted, before - page.size - 1)
        previous = page_token.make_token(key, page.query)
    return TrailPage(paged.rows, paged.token, before + 1, matching, total, previous)


def _nth_key(
    conn: Connection, trial_id: str, scope: Scope, wanted: Filter, n: int
) -> queries.EventKey:
    """The key of the entry at place `n` (from 0) of those the reader sees matching `wanted`."""
    where, params = wanted.sql()
    order = "ORDER BY idx, seq"
    if scope.everything:
        sql = f"SELECT idx, seq FROM trial_event WHERE trial_id = ?{where} {order} "
        (row,) = query_dicts(conn, sql + f"LIMIT 1 OFFSET {int(n)}", (trial_id, *params))
        return queries.event_key(row)
    sql = f"SELECT idx, seq, action, party FROM trial_event WHERE trial_id = ?{where} {order}"
    rows = scope.history(conn, trial_id, query_dicts(conn, sql, (trial_id, *params)))
    return queries.event_key(rows[n])
