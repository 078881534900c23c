"""HTML pages: the log's front page (checkpoint, parties, latest entries, plug-in panels)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Flask, render_template

from provenance.access.principal import EntryReaders
from provenance.access.rules import PUBLIC, Rule
from provenance.access.web import current_principal
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.web.context import installed, service

#: Its static folder holds the stylesheet every page links: no page has inline style or script.
bp = Blueprint(
    "pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/core",
)
LATEST = 25


@bp.get("/")
def index() -> str:
    who = current_principal()
    with read_connection(service().engine) as conn:
        latest = logdb.latest_checkpoint(conn)
        view = DbView(conn)
        parties = view.parties()
        names = {k.key_id: p.name for p in parties for k in view.keys_of(p.gln)}
        # Even an entry's kind, signer and time say what a party does: list only entries the
        # reader may read.
        readers = EntryReaders(conn, service().registry, view)
        rows = [r for r in logdb.latest_entries(conn, LATEST) if readers.may_read(who, r[0])]
        panels = [
            (panel.template, panel.data(conn, who))
            for plugin in installed().plugins
            for panel in plugin.panels
        ]
    entries = [
        {
            "index": index,
            "kind": kind,
            "signer": names.get(signer, signer[:16]),
            "logged_at": logged_at,
            "leaf_hash": leaf.hex(),
        }
        for index, kind, signer, logged_at, leaf in rows
    ]
    return render_template(
        "index.html",
        origin=service().settings.origin,
        checkpoint=latest,
        verifier_key=service().verifier_key() if latest else None,
        parties=parties,
        entries=entries,
        panels=panels,
    )


def install_navigation(app: Flask, links: Sequence[tuple[str, str]]) -> None:
    """Every page's navigation (the log, the plug-ins' pages, the reports), and its banner when
    the log is a demonstration log."""
    nav = [("Log", "/"), *links, ("Reports", "/reports")]

    @app.context_processor
    def navigation() -> dict[str, Any]:
        profile = service().profile()
        return {"nav_links": nav, "demo_log": profile is not None and profile.demo}


ACCESS: dict[str, Rule] = {"pages.index": PUBLIC}
