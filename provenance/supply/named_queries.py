"""Named EPCIS queries (REST binding `/queries`): a party's saved SimpleEventQuery parameters."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Connection
from werkzeug.datastructures import MultiDict

from provenance.errors import BadParameter
from provenance.log.errors import Conflict
from provenance.log.store.engine import query
from provenance.supply.tables import EpcisNamedQuery, EpcisSubscription

#: RFC 3986 unreserved characters, so a name is its own path segment; 1 to 64 of them.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,63}")
#: Named queries one party may keep.
MAX_QUERIES = 200
#: The stored parameters, as canonical JSON.
MAX_QUERY_BYTES = 16 * 1024
#: Paging belongs to each request for the query's events, never to the stored query.
PAGING = frozenset({"perPage", "nextPageToken"})
_LINK = re.compile(r"<([^>]*)>")

NAMED_QUERY = EpcisNamedQuery.__table__  # type: ignore[attr-defined]
SUBSCRIPTION = EpcisSubscription.__table__  # type: ignore[attr-defined]

Parameters = dict[str, str | list[str]]


@dataclass(frozen=True)
class NamedQuery:
    name: str
    query: Parameters
    created_at: str

    def json(self) -> dict[str, Any]:
        """As the REST binding shows a query: its name and definition (and when it was made)."""
        return {"name": self.name, "query": self.query, "createdAt": self.created_at}

    def args(self) -> MultiDict[str, str]:
        """The parameters as a query string would carry them: an array's values repeated."""
        return query_args(self.query)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise BadParameter(
            "a query name is 1 to 64 letters, digits, '.', '_', '~' or '-', starting with a "
            "letter or digit",
            name=name if isinstance(name, str) else None,
        )
    return name


def parse_definition(body: Any) -> tuple[str, Parameters]:
    """The name and parameters of a query definition `{"name": …, "query": {…}}`."""
    if not isinstance(body, dict) or set(body) != {"name", "query"}:
        raise BadParameter('a query definition is an object {"name": …, "query": {…}}')
    name = check_name(body["name"])
    given = body["query"]
    if not isinstance(given, dict):
        raise BadParameter("query is an object of SimpleEventQuery parameters")
    # GS1's query schema names itself in an "@context" member: a reference, not a parameter.
    # Its numbers (GE_quantity, eventCountLimit, …) are the query string's digits.
    parameters = {key: _as_text(value) for key, value in given.items() if key != "@context"}
    for key, value in parameters.items():
        if key in PAGING:
            raise BadParameter(f"{key} pages a request for the query's events, not the query")
        strings = value if isinstance(value, list) else [value]
        if not strings or not all(isinstance(v, str) and v and printable(v) for v in strings):
            raise BadParameter(
                f"query parameter {key} is a string or a non-empty array of strings, "
                "without control characters",
                parameter=key,
            )
    if len(_encode(parameters)) > MAX_QUERY_BYTES:
        raise BadParameter(f"a query's parameters take at most {MAX_QUERY_BYTES} bytes")
    return name, parameters


def _as_text(value: Any) -> Any:
    """A number as the query string writes it; anything else as given (checked after)."""
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return value


def printable(text: str) -> bool:
    """No control characters (a NUL is not even storable in PostgreSQL text)."""
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def query_args(parameters: Mapping[str, str | list[str]]) -> MultiDict[str, str]:
    args: MultiDict[str, str] = MultiDict()
    for key, value in parameters.items():
        for item in value if isinstance(value, list) else [value]:
            args.add(key, item)
    return args


def create(conn: Connection, owner: str, name: str, parameters: Parameters, now: str) -> NamedQuery:
    """Store a party's query; Conflict if it has one by that name, or too many."""
    if get(conn, owner, name) is not None:
        raise Conflict(f"you already have a query named {name}: delete it first", name=name)
    ((count,),) = query(conn, "SELECT count(*) FROM epcis_named_query WHERE owner = ?", (owner,))
    if int(count) >= MAX_QUERIES:
        raise Conflict(f"a party keeps at most {MAX_QUERIES} named queries: delete one first")
    conn.execute(
        NAMED_QUERY.insert().values(
            owner=owner, name=name, query=_encode(parameters).decode(), created_at=now
        )
    )
    return NamedQuery(name, parameters, now)


def get(conn: Connection, owner: str, name: str) -> NamedQuery | None:
    rows = query(
        conn,
        "SELECT name, query, created_at FROM epcis_named_query WHERE owner = ? AND name = ?",
        (owner, name),
    )
    return _named(rows[0]) if rows else None


def page(conn: Connection, owner: str, after: str | None, limit: int) -> list[NamedQuery]:
    """A party's queries by name, those after `after` (a name), at most `limit`."""
    rows = query(
        conn,
        "SELECT name, query, created_at FROM epcis_named_query WHERE owner = ? AND name > ? "
        f"ORDER BY name LIMIT {int(limit)}",
        (owner, after or ""),
    )
    return [_named(row) for row in rows]


def delete(conn: Connection, owner: str, name: str) -> bool:
    """Remove a party's query and every subscription to it (the binding: deleting a query
    unsubscribes its subscribers); False if there was none."""
    conn.execute(
        SUBSCRIPTION.delete().where(
            SUBSCRIPTION.c.owner == owner, SUBSCRIPTION.c.query_name == name
        )
    )
    removed = conn.execute(
        NAMED_QUERY.delete().where(NAMED_QUERY.c.owner == owner, NAMED_QUERY.c.name == name)
    )
    return bool(removed.rowcount)


def _named(row: Any) -> NamedQuery:
    name, parameters, created_at = row
    return NamedQuery(str(name), json.loads(parameters), str(created_at))


def _encode(parameters: Parameters) -> bytes:
    return json.dumps(parameters, sort_keys=True, separators=(",", ":")).encode()


def next_page_token(link: str | None) -> str | None:
    """The `nextPageToken` of a query answer's `Link: <…>; rel="next"` header, if any."""
    found = _LINK.match(link or "")
    if found is None:
        return None
    return parse_qs(urlsplit(found.group(1)).query).get("nextPageToken", [None])[-1]
