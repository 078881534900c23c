"""Trial HTTP: payload upload and download (an attachment; 410 once erased), trial JSON, pages."""

from __future__ import annotations

import mimetypes
import re
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, render_template, request
from sqlalchemy import Connection

from provenance.access.rules import PUBLIC, Rule
from provenance.access.web import body_limit, current_principal
from provenance.errors import Gone, NotFound
from provenance.log.store.engine import read_connection
from provenance.reports.render import csv_text
from provenance.web import page_token
from provenance.web.api import json_response
from provenance.web.context import service
from provenance.web.openapi import openapi
from provenance.web.openapi_schemas import content
from trials import audit_trail, queries
from trials.access import PAYLOAD_READERS, TRIAL_READERS, UPLOADERS
from trials.page_css import TRIAL_CSS
from trials.payloads import MAX_PAYLOAD, SALT_BYTES, parse_salt, store_payload
from trials.scope import Scope, scope_of

bp = Blueprint("trials", __name__, template_folder="templates")

#: Rows on a page of the trial list and of an audit trail's JSON when `perPage` does not say.
LIST_PAGE = 1000
#: Rows of the audit trail on a page of the trial's HTML page.
TRAIL_PAGE = 200
#: The reports run over one trial, linked from its page: (name, title).
TRIAL_REPORTS = (("trial-checks", "Trial integrity checks"), ("monitoring", "Central monitoring"))
#: The media type the uploader declared, reported beside the bytes.
MEDIA_TYPE_HEADER = "Provenance-Media-Type"
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
#: Types trial uploads use that Python's own table does not know.
_EXTENSIONS = {"application/x-sas-xport": ".xpt"}
#: Python's built-in table only: the system's files differ from one machine to the next.
_BUILTIN_TYPES = mimetypes.MimeTypes()


def _extension(media_type: str) -> str:
    """A file name extension for a declared media type; `.bin` for one nobody knows."""
    return _EXTENSIONS.get(media_type) or _BUILTIN_TYPES.guess_extension(media_type) or ".bin"


#: What an upload answers: the commitment the uploader then signs in a statement.
STORED_PAYLOAD = {
    "type": "object",
    "properties": {
        "commitment": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "size": {"type": "integer", "minimum": 0},
    },
    "required": ["commitment", "sha256", "size"],
}


@bp.post("/api/v1/trials/payloads")
@body_limit(MAX_PAYLOAD)
@openapi(
    request_body={
        "required": True,
        "description": "The bytes; their declared media type is kept beside them",
        "content": {"application/octet-stream": {"schema": {}}},
    },
    headers={
        "X-Salt": {
            "required": True,
            "description": "The uploader's random salt",
            "schema": {"type": "string", "pattern": f"^[0-9a-f]{{{2 * SALT_BYTES}}}$"},
        }
    },
    responses={201: {"description": "Stored", "content": content(STORED_PAYLOAD)}},
)
def upload_payload() -> Response:
    """Raw bytes, with the uploader's salt in `X-Salt`; answers the commitment to sign. Each
    party uploads at most its quota in any 24 hours (429 beyond it)."""
    salt = parse_salt(request.headers.get("X-Salt"))
    svc = service()
    stored = store_payload(
        svc.engine,
        request.stream,  # read in chunks: a dataset may be near a gigabyte
        salt,
        request.mimetype or "application/octet-stream",
        party=current_principal().gln,
        quota=svc.settings.upload_quota,
    )
    return json_response(stored, 201)


@bp.get("/api/v1/trials/payloads/<commitment>")
def download_payload(commitment: str) -> Response:
    with read_connection(service().engine) as conn:
        row = queries.payload_row(conn, commitment)
    if row is None:
        raise NotFound(f"no payload {commitment}")
    if row["erased_index"] is not None:
        raise Gone(
            f"payload erased at entry {row['erased_index']}: {row['reason']}",
            erased_index=row["erased_index"],
            erased_by=row["party"],
            erased_at=row["erased_at"],
            reason=row["reason"],
            receipt=f"/log/receipt/{row['erased_index']}",
        )
    # Whatever type the uploader claimed, the bytes are never shown as a page of this origin: a
    # browser saves them, and nosniff (on every answer) keeps it from guessing a type.
    declared = str(row["media_type"])
    response = Response(
        bytes(row["data"]),
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{row["commitment"]}{_extension(declared)}"'
            )
        },
    )
    if MEDIA_TYPE.fullmatch(declared):
        response.headers[MEDIA_TYPE_HEADER] = declared
    return response


def _trial_json(conn: Connection, trial_id: str, scope: Scope) -> dict[str, Any]:
    trial = queries.trial(conn, trial_id)
    return {
        "trial": trial,
        "protocols": queries.protocols(conn, trial_id),
        "datasets": [
            {k: v for k, v in d.items() if k != "data"} for d in queries.datasets(conn, trial_id)
        ],
        "consent": queries.consent_status(conn, trial_id, scope.subjects(conn, trial_id)),
    }


def _trail_page(
    conn: Connection, trial_id: str, scope: Scope, size: int = LIST_PAGE
) -> audit_trail.TrailPage:
    """The page of the audit trail the request asks for (`size` rows unless it says), filtered
    as it asks."""
    page = page_token.requested((int, int), default=size)
    wanted = audit_trail.parse_filter(request.args)
    return audit_trail.trail_page(conn, trial_id, scope, wanted, page)


@bp.get("/api/v1/trials")
@openapi(query=page_token.QUERY)
def list_trials() -> Response:
    """Registration facts only, as public trial registries show them, a page at a time."""
    page = page_token.requested((int, str), default=LIST_PAGE)
    after = None if page.after is None else (int(page.after[0]), str(page.after[1]))
    with read_connection(service().engine) as conn:
        found = queries.trials(conn, after, page.size + 1)
    paged = page_token.page_of(found, page, queries.trial_key)
    facts = [{k: v for k, v in row.items() if k != "registered_index"} for row in paged.rows]
    return page_token.paged_json({"trials": facts}, paged)


@bp.get("/api/v1/trials/<trial_id>")
def trial_json(trial_id: str) -> Response:
    with read_connection(service().engine) as conn:
        scope = scope_of(current_principal(), conn, trial_id)
        return json_response(_trial_json(conn, trial_id, scope))


@bp.get("/api/v1/trials/<trial_id>/history")
@openapi(query={**page_token.QUERY, **audit_trail.QUERY})
def trial_history(trial_id: str) -> Response:
    """The audit trail the reader may see, oldest first, a page at a time; `signer`, `record`,
    `kind`, `from` and `to` filter it, and `matching` and `total` count it."""
    with read_connection(service().engine) as conn:
        scope = scope_of(current_principal(), conn, trial_id)
        trail = _trail_page(conn, trial_id, scope)
    counts = {"first": trail.first, "matching": trail.matching, "total": trail.total}
    return page_token.paged_json(
        {"history": trail.rows, **counts}, page_token.Paged(trail.rows, trail.token)
    )


HISTORY_COLUMNS = (
    "at",
    "idx",
    "action",
    "subject",
    "reason",
    "party",
    "printed_name",
    "meaning",
    "key_id",
)
HISTORY_HEADER = (
    "logged_at",
    "entry",
    "action",
    "what",
    "reason",
    "party",
    "printed_name",
    "meaning",
    "key_id",
)


@bp.get("/api/v1/trials/<trial_id>/history.csv")
@openapi(query=audit_trail.QUERY)
def trial_history_csv(trial_id: str) -> Response:
    """The audit trail as CSV, each row with its signature manifestation (21 CFR 11.50)."""
    with read_connection(service().engine) as conn:
        scope = scope_of(current_principal(), conn, trial_id)
        rows = audit_trail.entries(conn, trial_id, scope, audit_trail.parse_filter(request.args))
    text = csv_text(HISTORY_HEADER, ([row[c] for c in HISTORY_COLUMNS] for row in rows))
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{trial_id}-audit.csv"'},
    )


@bp.get("/api/v1/trials/<trial_id>/datasets/<dataset>/history")
def dataset_history(trial_id: str, dataset: str) -> Response:
    with read_connection(service().engine) as conn:
        versions = [d for d in queries.datasets(conn, trial_id) if d["dataset"] == dataset]
    if not versions:
        raise NotFound(f"no dataset {dataset} in trial {trial_id}")
    return json_response({"dataset": dataset, "versions": versions})


@bp.get("/api/v1/trials/<trial_id>/consent")
def consent(trial_id: str) -> Response:
    with read_connection(service().engine) as conn:
        queries.trial(conn, trial_id)
        subjects = scope_of(current_principal(), conn, trial_id).subjects(conn, trial_id)
        return json_response(queries.consent_status(conn, trial_id, subjects))


@bp.get("/trials")
def trials_page() -> str:
    with read_connection(service().engine) as conn:
        return render_template("trials.html", trials=queries.trials(conn))


@bp.get("/trials/trial.css")
def stylesheet() -> Response:
    return Response(
        TRIAL_CSS, mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


@bp.get("/trials/<trial_id>")
@openapi(query={**page_token.QUERY, **audit_trail.QUERY})
def trial_page(trial_id: str) -> str:
    """The trial, its consent findings, its reports, and its audit trail a page at a time,
    filtered by signer, record, kind and dates, with counts."""
    with read_connection(service().engine) as conn:
        scope = scope_of(current_principal(), conn, trial_id)
        data = _trial_json(conn, trial_id, scope)
        trail = _trail_page(conn, trial_id, scope, TRAIL_PAGE)
    following = None if trail.token is None else page_token.next_link(trail.token)
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != page_token.TOKEN and v]
    first = request.path + ("?" + urlencode(kept) if kept else "")
    previous = trail.previous
    return render_template(
        "trial.html",
        **data,
        trail=trail,
        history=trail.rows,
        next_page=following,
        first_page=first,
        previous_page=page_token.next_link(previous) if isinstance(previous, str) else first,
        filters=audit_trail.parse_filter(request.args).form(),
        actions=audit_trail.ACTIONS,
        reports=TRIAL_REPORTS,
    )


def register(app: Flask) -> None:
    app.register_blueprint(bp)


ACCESS: dict[str, Rule] = {
    "trials.upload_payload": UPLOADERS,
    "trials.download_payload": PAYLOAD_READERS,
    # A trial's registration is public, as in the public trial registries.
    "trials.list_trials": PUBLIC,
    "trials.trials_page": PUBLIC,
    "trials.stylesheet": PUBLIC,
    # Site parties see their own sites' subjects only (`Scope`).
    "trials.trial_json": TRIAL_READERS,
    "trials.trial_page": TRIAL_READERS,
    "trials.trial_history": TRIAL_READERS,
    "trials.trial_history_csv": TRIAL_READERS,
    "trials.dataset_history": TRIAL_READERS,
    "trials.consent": TRIAL_READERS,
}
