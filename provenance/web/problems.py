"""RFC 9457 problem+json responses for every error, including Flask's own."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import Flask, Response, json, render_template, request
from werkzeug.exceptions import HTTPException

from provenance.access.rules import PUBLIC, Rule
from provenance.errors import PROBLEM_BASE, PROBLEMS, Error
from provenance.log.errors import PROBLEMS as LOG_PROBLEMS

PROBLEM_JSON = "application/problem+json"
#: Where the app keeps the type URIs of its documented problems (for the OpenAPI document).
PROBLEM_TYPES = "provenance.problems"
log = logging.getLogger(__name__)

_HTTP_SLUGS = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
    415: "unsupported-media-type",
}


def problem_response(body: dict[str, object], status: int) -> Response:
    """The problem as RFC 9457 JSON; a browser asking for HTML gets a page saying the same, in the
    site's layout (every value escaped by the template)."""
    if wants_html():
        page = render_template("problem.html", problem=body, sign_in=status == 401)
        response = Response(page, status=status, mimetype="text/html")
    else:
        response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.vary.add("Accept")
    return response


def wants_html() -> bool:
    """Whether the client prefers an HTML page to problem+json: only when it names text/html
    itself and rates it above every JSON type (a browser does). API clients, curl, `fetch` and
    test clients, which send no Accept, `*/*`, or JSON first, keep getting problem+json."""
    accept = request.accept_mimetypes
    if not any(value.lower() == "text/html" for value in accept.values()):
        return False
    html = accept.quality("text/html")
    return html > max(accept.quality(PROBLEM_JSON), accept.quality("application/json"))


def handle_error(error: Error) -> Response:
    """The error's problem; one that says when to retry also says it in `Retry-After`."""
    response = problem_response(error.problem(instance=request.path), error.status)
    retry_after = error.extensions.get("retry_after")
    if isinstance(retry_after, int):
        response.headers["Retry-After"] = str(retry_after)
    return response


def handle_http(error: HTTPException) -> Response:
    status = error.code or 500
    slug = _HTTP_SLUGS.get(status, f"http-{status}")
    detail = error.description or error.name
    if status == 413:
        limit = request.max_content_length
        detail = f"request bodies are limited to {limit} bytes"
    body = {
        "type": PROBLEM_BASE + slug,
        "title": error.name,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    response = problem_response(body, status)
    if status == 405 and error.response is None:
        allow = getattr(error, "valid_methods", None)
        if allow:
            response.headers["Allow"] = ", ".join(allow)
    return response


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s", request.path)
    body = {
        "type": PROBLEM_BASE + "internal",
        "title": "Internal error",
        "status": 500,
        "detail": "the server failed; nothing was written",
        "instance": request.path,
    }
    return problem_response(body, 500)


def register(app: Flask, extra: Sequence[type[Error]] = ()) -> None:
    """Map errors to problem+json, and list every problem type (the core's and `extra`, the
    plug-ins') at /problems."""
    documented = (*PROBLEMS, *LOG_PROBLEMS, *extra)
    app.extensions[PROBLEM_TYPES] = [cls.type_uri() for cls in documented]
    app.register_error_handler(Error, handle_error)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)

    @app.get("/problems")
    def problem_types() -> Response:
        types = [
            {"type": cls.type_uri(), "status": cls.status, "title": cls.title} for cls in documented
        ]
        return Response(json.dumps(types), mimetype="application/json")


ACCESS: dict[str, Rule] = {"problem_types": PUBLIC}
