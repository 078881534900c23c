"""/reports: run a report in the browser; its page, report.json, and each table and chart."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from provenance.access.principal import Principal
from provenance.access.rules import PUBLIC, SIGNED_IN, Facts, Rule
from provenance.access.web import current_principal
from provenance.errors import NotFound
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.recent import Recent
from provenance.reports.catalog import catalog, report_kind
from provenance.reports.model import Report
from provenance.reports.render import (
    chart_png,
    report_html,
    report_json,
    report_stylesheet,
    table_csv,
    table_records,
)
from provenance.reports.run import MAX_DAYS, parse_params, require_trial, run_report
from provenance.web.context import installed, service
from provenance.web.openapi import openapi

bp = Blueprint("reports", __name__, template_folder="templates")

CACHED_REPORTS = 8
#: Rendered pages kept per report (one per query string that asks for it).
CACHED_PAGES = 4


@dataclass
class _Built:
    report: Report
    pngs: dict[str, bytes] = field(default_factory=dict)
    pdf: bytes | None = None  # made on the first download, then kept with the report
    #: The page by its query string (its links repeat it); a big report takes seconds to render.
    pages: dict[str, str] = field(default_factory=dict)


#: Recent reports by (name, parameters, log size): the projection changes only by appends, so a
#: report over the same tree size is the same report.
_cache: Recent[tuple[object, ...], _Built] = Recent(CACHED_REPORTS)


def _built(name: str) -> _Built:
    kind = report_kind(catalog(installed()), name)  # 404 before any work for an unknown name
    params = parse_params({k: request.args.get(k) for k in ("as_of", "days", "trial")})
    svc = service()
    require_trial(svc, params)  # 404, not a clean report over no data
    with read_connection(svc.engine) as conn:
        size = logdb.tree_size(conn)
    key = (name, params, size, svc.settings.database_url)
    built = _cache.get(key)
    if built is None:
        report = run_report(svc, kind, params)
        built = _Built(report, {chart.name: chart_png(chart) for chart in report.charts()})
        # Keyed by the size seen by the report's own snapshot, which may be newer than `size`.
        _cache.put((name, params, report.log_size, svc.settings.database_url), built)
    return built


def _link(path: str) -> str:
    query = request.query_string.decode()
    return f"{path}?{query}" if query else path


@bp.get("/reports")
def index() -> str:
    # The list offers only what this party may run: a regulator every report, others those
    # that admit them for data of their own (a sponsor's trial).
    who = current_principal()
    kinds = sorted(
        (kind for kind in catalog(installed()).values() if who.regulator or kind.also_for),
        key=lambda kind: kind.name,
    )
    return render_template(
        "reports.html", kinds=kinds, regulator=who.regulator, params=parse_params({}).to_json()
    )


@bp.get("/reports/report.css")
def stylesheet() -> Response:
    return Response(
        report_stylesheet(), mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


#: The parameters every report takes (read by `_built`, so stated here for the API document).
REPORT_QUERY = {
    "as_of": {"description": "The report's day", "schema": {"type": "string", "format": "date"}},
    "days": {
        "description": "How many days back from as_of",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS},
    },
    "trial": {"description": "One trial's id", "schema": {"type": "string", "maxLength": 40}},
}


def _answers(media_type: str) -> dict[int, object]:
    return {200: {"description": "The report", "content": {media_type: {"schema": {}}}}}


@bp.get("/reports/<name>/")
@openapi(query=REPORT_QUERY, responses=_answers("text/html"))
def page(name: str) -> str:
    built = _built(name)
    query = request.query_string.decode()
    page = built.pages.get(query)
    if page is None:
        page = report_html(built.report, built.pngs, _link, url_for("reports.stylesheet"))
        if len(built.pages) >= CACHED_PAGES:  # other query strings for the same parameters
            built.pages.clear()
        built.pages[query] = page
    return page


@bp.get("/reports/<name>/report.json")
@openapi(query=REPORT_QUERY, responses=_answers("application/json"))
def as_json(name: str) -> Response:
    return jsonify(report_json(_built(name).report, rows=True))


@bp.get("/reports/<name>/report.pdf")
@openapi(query=REPORT_QUERY, responses=_answers("application/pdf"))
def as_pdf(name: str) -> Response:
    """The report as a PDF: its figures, charts and every row of every table."""
    built = _built(name)
    if built.pdf is None:
        from provenance.reports.pdf import report_pdf  # fpdf2 loads only when a PDF is asked for

        built.pdf = report_pdf(built.report, built.pngs)
    trial = f"-{built.report.params.trial}" if built.report.params.trial else ""
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", f"{name}{trial}-{built.report.log_size}.pdf")
    return Response(
        built.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _table(name: str, table: str) -> tuple[_Built, str]:
    built = _built(name)
    try:
        return built, built.report.table(table).name
    except KeyError:
        raise NotFound(f"report {name!r} has no table {table!r}") from None


@bp.get("/reports/<name>/tables/<table>.csv")
@openapi(query=REPORT_QUERY, responses=_answers("text/csv"))
def table_as_csv(name: str, table: str) -> Response:
    built, found = _table(name, table)
    response = Response(table_csv(built.report.table(found)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{found}.csv"'
    return response


@bp.get("/reports/<name>/tables/<table>.json")
@openapi(query=REPORT_QUERY, responses=_answers("application/json"))
def table_as_json(name: str, table: str) -> Response:
    built, found = _table(name, table)
    return jsonify(table_records(built.report.table(found)))


@bp.get("/reports/<name>/charts/<chart>.png")
@openapi(query=REPORT_QUERY, responses=_answers("image/png"))
def chart(name: str, chart: str) -> Response:
    png = _built(name).pngs.get(chart)
    if png is None:
        raise NotFound(f"report {name!r} has no chart {chart!r}")
    return Response(png, mimetype="image/png")


def _report_readers(who: Principal, facts: Facts) -> bool:
    if who.regulator:
        return True
    kind = catalog(installed()).get(str(facts.args.get("name")))
    if kind is None or kind.also_for is None or not who.authenticated:
        return False
    return kind.also_for(who, dict(facts.args), facts.conn)


REPORT_READERS = Rule(
    "regulators (and whom a report admits, e.g. a trial's sponsor)", _report_readers
)
ACCESS: dict[str, Rule] = {
    "reports.index": SIGNED_IN,
    "reports.stylesheet": PUBLIC,
    "reports.page": REPORT_READERS,
    "reports.as_json": REPORT_READERS,
    "reports.as_pdf": REPORT_READERS,
    "reports.table_as_csv": REPORT_READERS,
    "reports.table_as_json": REPORT_READERS,
    "reports.chart": REPORT_READERS,
}
