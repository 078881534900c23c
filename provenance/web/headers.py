"""Headers on every response: what browsers may do with it, CORS on public reads, the demo mark."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Response, request

from provenance.web.context import service

DEMO_HEADER = "Provenance-Demo"

#: Scripts and styles come only from this origin's static files, so text the service stores and
#: shows (names, reasons, uploads) can never run as code in its pages; images may also be data
#: URIs (QR codes on label sheets, charts in reports).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Without it a browser may guess that an upload or a stored payload is HTML or a script.
    "X-Content-Type-Options": "nosniff",
    # Addresses here name packs, lots, trials and scanned codes: they are not sent anywhere, not
    # even to this origin, which never reads the Referer.
    "Referrer-Policy": "no-referrer",
    # frame-ancestors for browsers that predate it.
    "X-Frame-Options": "DENY",
}

#: Marks, in the request's WSGI environment, a read that any site's scripts may make.
_PUBLIC_READ = "provenance.public_read"

View = TypeVar("View", bound=Callable[..., Any])


def allow_any_origin() -> None:
    """Let scripts on any origin read this request's answer, its errors too (CORS)."""
    request.environ[_PUBLIC_READ] = True


def public_read(view: View) -> View:
    """A view whose answers (and errors) any site's scripts may read."""

    @functools.wraps(view)
    def marked(*args: Any, **kwargs: Any) -> Any:
        allow_any_origin()
        return view(*args, **kwargs)

    return cast(View, marked)


#: (lowercase name, name, value): a response's names are read once, not once a header.
_SECURITY_ITEMS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())


def install(app: Flask) -> None:
    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        for lower, name, value in _SECURITY_ITEMS:
            if lower not in present:  # a view's own policy wins
                headers.add(name, value)
        if request.environ.get(_PUBLIC_READ):
            response.headers["Access-Control-Allow-Origin"] = "*"
        profile = service().profile()
        if profile is not None and profile.demo:
            response.headers[DEMO_HEADER] = "true"
        return response
