"""Trial HTTP: payload upload and download (410 once erased), trial JSON, and trial pages."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Flask, Response, render_template, request

from provenance.errors import Gone, NotFound
from provenance.log.store.engine import read_connection
from provenance.web.api import json_response
from provenance.web.context import service
from trials import queries
from trials.payloads import MAX_PAYLOAD, parse_salt, store_payload

bp = Blueprint("trials", __name__, template_folder="templates")


@bp.post("/api/v1/trials/payloads")
def upload_payload() -> Response:
    """Raw bytes, with the uploader's salt in `X-Salt`; answers the commitment to sign."""
    request.max_content_length = MAX_PAYLOAD
    salt = parse_salt(request.headers.get("X-Salt"))
    stored = store_payload(
        service().engine,
        request.get_data(cache=False),
        salt,
        request.mimetype or "application/octet-stream",
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
    return Response(bytes(row["data"]), mimetype=row["media_type"])


def _trial_json(trial_id: str) -> dict[str, Any]:
    with read_connection(service().engine) as conn:
        trial = queries.trial(conn, trial_id)
        return {
            "trial": trial,
            "protocols": queries.protocols(conn, trial_id),
            "datasets": [
                {k: v for k, v in d.items() if k != "data"}
                for d in queries.datasets(conn, trial_id)
            ],
            "consent": queries.consent_status(conn, trial_id),
        }


@bp.get("/api/v1/trials")
def list_trials() -> Response:
    with read_connection(service().engine) as conn:
        return json_response({"trials": queries.trials(conn)})


@bp.get("/api/v1/trials/<trial_id>")
def trial_json(trial_id: str) -> Response:
    return json_response(_trial_json(trial_id))


@bp.get("/api/v1/trials/<trial_id>/history")
def trial_history(trial_id: str) -> Response:
    with read_connection(service().engine) as conn:
        queries.trial(conn, trial_id)
        return json_response({"history": queries.history(conn, trial_id)})


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


@bp.get("/api/v1/trials/<trial_id>/history.csv")
def trial_history_csv(trial_id: str) -> Response:
    """The audit trail as CSV, each row with its signature manifestation (21 CFR 11.50)."""
    with read_connection(service().engine) as conn:
        queries.trial(conn, trial_id)
        rows = queries.history(conn, trial_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "logged_at",
            "entry",
            "action",
            "what",
            "reason",
            "party",
            "printed_name",
            "meaning",
            "key_id",
        ]
    )
    writer.writerows([row[c] for c in HISTORY_COLUMNS] for row in rows)
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={trial_id}-audit.csv"},
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
        return json_response(queries.consent_status(conn, trial_id))


@bp.get("/trials")
def trials_page() -> str:
    with read_connection(service().engine) as conn:
        return render_template("trials.html", trials=queries.trials(conn))


@bp.get("/trials/<trial_id>")
def trial_page(trial_id: str) -> str:
    data = _trial_json(trial_id)
    with read_connection(service().engine) as conn:
        data["history"] = queries.history(conn, trial_id)
    return render_template("trial.html", **data)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
