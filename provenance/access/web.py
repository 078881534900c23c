"""Enforcing the route rules on every request: authenticate, find the route's rule, decide."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import IO, Any, TypeVar
from urllib.parse import quote, urlsplit

from flask import Flask, g, request
from sqlalchemy import Connection
from werkzeug.middleware.proxy_fix import ProxyFix

from provenance.access.errors import BadRequestSignature, Forbidden, Unauthenticated
from provenance.access.http_signatures import (
    ALGORITHM,
    DIGESTS,
    MAX_LIFETIME,
    MAX_SKEW,
    REQUIRED,
    HashedBody,
    verify_request,
)
from provenance.access.principal import ANONYMOUS, Principal, principal_of
from provenance.access.rate_limits import RateLimits
from provenance.access.rules import PUBLIC, Facts, Rule
from provenance.access.sessions import COOKIE, Sessions
from provenance.log.service import Service
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView

RULES = "provenance.access"
SESSIONS = "provenance.sessions"
LIMITS = "provenance.rate_limits"
#: How long a nonce is remembered: as long as any signature carrying it could be accepted.
NONCE_LIFETIME = timedelta(seconds=MAX_SKEW + MAX_LIFETIME)
#: Tells a client how to sign (RFC 9421 §5.1), sent with every 401.
ACCEPT_SIGNATURE = (
    "sig1=(" + " ".join(f'"{c}"' for c in REQUIRED) + f' "content-digest");alg="{ALGORITHM}"'
)

#: A signed body longer than this is hashed as it is spooled to a file, never held whole; the
#: route then reads it from the file as it would have from the network.
SPOOL_ABOVE = 1 << 20
_CHUNK = 1 << 20
_SPOOL = "provenance_body_spool"

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
    settings = service.settings
    limits = RateLimits.per_minute(settings.rate_limit_party, settings.rate_limit_address)
    app.extensions[LIMITS] = limits
    if settings.proxy_hops:
        # Only the client address is taken from the proxies: links never come from the request.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=0, x_host=0)  # type: ignore[method-assign]

    @app.teardown_request
    def close_spool(_error: BaseException | None) -> None:
        spool = g.pop(_SPOOL, None)
        if spool is not None:
            spool.close()

    @app.before_request
    def authorise() -> None:
        endpoint = request.endpoint
        if endpoint is None:
            # No route: Flask answers 404 or 405, on a page that still shows who is logged in.
            if "Signature-Input" not in request.headers and COOKIE in request.cookies:
                with _connections(service) as connect:
                    g.principal = _authenticate(service, sessions, connect)
            return
        limit = getattr(app.view_functions[endpoint], "max_body", None)
        if limit is not None:
            request.max_content_length = limit
        with _connections(service) as connect:
            try:
                who = _authenticate(service, sessions, connect)
            except BadRequestSignature:
                limits.check(None, request.remote_addr)  # bad signatures cost their sender
                raise
            if not _static(endpoint):
                # A party's requests count against the party wherever they come from; anonymous
                # ones against the network they come from.
                limits.check(who.gln, request.remote_addr)
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
            body=_signed_body(),
            key_lookup=lookup,
        )
        who = principal_of(view, signed.key_id, now_timestamp(), rules, "signature")
        if not who.authenticated:
            raise BadRequestSignature("the signing key may not sign now (revoked, rotated out)")
        if request.method not in ("GET", "HEAD"):
            # A request that writes works once: a copy sent again within the signature's
            # lifetime would otherwise, say, fetch a fresh login link for whoever holds it.
            if not signed.nonce or len(signed.nonce) > 64:
                raise BadRequestSignature("a signed request that writes carries a nonce")
            if not sessions.spend_nonce(signed.key_id, signed.nonce, NONCE_LIFETIME):
                raise BadRequestSignature("this signed request was already used (a replay)")
        return who
    cookie = request.cookies.get(COOKIE)
    # A session only reads (and logs out): writes need a signed statement or request.
    if cookie and (request.method in ("GET", "HEAD") or request.endpoint == "login.logout"):
        key_id = sessions.key_of(cookie, connect())
        if key_id is not None:
            return principal_of(DbView(connect()), key_id, now_timestamp(), rules, "session")
    return ANONYMOUS


def _signed_body() -> bytes | HashedBody:
    """The body a signature covers through its Content-Digest: small ones as bytes; a large one
    (a dataset upload) hashed with the algorithms the header names while it is copied to a
    temporary file, which then stands in for the request's input."""
    length = request.content_length
    if length is None or length <= SPOOL_ABOVE:
        body = request.get_data(cache=True)
        _read_again_from(io.BytesIO(body), len(body))
        return body
    named = request.headers.get("Content-Digest", "")
    hashes = {name: make() for name, make in DIGESTS.items() if name in named}
    stream = request.stream  # within the route's body limit, or 413
    # Closed when the request is torn down, after the route has read it.
    spool = tempfile.TemporaryFile(prefix="provenance-body-")  # noqa: SIM115
    setattr(g, _SPOOL, spool)
    size = 0
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        size += len(chunk)
        for digest in hashes.values():
            digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    _read_again_from(spool, size)
    return HashedBody(size, {name: digest.digest() for name, digest in hashes.items()})


def _read_again_from(body: IO[bytes], size: int) -> None:
    """Let the route read the body from `request.stream` (or `get_data`) as if from the network,
    which authentication has read already."""
    request.environ["wsgi.input"] = body
    request.environ["CONTENT_LENGTH"] = str(size)
    request.__dict__.pop("stream", None)  # werkzeug caches the stream it made


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
