"""What a server may do with its database: start only on this release's schema, and write
nothing in read-only mode."""

from __future__ import annotations

import click
from flask import Flask, request
from flask.cli import ScriptInfo

from provenance.log.errors import ReadOnly
from provenance.log.service import Service

#: Methods that never write (RFC 9110 §9.2.1 safe methods).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def loaded_by_flask_cli() -> bool:
    """Whether `flask --app app …` is building the app: its admin commands (migrate above all)
    must run on a database the server would refuse."""
    context = click.get_current_context(silent=True)
    return context is not None and context.find_object(ScriptInfo) is not None


def install(app: Flask, service: Service) -> None:
    """Refuse to start on a schema this release does not know (but let the admin commands
    run); answer every request with that problem while it lasts, and 503 `read-only` to every
    write in read-only mode. Runs before authentication, so a refused write spends nothing."""
    problem = service.schema.problem()
    if problem is not None and not loaded_by_flask_cli():
        service.close()
        raise problem

    @app.before_request
    def _refuse() -> None:
        found = service.schema.problem()
        if found is not None:
            raise found
        if service.settings.read_only and request.method not in SAFE_METHODS:
            raise ReadOnly(
                f"this server is read-only (READ_ONLY): {request.method} {request.path} "
                "writes, so it is refused; the log, its checkpoints, tiles and receipts are "
                "served as they are"
            )
