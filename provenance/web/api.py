"""JSON API: submit statements, read entries, parties and the log's state."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, json, request, url_for

from .. import reader
from ..canonical import parse_json
from ..errors import NotFound, UnsupportedMediaType
from ..log import tree_size
from ..store.engine import read_connection
from ..store.projection import DbView
from . import service
from .log_http import checked_index

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ACCEPTED_TYPES = ("application/json", "application/vnd.dsse.envelope+json")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


@bp.post("/statements")
def submit_statement() -> Response:
    if request.mimetype not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(
            f"send the DSSE envelope as application/json, not {request.mimetype or 'nothing'}"
        )
    envelope = parse_json(request.get_data(cache=False))
    appended = service().log.submit(envelope)
    location = url_for("api.entry", index=appended.index)
    body = {
        "index": appended.index,
        "leaf_hash": appended.leaf_hash.hex(),
        "receipt": url_for("log.receipt", index=appended.index),
        "entry": location,
        "duplicate": appended.duplicate,
    }
    return json_response(body, 200 if appended.duplicate else 201, {"Location": location})


@bp.get("/log")
def log_state() -> Response:
    with read_connection(service().engine) as conn:
        latest = reader.latest_checkpoint(conn)
    return json_response(
        {
            "origin": service().settings.origin,
            "verifier_key": service().verifier_key(),
            "size": latest.size if latest else 0,
            "root_hash": latest.root_hash.hex() if latest else None,
            "checkpoint": url_for("log.checkpoint"),
        }
    )


@bp.get("/log/entries/<int:index>")
def entry(index: int) -> Response:
    with read_connection(service().engine) as conn:
        body = reader.entry_json(conn, checked_index(index), tree_size(conn))
    return json_response(body, headers={"Cache-Control": "public, max-age=31536000, immutable"})


def _party_json(view: DbView, gln: str) -> dict[str, Any]:
    party = view.party(gln)
    if party is None:
        raise NotFound(f"no party with GLN {gln}")
    return {
        "gln": party.gln,
        "name": party.name,
        "roles": list(party.roles),
        "registered_index": party.registered_index,
        "keys": [
            {
                "key_id": k.key_id,
                "added_index": k.added_index,
                "added_at": k.added_at,
                "retired_at": k.retired_at,
                "revoked_from": k.revoked_from,
                "revocation_reason": k.revocation_reason,
            }
            for k in view.keys_of(gln)
        ],
    }


@bp.get("/parties")
def parties() -> Response:
    with read_connection(service().engine) as conn:
        view = DbView(conn)
        body = [_party_json(view, p.gln) for p in view.parties()]
    return json_response(body)


@bp.get("/parties/<gln>")
def party(gln: str) -> Response:
    with read_connection(service().engine) as conn:
        body = _party_json(DbView(conn), gln)
    return json_response(body)
