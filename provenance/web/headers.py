"""Headers on every response: a demonstration log says so in each answer."""

from __future__ import annotations

from flask import Flask, Response

from provenance.web.context import service

DEMO_HEADER = "Provenance-Demo"


def install(app: Flask) -> None:
    @app.after_request
    def mark(response: Response) -> Response:
        profile = service().profile()
        if profile is not None and profile.demo:
            response.headers[DEMO_HEADER] = "true"
        return response
