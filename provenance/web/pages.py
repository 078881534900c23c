"""HTML pages: the front page (what the service is, who goes where; the log's checkpoint,
parties, latest entries and plug-in panels) and every page's navigation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request

from provenance.access.principal import EntryReaders
from provenance.access.rules import PUBLIC, Rule
from provenance.access.web import current_principal
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.plugins import INSPECTORS, OPERATORS, NavLink
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
        audiences=_audiences(),
    )


#: The core's own links, after the plug-ins' in the navigation.
CORE_LINKS = (
    NavLink("Reports", "/reports", INSPECTORS, "integrity reports run over the whole log"),
    NavLink("Log", "/#log", OPERATORS, "the latest checkpoint, the parties and their entries"),
    NavLink("API docs", "/api", OPERATORS, "the HTTP API, its OpenAPI document and problems"),
)
NAV = "provenance.nav"


def _audiences() -> list[tuple[str, list[NavLink]]]:
    """The navigation's links grouped by the audience they are for, in order of first mention."""
    grouped: dict[str, list[NavLink]] = {}
    for link in _nav():
        if link.audience:
            grouped.setdefault(link.audience, []).append(link)
    return list(grouped.items())


def _nav() -> tuple[NavLink, ...]:
    links: tuple[NavLink, ...] = current_app.extensions.get(NAV, CORE_LINKS)
    return links


def install_navigation(app: Flask, links: Sequence[NavLink]) -> None:
    """Every page's navigation (the plug-ins' pages, then the reports, the log and the API), who
    is logged in, and the banner when the log is a demonstration log."""
    app.extensions[NAV] = (*links, *CORE_LINKS)

    @app.context_processor
    def navigation() -> dict[str, Any]:
        profile = service().profile()
        return {
            "nav_links": app.extensions[NAV],
            "nav_current": _current(app.extensions[NAV]),
            "viewer": current_principal(),
            "demo_log": profile is not None and profile.demo,
        }


def _current(links: Sequence[NavLink]) -> str | None:
    """The path of the navigation link the page being shown belongs under, if any."""
    path = request.path
    found = [
        link.path
        for link in links
        if "#" not in link.path and (path == link.path or path.startswith(link.path + "/"))
    ]
    return max(found, key=len, default=None)


ACCESS: dict[str, Rule] = {"pages.index": PUBLIC}
