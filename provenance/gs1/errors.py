"""Errors of GS1 identifier and scan parsing, Digital Link URIs and verification requests."""

from __future__ import annotations

from provenance.errors import Error


class BadIdentifier(Error):
    slug, status, title = "bad-identifier", 422, "Not a valid GS1 identifier or scan"


class BadDigitalLink(BadIdentifier):
    """A request URI that is not a valid GS1 Digital Link: the request itself is malformed."""

    slug, status, title = "bad-digital-link", 400, "Not a valid GS1 Digital Link URI"


class BadVerificationRequest(Error):
    slug, status, title = (
        "bad-verification-request",
        400,
        "Not a valid GS1 Lightweight Verification Messaging request",
    )


PROBLEMS: tuple[type[Error], ...] = (BadIdentifier, BadDigitalLink, BadVerificationRequest)
