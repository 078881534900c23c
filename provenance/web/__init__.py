"""The thin HTTP layer: blueprints over the core, and the mapping of errors to problem+json."""

from __future__ import annotations

from flask import Flask, current_app

from provenance.log.service import Service, Settings

EXTENSION = "provenance"


def init_service(app: Flask) -> Service:
    service = Service(Settings.from_config(app.config))
    app.extensions[EXTENSION] = service
    return service


def service() -> Service:
    svc: Service = current_app.extensions[EXTENSION]
    return svc


def register(app: Flask) -> None:
    from provenance.supply.web import epcis as epcis_http
    from provenance.supply.web import resolver as supply_http
    from provenance.web import api, log_http, pages, problems, reports_http

    problems.register(app)
    app.register_blueprint(log_http.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(supply_http.bp)
    app.register_blueprint(epcis_http.bp)
    app.register_blueprint(reports_http.bp)
