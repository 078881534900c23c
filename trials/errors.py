"""Errors of the trials plug-in."""

from __future__ import annotations

from provenance.errors import Error


class BadDataset(Error):
    slug, status, title = "bad-dataset", 422, "Not a readable dataset file"


PROBLEMS: tuple[type[Error], ...] = (BadDataset,)
