"""Errors of GS1 identifier and scan parsing."""

from __future__ import annotations

from provenance.errors import Error


class BadIdentifier(Error):
    slug, status, title = "bad-identifier", 422, "Not a valid GS1 identifier or scan"


PROBLEMS: tuple[type[Error], ...] = (BadIdentifier,)
