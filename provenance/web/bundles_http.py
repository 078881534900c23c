"""Serving proof bundles: a plug-in's route names the subject, the core finds and proves it.

A plug-in adds a route per subject it declares (`Personality.bundle_subjects`), with the access
rule of the subject's own page, and answers with `bundle_response`. Whoever may use the route
gets the subject's entries that they may read at /api/v1/log/entries/<i>, each with the
identity entries behind its signer; the rest are left out and counted in a header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask import Response

from provenance.access.errors import Forbidden, Unauthenticated
from provenance.access.principal import EntryReaders
from provenance.access.web import current_principal
from provenance.audit.bundle import encode_bundle
from provenance.audit.bundle_build import build_bundle
from provenance.errors import NotFound
from provenance.log import reader
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.web.context import service

#: How many of the subject's entries the bundle leaves out for this requester.
OMITTED_HEADER = "Provenance-Omitted-Entries"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def bundle_file_name(subject: str, params: Mapping[str, str]) -> str:
    parts = [subject, *params.values()]
    return _UNSAFE.sub("_", "-".join(parts)) + ".bundle.json"


def bundle_response(subject: str, params: Mapping[str, str]) -> Response:
    """The proof bundle of a subject, for the current requester, as an attachment."""
    svc = service()
    find = svc.registry.bundle_subjects.get(subject)
    if find is None:
        raise NotFound(f"no proof bundles of {subject}s in this log")
    who = current_principal()
    with read_connection(svc.engine) as conn:
        indices = find(conn, params)
        latest = reader.require_checkpoint(conn)
        readers = EntryReaders(conn, svc.registry, DbView(conn))
        built = build_bundle(conn, svc.registry, readers, who, indices, latest)
    if not built.entries:
        refusal = Forbidden if who.authenticated else Unauthenticated
        raise refusal(
            f"none of the {built.omitted} entries about this {subject} is for this reader"
        )
    response = Response(
        encode_bundle(built.checkpoint, built.entries),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{bundle_file_name(subject, params)}"',
            "Cache-Control": "private, no-store",
            OMITTED_HEADER: str(built.omitted),
        },
    )
    response.vary.update(("Cookie", "Signature"))
    return response
