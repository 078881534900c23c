"""Enforcing the route rules on every request: authenticate, find the route's rule, decide."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from flask import Flask, g, request
from sqlalchemy import Connection

from provenance.access.errors import BadRequestSignature, Forbidden, Unauthenticated
from provenance.access.http_signatures import ALGORITHM, REQUIRED, verify_request
from provenance.access.principal import ANONYMOUS, Principal, principal_of
from provenance.access.rules import PUBLIC, Facts, Rule
from provenance.access.sessions import COOKIE, Sessions
from provenance.log.service import Service
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView

RULES = "provenance.access"
SESSIONS = "provenance.sessions"
#: Tells a client how to sign (RFC 9421 §5.1), sent with every 401.
ACCEPT_SIGNATURE = (
    "sig1=(" + " ".join(f'"{c}"' for c in REQUIRED) + f' "content-digest");alg="{ALGORITHM}"'
)

F = TypeVar("F", bound=Callable[..., Any])


def body_limit(size: int) -> Callable[[F], F]:
    """A route that takes bodies above the app's default limit (read before it runs)."""

    def mark(view: F) -> F:
        view.max_body = size  # type: ignore[attr-defined]
        return view

    return mark


def current_principal() -> Principal:
    who: Principal = g.get("principal", ANONYMOUS)
    return who


def install(app: Flask, service: Service, table: Mapping[str, Rule]) -> None:
    """Every route must have a rule; each request is authenticated, then decided on."""
    missing = sorted(e for e in app.view_functions if e not in table and not _static(e))
    if missing:
        raise ValueError(f"routes without an access rule: {', '.join(missing)}")
    sessions = Sessions.under(service.engine, service.settings.data_dir)
    app.extensions[RULES] = dict(table)
    app.extensions[SESSIONS] = sessions

    @app.before_request
    def authorise() -> None:
        endpoint = request.endpoint
        if endpoint is None:
            return  # no route: Flask answers 404 or 405
        limit = getattr(app.view_functions[endpoint], "max_body", None)
        if limit is not None:
            request.max_content_length = limit
        with _connections(service) as connect:
            who = _authenticate(service, sessions, connect)
            g.principal = who
            rule = PUBLIC if _static(endpoint) else table[endpoint]
            args = {**request.args.to_dict(), **(request.view_args or {})}
            if not rule.allows(who, Facts(args, service.registry, connect)):
                if not who.authenticated:
                    raise Unauthenticated(
                        f"{request.path} is for {rule.name}: sign the request with a "
                        "registered key (RFC 9421) or log in",
                        accept_signature=ACCEPT_SIGNATURE,
                    )
                raise Forbidden(f"{request.path} is for {rule.name}; you are {who.describe()}")


def _authenticate(
    service: Service, sessions: Sessions, connect: Callable[[], Connection]
) -> Principal:
    profile = service.profile()
    rules = profile.rules if profile else 1
    if "Signature-Input" in request.headers:
        view = DbView(connect())

        def lookup(key_id: str) -> bytes | None:
            key = view.key(key_id)
            return key.public_key if key else None

        signed = verify_request(
            method=request.method,
            path=_raw_path(),
            query=request.query_string.decode("latin-1"),
            headers=dict(request.headers),
            body=request.get_data(cache=True),
            key_lookup=lookup,
        )
        who = principal_of(view, signed.key_id, now_timestamp(), rules, "signature")
        if not who.authenticated:
            raise BadRequestSignature("the signing key may not sign now (revoked, rotated out)")
        return who
    cookie = request.cookies.get(COOKIE)
    # A session only reads (and logs out): writes need a signed statement or request.
    if cookie and (request.method in ("GET", "HEAD") or request.endpoint == "login.logout"):
        key_id = sessions.key_of(cookie, connect())
        if key_id is not None:
            return principal_of(DbView(connect()), key_id, now_timestamp(), rules, "session")
    return ANONYMOUS


@contextlib.contextmanager
def _connections(service: Service) -> Iterator[Callable[[], Connection]]:
    """A read connection opened only when a rule (or authentication) needs one."""
    with contextlib.ExitStack() as stack:
        opened: list[Connection] = []

        def connect() -> Connection:
            if not opened:
                opened.append(stack.enter_context(read_connection(service.engine)))
            return opened[0]

        yield connect


def _raw_path() -> str:
    """The path as the client sent it (RFC 9421 signs the encoded form, which WSGI decodes)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return quote(request.path, safe="/:@!$&'()*+,;=-._~")
    target = urlsplit(raw)
    return target.path or "/"


def _static(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.endswith(".static")
