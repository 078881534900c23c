"""Keyset paging of the service's lists: `perPage`, an opaque `nextPageToken` bound to the query
it pages, and the next page named by a `Link: <…>; rel="next"` header and a `next` member."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from flask import Response, request, url_for

from provenance.errors import BadParameter
from provenance.web.api import json_response

#: Where a page ended: the sort key of its last row (integers and strings only).
Key = tuple[int | str, ...]
Row = TypeVar("Row")

TOKEN = "nextPageToken"
PER_PAGE = "perPage"
#: No page holds more rows than this, whatever `perPage` asks.
MAX_PER_PAGE = 1000
#: Longer than any token this service gives: refused before it is decoded.
_MAX_TOKEN = 1024
#: The paging parameters, for a list view's `openapi(query=…)`.
QUERY: dict[str, Mapping[str, Any]] = {
    PER_PAGE: {
        "description": f"rows on a page (at most {MAX_PER_PAGE})",
        "schema": {"type": "integer", "minimum": 1},
    },
    TOKEN: {
        "description": "the rest of the list: the token of the previous page's next link",
        "schema": {"type": "string"},
    },
}


@dataclass(frozen=True)
class Page:
    """One page asked for: its size, the key it continues after, and the query it belongs to."""

    size: int
    after: Key | None
    query: str


@dataclass(frozen=True)
class Paged(Generic[Row]):
    """A page of rows, and the token of the next one (None on the last page)."""

    rows: list[Row]
    token: str | None


def _query_of_request() -> str:
    """The query a token belongs to: the route and its arguments, and every parameter but the
    paging ones (a page may be asked for in another size)."""
    kept = sorted(
        (name, value)
        for name in request.args
        if name not in (TOKEN, PER_PAGE)
        for value in request.args.getlist(name)
    )
    route = sorted((request.view_args or {}).items())
    return json.dumps([request.endpoint, route, kept], separators=(",", ":"), default=str)


def _digest(query: str, key: Key) -> str:
    """Binds a token to its query and to its key: one edited or moved to another list is
    refused. The token grants nothing (every page is filtered for its reader as the first one
    is), so it needs no secret."""
    text = json.dumps([query, list(key)], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def make_token(key: Key, query: str) -> str:
    body = json.dumps([list(key), _digest(query, key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def read_token(token: str, query: str, shape: tuple[type, ...]) -> Key:
    """The key a token continues after; 400 `bad-parameter` for a token this service did not
    give for this query."""
    foreign = BadParameter(f"{TOKEN} is not a token this service gave for this list and query")
    if len(token) > _MAX_TOKEN:
        raise foreign
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        values, digest = decoded
        key = tuple(values)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise foreign from None
    fits = len(key) == len(shape) and all(type(v) is t for v, t in zip(key, shape, strict=True))
    if not fits or digest != _digest(query, key):
        raise foreign
    return key


def requested(shape: tuple[type, ...], default: int) -> Page:
    """The page the request asks for, of a list whose rows sort by keys of types `shape`."""
    asked = request.args.get(PER_PAGE)
    size = default
    if asked is not None:
        try:
            size = int(asked)
        except ValueError:
            raise BadParameter(f"{PER_PAGE} must be a whole number, not {asked[:40]!r}") from None
        if size < 1:
            raise BadParameter(f"{PER_PAGE} must be at least 1")
    query = _query_of_request()
    token = request.args.get(TOKEN)
    after = None if token is None else read_token(token, query, shape)
    return Page(min(size, MAX_PER_PAGE), after, query)


def page_of(rows: list[Row], page: Page, key: Callable[[Row], Key]) -> Paged[Row]:
    """The page from rows read with a limit of one more than the page's size (that one more
    says whether another page follows)."""
    if len(rows) <= page.size:
        return Paged(rows, None)
    kept = rows[: page.size]
    return Paged(kept, make_token(key(kept[-1]), page.query))


def filtered_page(
    fetch: Callable[[Key | None, int], list[Row]],
    keep: Callable[[list[Row]], list[Row]],
    page: Page,
    key: Callable[[Row], Key],
) -> Paged[Row]:
    """A page of the rows `keep` lets through, where access is decided row by row outside SQL:
    `fetch(after, n)` reads up to n rows after a key, in order, and is called until a page and
    one more row are kept or the rows run out."""
    kept: list[Row] = []
    after = page.after
    while len(kept) <= page.size:
        chunk = fetch(after, page.size + 1)
        kept += keep(chunk)
        if len(chunk) <= page.size:
            break
        after = key(chunk[-1])
    return page_of(kept, page, key)


def next_link(token: str, path: str | None = None) -> str:
    """The request's own list (at `path`, if the route's own URL cannot be rebuilt from its
    arguments) with the next page's token: a relative URL, never built from the Host header."""
    args = [(k, v) for k in request.args if k != TOKEN for v in request.args.getlist(k)]
    if path is None:
        path = url_for(str(request.endpoint), **(request.view_args or {}))
    return path + "?" + urlencode([*args, (TOKEN, token)])


def paged_json(body: dict[str, Any], paged: Paged[Any]) -> Response:
    """A JSON list's answer: the body, and while rows remain the next page's link as a `Link`
    header and as the `next` and `nextPageToken` members."""
    if paged.token is None:
        return json_response(body)
    link = next_link(paged.token)
    body = {**body, "next": link, TOKEN: paged.token}
    return json_response(body, headers={"Link": f'<{link}>; rel="next"'})
