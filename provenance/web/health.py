"""Liveness and readiness for orchestrators: /healthz (the process answers) and /readyz (it can
serve the log: database reachable, schema current, appends not refused by the state guard)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, json
from sqlalchemy.exc import DBAPIError

from provenance.access.rules import PUBLIC, Rule
from provenance.errors import Error
from provenance.log.errors import LogNotInitialised
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.log.store.schema import SCHEMA_VERSION
from provenance.web.context import service
from provenance.web.openapi import openapi
from provenance.web.openapi_schemas import content

bp = Blueprint("health", __name__)


class DatabaseUnavailable(Error):
    slug, status, title = "database-unavailable", 503, "The database does not answer"


#: The problem types these routes add to the app's.
PROBLEMS: tuple[type[Error], ...] = (DatabaseUnavailable,)

_LIVE: dict[str, Any] = {
    "type": "object",
    "properties": {"status": {"const": "live"}},
    "required": ["status"],
}
_READY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"const": "ready"},
        "schema_version": {"type": "integer"},
        "size": {"type": "integer", "minimum": 0},
        "appends": {"enum": ["accepted", "read-only"]},
    },
    "required": ["status", "schema_version", "size", "appends"],
}
_PROBLEM = {"$ref": "#/components/responses/Problem"}


def _json(body: dict[str, object]) -> Response:
    response = Response(json.dumps(body), mimetype="application/json")
    # A probe must see the state of now, never a cached answer.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
@openapi(responses={200: {"description": "The process answers", "content": content(_LIVE)}})
def healthz() -> Response:
    """Liveness: the process answers requests. The view reads nothing from the database."""
    return _json({"status": "live"})


@bp.get("/readyz")
@openapi(
    responses={
        200: {"description": "Ready to serve the log", "content": content(_READY)},
        503: _PROBLEM,
    }
)
def readyz() -> Response:
    """Readiness: the database answers, its schema is this release's, and the log's state guard
    vouches for the stored tree; else 503 with the problem that says why. A read-only server
    appends nothing, so for it only the database is checked."""
    svc = service()
    if svc.schema.empty:
        raise LogNotInitialised("the database holds no schema yet: run `flask --app app init`")
    read_only = svc.settings.read_only
    try:
        # The first use of the log runs the guard's start-up check (SQLite's quick_check too);
        # a damaged file it found stays refused, and is raised again by `edge`.
        log = None if read_only else svc.log
        with read_connection(svc.engine) as conn:
            size = logdb.tree_size(conn)
            if log is not None:
                # The check every append makes: O(log n) stored hashes and two rows.
                log.guard.edge(conn, size)
    except DBAPIError as exc:
        raise DatabaseUnavailable(
            f"the database did not answer: {type(exc.orig).__name__}"
        ) from exc
    return _json(
        {
            "status": "ready",
            "schema_version": SCHEMA_VERSION,
            "size": size,
            "appends": "read-only" if read_only else "accepted",
        }
    )


#: Both say nothing confidential: that the process runs, the schema version, and the log's size
#: and whether it takes appends, which GET /log/checkpoint and any refused append tell anyone.
ACCESS: dict[str, Rule] = {"health.healthz": PUBLIC, "health.readyz": PUBLIC}
