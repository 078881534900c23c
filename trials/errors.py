"""Errors of the trials plug-in."""

from __future__ import annotations

from provenance.errors import Error


class BadDataset(Error):
    slug, status, title = "bad-dataset", 422, "Not a readable dataset file"


class UploadQuotaExceeded(Error):
    slug, status, title = "upload-quota", 429, "The party's upload quota is used up"


PROBLEMS: tuple[type[Error], ...] = (BadDataset, UploadQuotaExceeded)
