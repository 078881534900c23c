"""JSON API: submit statements, read entries, parties and the log's state."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, json, request, url_for

from provenance.access.rules import PUBLIC, Rule, entry_reader
from provenance.access.web import current_principal
from provenance.errors import Error, NotFound, UnsupportedMediaType
from provenance.log import reader
from provenance.log.append import Appended
from provenance.log.canonical import parse_json
from provenance.log.errors import BadEnvelope
from provenance.log.identity import KeyRecord
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.web.context import service
from provenance.web.log_http import checked_index
from provenance.web.openapi import openapi
from provenance.web.openapi_schemas import appended_responses, envelope_body, ref

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ACCEPTED_TYPES = ("application/json", "application/vnd.dsse.envelope+json")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def json_body(what: str) -> Any:
    """The request body as strict JSON; only JSON media types are accepted."""
    if request.mimetype not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(
            f"send {what} as application/json, not {request.mimetype or 'nothing'}"
        )
    return parse_json(request.get_data(cache=False))


#: An index no log reaches, marking where the index goes in a link built once.
_MARK = 987654321987654321
_links: dict[tuple[str, str], tuple[str, str]] = {}


def index_url(endpoint: str, index: int) -> str:
    """`url_for(endpoint, index=index)`, from the route's link built once per script root
    (building it is a good part of the cost of answering a single statement)."""
    key = (endpoint, request.script_root)
    parts = _links.get(key)
    if parts is None:
        before, _, after = url_for(endpoint, index=_MARK).partition(str(_MARK))
        parts = _links[key] = (before, after)
    return f"{parts[0]}{index}{parts[1]}"


def appended_json(appended: Appended) -> dict[str, Any]:
    return {
        "index": appended.index,
        "leaf_hash": appended.leaf_hash.hex(),
        "receipt": index_url("log.receipt", appended.index),
        "entry": index_url("api.entry", appended.index),
        "duplicate": appended.duplicate,
    }


@bp.post("/statements")
@openapi(
    request_body=envelope_body(ref("Envelope"), "A signed statement (a DSSE envelope)"),
    responses=appended_responses(ref("Appended")),
)
def submit_statement() -> Response:
    """One signed statement (a DSSE envelope), logged once."""
    appended = service().log.submit(json_body("the DSSE envelope"))
    body = appended_json(appended)
    status = 200 if appended.duplicate else 201
    return json_response(body, status, {"Location": body["entry"]})


#: Most envelopes one batch request may carry (the 1 MiB body limit applies as well).
MAX_BATCH = 1000


@bp.post("/statements/batch")
@openapi(
    request_body=envelope_body(
        {"type": "array", "items": ref("Envelope"), "minItems": 1, "maxItems": MAX_BATCH},
        "DSSE envelopes, logged together or not at all",
    ),
    responses=appended_responses({"type": "array", "items": ref("Appended")}),
)
def submit_batch() -> Response:
    """Many envelopes in one request: all are logged in one transaction, or none is."""
    envelopes = json_body("a JSON array of DSSE envelopes")
    if not isinstance(envelopes, list) or not 0 < len(envelopes) <= MAX_BATCH:
        raise BadEnvelope(f"a batch is a JSON array of 1 to {MAX_BATCH} DSSE envelopes")
    log = service().log
    items = []
    for position, envelope in enumerate(envelopes):
        try:
            items.append(log.parse(envelope))
        except Error as exc:
            raise exc.with_context(item=position) from exc
    results = log.submit_many(items)
    created = any(not r.duplicate for r in results)
    return json_response([appended_json(r) for r in results], 201 if created else 200)


@bp.get("/log")
def log_state() -> Response:
    with read_connection(service().engine) as conn:
        latest = reader.latest_checkpoint(conn)
    profile = service().profile()
    return json_response(
        {
            "origin": service().settings.origin,
            "demo": bool(profile and profile.demo),
            "rules": profile.rules if profile else None,
            "verifier_key": service().verifier_key(),
            "size": latest.size if latest else 0,
            "root_hash": latest.root_hash.hex() if latest else None,
            "checkpoint": url_for("log.checkpoint"),
        }
    )


@bp.get("/log/entries/<int:index>")
def entry(index: int) -> Response:
    with read_connection(service().engine) as conn:
        size = logdb.tree_size(conn)
        body = reader.entry_json(conn, checked_index(index), size, service().registry)
    return json_response(body, headers={"Cache-Control": "public, max-age=31536000, immutable"})


def _party_json(view: DbView, gln: str) -> dict[str, Any]:
    party = view.party(gln)
    if party is None:
        raise NotFound(f"no party with GLN {gln}")
    who = current_principal()
    # Keys are public (anyone checks signatures with them); who holds a person's key is for
    # the party itself and regulators.
    insider = who.regulator or who.gln == gln
    return {
        "gln": party.gln,
        "name": party.name,
        "roles": list(party.roles),
        "registered_index": party.registered_index,
        "keys": [_key_json(view, k, insider) for k in view.keys_of(gln)],
    }


def _key_json(view: DbView, key: KeyRecord, insider: bool) -> dict[str, Any]:
    person = view.person_of(key.key_id)
    body: dict[str, Any] = {
        "key_id": key.key_id,
        "holder": "person" if person is not None else "system",
        "added_index": key.added_index,
        "added_at": key.added_at,
        "retired_at": key.retired_at,
        "revoked_from": key.revoked_from,
        "revocation_reason": key.revocation_reason,
    }
    if person is not None and insider:
        body["person"] = {
            "id": person.person,
            "name": person.name,
            "role": person.role,
            "suspended_from": person.suspended_from,
            "suspension_reason": person.suspension_reason,
        }
    return body


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


#: A statement authenticates itself: its envelope carries the signature of a registered key
#: (unknown keys are refused before any signature is checked).
SIGNED_STATEMENT = Rule("anyone, for statements signed by a registered key", lambda who, f: True)

ACCESS: dict[str, Rule] = {
    "api.submit_statement": SIGNED_STATEMENT,
    "api.submit_batch": SIGNED_STATEMENT,
    "api.log_state": PUBLIC,
    "api.entry": entry_reader(),
    # Parties and their public keys: anyone checking a signature needs them.
    "api.parties": PUBLIC,
    "api.party": PUBLIC,
}
