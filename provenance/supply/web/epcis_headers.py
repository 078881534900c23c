"""The EPCIS 2.0 REST binding's `GS1-*` headers, versions and media types of EPCIS answers."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from urllib.parse import quote, urlsplit

from flask import Response, request
from sqlalchemy import Connection

from provenance.epcis.epc_format import DEFAULT_FORMAT, FORMATS, PrefixLength, converter
from provenance.epcis.simple_query import NotAcceptable
from provenance.errors import BadParameter
from provenance.log.store.engine import query

EPCIS_VERSION = CBV_VERSION = "2.0.0"
JSON_LD = "application/ld+json"
JSON = "application/json"
#: The binding's CBV XML format header only changes XML answers; these are JSON.
CBV_XML_FORMATS = ("No_Preference", "Always_Web_URI", "Always_URN", "Never_Translates")
#: The answer headers every EPCIS response carries (this service speaks EPCIS and CBV 2.0.0
#: only, and no extension vocabulary).
ANSWER_HEADERS = {
    "GS1-EPCIS-Version": EPCIS_VERSION,
    "GS1-EPCIS-Min": EPCIS_VERSION,
    "GS1-EPCIS-Max": EPCIS_VERSION,
    "GS1-CBV-Version": CBV_VERSION,
    "GS1-CBV-Min": CBV_VERSION,
    "GS1-CBV-Max": CBV_VERSION,
    "GS1-Extensions": "",
}
#: The request headers the binding defines, for the OpenAPI document.
REQUEST_HEADERS = {
    name: {"schema": {"type": "string"}}
    for name in (
        "GS1-EPCIS-Version",
        "GS1-EPCIS-Min",
        "GS1-EPCIS-Max",
        "GS1-CBV-Version",
        "GS1-CBV-Min",
        "GS1-CBV-Max",
        "GS1-EPC-Format",
        "GS1-CBV-XML-Format",
    )
}


def _version(text: str) -> tuple[int, ...] | None:
    parts = text.strip().split(".")
    if not all(p.isdigit() for p in parts) or len(parts) > 3:
        return None
    return tuple(int(p) for p in parts) + (0,) * (3 - len(parts))


def _admits(bound: str, asked: tuple[int, ...] | None, ours: tuple[int, ...] | None) -> bool:
    """Whether a version header (Version: exactly; Min, Max: a bound) admits our version."""
    if asked is None or ours is None:
        return False
    if bound == "Min":
        return asked <= ours
    if bound == "Max":
        return asked >= ours
    return asked == ours


def check_request() -> None:
    """Refuse (406) a request for another EPCIS or CBV version or for a media type other than
    JSON or JSON-LD; 400 for an unknown `GS1-EPC-Format` or `GS1-CBV-XML-Format`."""
    for kind, ours in (("EPCIS", EPCIS_VERSION), ("CBV", CBV_VERSION)):
        for name in ("Version", "Min", "Max"):
            value = request.headers.get(f"GS1-{kind}-{name}")
            if value is not None and not _admits(name, _version(value), _version(ours)):
                raise NotAcceptable(
                    f"GS1-{kind}-{name}: {value!r}: this service answers {kind} {ours} only",
                    header=f"GS1-{kind}-{name}",
                    supported=ours,
                )
    for name, allowed in (("GS1-EPC-Format", FORMATS), ("GS1-CBV-XML-Format", CBV_XML_FORMATS)):
        value = request.headers.get(name)
        if value is not None and value not in allowed:
            raise BadParameter(f"{name} is one of {', '.join(allowed)}", header=name)
    media_type()


def media_type() -> str:
    """JSON-LD if the client prefers it, else JSON; 406 if it takes neither."""
    accept = request.accept_mimetypes
    if not accept:
        return JSON
    best = accept.best_match([JSON, JSON_LD])
    if best is None:
        raise NotAcceptable(
            "EPCIS answers are application/json or application/ld+json",
            supported=[JSON, JSON_LD],
        )
    return best


def epc_format() -> str:
    """The EPC form the request asks for (the binding's default: Digital Link)."""
    return request.headers.get("GS1-EPC-Format", DEFAULT_FORMAT)


def epc_converter(conn: Connection) -> Callable[[str], str] | None:
    """How EPCs are written in this answer, None for as captured."""
    return converter(epc_format(), company_prefixes(conn))


def company_prefixes(conn: Connection) -> PrefixLength:
    """The length of the assigned GS1 company prefix a key's digits start with (by key)."""

    @cache
    def length(digits: str) -> int | None:
        candidates = [digits[:n] for n in range(6, min(12, len(digits)) + 1)]
        marks = ", ".join("?" * len(candidates))
        rows = query(
            conn, f"SELECT prefix FROM company_prefix WHERE prefix IN ({marks})", tuple(candidates)
        )
        return max((len(p) for (p,) in rows), default=None)

    return length


def request_path() -> str:
    """This request's path as the client encoded it (a path value may hold `/` and `:`), for
    links to the same resource: never built from the Host header."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    path = urlsplit(raw).path if raw else ""
    if not path:
        return request.script_root + quote(request.path, safe="/")
    # Escapes kept as sent; anything a Link header could not hold (`<`, `>`, spaces) escaped.
    return quote(path, safe="/%:@!$&'()*+,;=-._~")


def add_headers(response: Response) -> Response:
    """The binding's answer headers on every response under /epcis, and the discovery answer
    (204, no body) to OPTIONS."""
    if request.path != "/epcis" and not request.path.startswith("/epcis/"):
        return response
    if request.method == "OPTIONS" and response.status_code == 200:
        response.status_code = 204
        response.set_data(b"")
    response.headers.update(ANSWER_HEADERS)
    response.headers["GS1-EPC-Format"] = epc_format() if epc_format() in FORMATS else DEFAULT_FORMAT
    response.vary.update(("Accept", "GS1-EPC-Format"))
    return response
