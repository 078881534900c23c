"""EPCIS 2.0 REST binding named queries and their webhook subscriptions, each party's own."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for

from provenance.access.principal import Principal
from provenance.access.rules import SIGNED_IN, Rule
from provenance.access.web import current_principal
from provenance.epcis.errors import BadEpcis
from provenance.errors import NotFound
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import read_connection, write_transaction
from provenance.supply import named_queries, subscriptions
from provenance.supply.named_queries import NamedQuery
from provenance.supply.web.epcis import answer_query
from provenance.supply.webhooks import Policy
from provenance.web.api import json_body, json_response
from provenance.web.context import service
from provenance.web.openapi import openapi

bp = Blueprint("epcis_queries", __name__)

LIST_LIMIT = 100
SUBSCRIPTION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PAGING_QUERY: dict[str, dict[str, Any]] = {
    "perPage": {"schema": {"type": "integer", "minimum": 1, "maximum": LIST_LIMIT}},
    "nextPageToken": {"schema": {"type": "string"}},
}
DEFINITION = {
    "type": "object",
    "required": ["name", "query"],
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$"},
        "query": {
            "type": "object",
            "description": "SimpleEventQuery parameters, as GET /epcis/events takes them",
            "additionalProperties": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ]
            },
        },
    },
}
SUBSCRIPTION = {
    "type": "object",
    "required": ["dest"],
    "properties": {
        "dest": {"type": "string", "format": "uri"},
        "signatureToken": {"type": "string"},
        "stream": {"type": "boolean"},
        "schedule": {"type": "object", "additionalProperties": {"type": "string"}},
        "reportIfEmpty": {"type": "boolean"},
        "initialRecordTime": {"type": "string", "format": "date-time"},
    },
}
#: What a request for a named query's events may add: paging, and what remains of
#: eventCountLimit (the `next` link carries it).
EVENTS_PAGING = frozenset({"perPage", "nextPageToken", "eventCountLimit"})
EVENTS_QUERY: dict[str, dict[str, Any]] = {
    **PAGING_QUERY,
    "perPage": {"schema": {"type": "integer", "minimum": 1}},
    "eventCountLimit": {"schema": {"type": "integer", "minimum": 1}},
}
NO_CONTENT = {204: {"description": "Deleted"}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _created(what: str) -> dict[int, Any]:
    return {201: {"description": f"The {what}, at its Location"}, 409: {"description": "Taken"}}


@bp.before_request
def _known_identifiers() -> None:
    """A name or subscription ID no resource could have is 404 before any SQL sees it (a NUL,
    say, which PostgreSQL cannot even compare)."""
    args = request.view_args or {}
    for key, form in (("name", named_queries.NAME), ("subscription_id", SUBSCRIPTION_ID)):
        value = args.get(key)
        if value is not None and form.fullmatch(value) is None:
            raise NotFound(f"no {key.replace('_', ' ')} {value!r} exists")


@bp.post("/epcis/queries")
@openapi(request_body=_body(DEFINITION), responses=_created("named query"))
def create_query() -> Response:
    """Save SimpleEventQuery parameters under a name of the party's own. The query is run once
    first: parameters it refuses are refused here with the same problem."""
    name, parameters = named_queries.parse_definition(json_body("the query definition"))
    reader = current_principal()
    trial = named_queries.query_args(parameters)
    trial.setlist("perPage", ["1"])
    answer_query(trial, reader)
    with write_transaction(service().engine) as conn:
        named = named_queries.create(conn, _owner(reader), name, parameters, now_timestamp())
    location = url_for("epcis_queries.get_query", name=name)
    return json_response(named.json(), 201, {"Location": location})


@bp.get("/epcis/queries")
@openapi(query=PAGING_QUERY)
def list_queries() -> Response:
    """The party's named queries by name, paged as the binding pages: `Link: <…>; rel="next"`."""
    limit, after = _paging("queries")
    with read_connection(service().engine) as conn:
        found = named_queries.page(conn, _owner(current_principal()), after, limit + 1)
    return _page([q.json() for q in found], limit, "queries", url_for("epcis_queries.list_queries"))


@bp.get("/epcis/queries/<name>")
def get_query(name: str) -> Response:
    """A named query's definition."""
    return _private(json_response(_named(name).json()))


@bp.delete("/epcis/queries/<name>")
@openapi(responses=NO_CONTENT)
def delete_query(name: str) -> Response:
    """Delete a named query and every subscription to it."""
    with write_transaction(service().engine) as conn:
        if not named_queries.delete(conn, _owner(current_principal()), name):
            raise NotFound(f"you have no query named {name}")
    return Response(status=204)


@bp.get("/epcis/queries/<name>/events")
@openapi(query=EVENTS_QUERY)
def query_events(name: str) -> Response:
    """The events the named query answers the party now, as GET /epcis/events answers its
    parameters; paged with perPage and nextPageToken (the `next` link is this resource's)."""
    extra = sorted(set(request.args) - EVENTS_PAGING)
    if extra:
        raise BadEpcis(
            "a named query's events take only perPage, nextPageToken and eventCountLimit",
            extra=extra,
        )
    args = _named(name).args()
    for key in EVENTS_PAGING & set(request.args):
        args.setlist(key, request.args.getlist(key))
    return _private(answer_query(args, current_principal()))


@bp.post("/epcis/queries/<name>/subscriptions")
@openapi(request_body=_body(SUBSCRIPTION), responses=_created("subscription"))
def subscribe(name: str) -> Response:
    """Subscribe a webhook (`dest`) to a named query: `"stream": true` for every new event, or
    a `schedule`. Deliveries are signed with `signatureToken` (GS1-Signature, HMAC-SHA256)."""
    asked = subscriptions.parse_request(
        json_body("the subscription"), Policy.from_config(current_app.config)
    )
    owner = _owner(current_principal())
    with write_transaction(service().engine) as conn:
        made = subscriptions.create(conn, owner, name, asked, datetime.now(UTC))
    location = url_for(
        "epcis_queries.get_subscription", name=name, subscription_id=made.subscription_id
    )
    return json_response(made.json(), 201, {"Location": location})


@bp.get("/epcis/queries/<name>/subscriptions")
@openapi(query=PAGING_QUERY)
def list_subscriptions(name: str) -> Response:
    """The party's subscriptions to one of its named queries."""
    limit, after = _paging("subscriptions")
    owner = _owner(current_principal())
    with read_connection(service().engine) as conn:
        if named_queries.get(conn, owner, name) is None:
            raise NotFound(f"you have no query named {name}")
        found = subscriptions.page(conn, owner, name, after, limit + 1)
    here = url_for("epcis_queries.list_subscriptions", name=name)
    return _page([s.json() for s in found], limit, "subscriptions", here)


@bp.get("/epcis/queries/<name>/subscriptions/<subscription_id>")
def get_subscription(name: str, subscription_id: str) -> Response:
    """A subscription, and how its deliveries are going (never its signature token)."""
    with read_connection(service().engine) as conn:
        found = subscriptions.get(conn, _owner(current_principal()), name, subscription_id)
    if found is None:
        raise NotFound(f"you have no subscription {subscription_id} to a query named {name}")
    return _private(json_response(found.json()))


@bp.delete("/epcis/queries/<name>/subscriptions/<subscription_id>")
@openapi(responses=NO_CONTENT)
def unsubscribe(name: str, subscription_id: str) -> Response:
    """End a subscription."""
    with write_transaction(service().engine) as conn:
        if not subscriptions.delete(conn, _owner(current_principal()), name, subscription_id):
            raise NotFound(f"you have no subscription {subscription_id} to a query named {name}")
    return Response(status=204)


def _owner(reader: Principal) -> str:
    # The rule admits signed-in parties only, so there is always a GLN.
    return reader.gln or ""


def _named(name: str) -> NamedQuery:
    with read_connection(service().engine) as conn:
        found = named_queries.get(conn, _owner(current_principal()), name)
    if found is None:
        raise NotFound(f"you have no query named {name}")
    return found


def _paging(kind: str) -> tuple[int, str | None]:
    """perPage (at most LIST_LIMIT) and where the page starts."""
    try:
        limit = int(request.args.get("perPage", LIST_LIMIT))
    except ValueError:
        raise BadEpcis("perPage must be an integer") from None
    if limit < 1:
        raise BadEpcis("perPage must be at least 1")
    token = request.args.get("nextPageToken")
    if token is None:
        return min(limit, LIST_LIMIT), None
    try:
        padded = token + "=" * (-len(token) % 4)
        found_kind, after = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        found_kind, after = None, None
    form = named_queries.NAME if kind == "queries" else SUBSCRIPTION_ID
    if found_kind != kind or not isinstance(after, str) or form.fullmatch(after) is None:
        raise BadEpcis("nextPageToken is not a token this service gave for this list")
    return min(limit, LIST_LIMIT), after


def _page(items: list[dict[str, Any]], limit: int, kind: str, here: str) -> Response:
    headers = {}
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]["name"] if kind == "queries" else items[-1]["subscriptionID"]
        token = base64.urlsafe_b64encode(json.dumps([kind, last]).encode()).decode().rstrip("=")
        paging = [("perPage", v) for v in request.args.getlist("perPage")]
        headers["Link"] = f'<{here}?{urlencode([*paging, ("nextPageToken", token)])}>; rel="next"'
    return _private(json_response(items, headers=headers))


def _private(response: Response) -> Response:
    """A party's own: no shared cache keeps it for another reader."""
    response.headers["Cache-Control"] = "private, no-store"
    response.vary.update(("Cookie", "Signature"))
    return response


ACCESS: dict[str, Rule] = {
    # Each party (regulators too) keeps, reads and deletes its own queries and subscriptions;
    # a query's events are those its party may read, as on /epcis/events.
    "epcis_queries.create_query": SIGNED_IN,
    "epcis_queries.list_queries": SIGNED_IN,
    "epcis_queries.get_query": SIGNED_IN,
    "epcis_queries.delete_query": SIGNED_IN,
    "epcis_queries.query_events": SIGNED_IN,
    "epcis_queries.subscribe": SIGNED_IN,
    "epcis_queries.list_subscriptions": SIGNED_IN,
    "epcis_queries.get_subscription": SIGNED_IN,
    "epcis_queries.unsubscribe": SIGNED_IN,
}
