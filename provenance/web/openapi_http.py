"""The app's OpenAPI document at /openapi.json, and a page listing its operations at /api."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, json, render_template

from provenance.access.rules import PUBLIC, Rule
from provenance.web.openapi import document, operations

bp = Blueprint("openapi", __name__, template_folder="templates")


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of every route."""
    return Response(json.dumps(document(current_app)), mimetype="application/json")


@bp.get("/api")
def api_page() -> str:
    """Every operation with who may use it, from the OpenAPI document."""
    doc = document(current_app)
    return render_template("openapi.html", info=doc["info"], operations=operations(doc))


ACCESS: dict[str, Rule] = {"openapi.openapi_document": PUBLIC, "openapi.api_page": PUBLIC}
