"""Errors of EPCIS 2.0 document validation."""

from __future__ import annotations

from provenance.errors import Error


class BadEpcis(Error):
    slug, status, title = "bad-epcis", 422, "Not a valid EPCIS 2.0 document"


PROBLEMS: tuple[type[Error], ...] = (BadEpcis,)
