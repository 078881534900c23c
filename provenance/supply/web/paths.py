"""Request paths as clients sent them: lots and serials may hold "/", sent as %2F.

WSGI hands routes a decoded path, in which "A%2FB" and "A/B" are the same; the routes that take
a lot or serial therefore match the rest of the path (a `path` converter) and read it here from
the raw request target, which every server in use passes on (RAW_URI, REQUEST_URI).
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from flask import request

from provenance.gs1.keys import percent_encode


def raw_path() -> str:
    """The request's path, percent-encoded as the client sent it."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        path = urlsplit(raw).path
        if path:
            return path
    # Without the raw target a %2F is lost: a lot's "/" then reads as written.
    return quote(request.script_root + request.path, safe="/:@!$&'()*+,;=-._~")


def after(prefix: str) -> str:
    """The raw path after the route's static `prefix` (say "/labels/"), one trailing slash
    dropped: "LOT%2F" is a lot ending in "/", "LOT/" a lot followed by a slash."""
    path = raw_path()
    start = path.find(prefix)
    rest = path[start + len(prefix) :] if start >= 0 else ""
    return rest[:-1] if rest.endswith("/") else rest


def batch_route(prefix: str, suffix: str = "") -> tuple[str, str | None]:
    """(gtin, lot) of a route "<prefix><gtin>/<lot><suffix>"; lot None when the raw path does not
    end in `suffix` (a lot such as "X/qr.png" sent as "X%2Fqr.png" to the batch's own route)."""
    gtin, _, lot = after(prefix).partition("/")
    if suffix:
        if not lot.endswith(suffix):
            return unquote(gtin), None
        lot = lot[: -len(suffix)]
    return unquote(gtin), unquote(lot) if lot else None


def segment(value: str) -> str:
    """A lot or serial as one path segment: "/" and everything else outside the URI unreserved
    set percent-encoded, as GS1 Digital Link requires."""
    return percent_encode(value)
