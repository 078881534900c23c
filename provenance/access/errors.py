"""Errors of authentication and authorization (RFC 9457 problems: 401, 403 and 429)."""

from __future__ import annotations

from provenance.errors import Error


class BadRequestSignature(Error):
    """A request signature that does not hold; the request is then anonymous."""

    slug, status, title = "bad-request-signature", 401, "The request signature is not valid"


class Unauthenticated(Error):
    slug, status, title = "unauthenticated", 401, "Sign the request with a registered key"


class Forbidden(Error):
    slug, status, title = "forbidden", 403, "Not allowed for this party"


class RateLimited(Error):
    slug, status, title = "rate-limited", 429, "Too many requests"


PROBLEMS: tuple[type[Error], ...] = (BadRequestSignature, Unauthenticated, Forbidden, RateLimited)
