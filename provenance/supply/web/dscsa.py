"""DSCSA verification over HTTP: GS1 LVM requests at a pack's Digital Link URI, answered from
the log for an identified requester."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, request

from provenance.access.errors import Forbidden, Unauthenticated
from provenance.access.principal import ANONYMOUS
from provenance.access.web import current_principal
from provenance.errors import NotFound
from provenance.gs1 import lvm
from provenance.log.store.engine import read_connection
from provenance.supply import dscsa
from provenance.supply import queries as supply_queries
from provenance.web.api import json_response
from provenance.web.context import service


def verification_response(path: list[tuple[str, str]]) -> Response:
    """The LVM answer to the request at the Digital Link path `path` (its AIs) and the query."""
    asked = lvm.read_request(path, request.args.to_dict())
    # The access rule refused these already; the answer never rests on a rule alone.
    who = current_principal()
    if not who.authenticated:
        raise Unauthenticated("a verification request is signed, or made in a session")
    if who.gln != asked.requester_gln:
        raise Forbidden(f"reqGLN {asked.requester_gln} is not the requester's GLN {who.gln}")
    now = datetime.now(UTC)
    with read_connection(service().engine) as conn:
        # Found by GTIN and serial alone: the lot and expiry asked are compared below. Only
        # what anyone may know of the pack goes into the answer.
        found = supply_queries.lookup(conn, asked.gtin, None, asked.serial, reader=ANONYMOUS)
    if found.product is None:
        # Not a product of this log: the verification router sent the request to the wrong
        # responder, which is not the same as an identifier that does not match.
        raise NotFound(f"GTIN {asked.gtin} is not registered in this log")
    result = dscsa.verification(
        asked,
        pack=found.pack,
        batch=found.batch,
        suspect=found.verdict.code == "suspect",
        today=now.date(),
    )
    body = lvm.response_body(
        result,
        at=now,
        responder_gln=service().settings.responder_gln,
        correlation_id=asked.correlation_id,
    )
    response = json_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response
