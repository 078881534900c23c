"""Supply-chain HTTP: the GS1 Digital Link resolver (linksets, link types, DSCSA verification),
the scan page and API; the batch routes are in `batches`, on the same blueprint."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, make_response, render_template, request
from markupsafe import Markup, escape

from provenance.access.rules import PUBLIC, Rule
from provenance.access.web import current_principal
from provenance.errors import Error, NotFound
from provenance.gs1 import keys as gs1
from provenance.gs1 import lvm
from provenance.gs1.digital_link import parse_digital_link
from provenance.gs1.errors import BadDigitalLink, BadIdentifier
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import read_connection
from provenance.supply import queries as supply_queries
from provenance.supply import scan_reading, scan_view, scanned_rows
from provenance.supply.web import batches, dscsa, linkset, paths
from provenance.supply.web.access import DIGITAL_LINK
from provenance.supply.web.blueprint import bp, checked_lookup, for_its_reader, stem, wants_json
from provenance.web.api import json_response
from provenance.web.context import service
from provenance.web.headers import allow_any_origin

__all__ = ["ACCESS", "bp"]

#: The resolver's routes: any GS1 Digital Link URI with a GTIN as its primary key, under the
#: names its commonest forms are known by. Each route reads the whole raw path itself.
RESOLVER_ROUTES = {
    "resolve_product": "/01/<gtin>/",
    "resolve_batch": "/01/<gtin>/10/<path:lot>",
    "resolve_pack": "/01/<gtin>/10/<path:lot>/21/<path:serial>",
    "resolve_serial": "/01/<gtin>/21/<path:serial>",
    "resolve_qualified": "/01/<gtin>/<path:qualifiers>",
    # Digital Link 1.0 convenience alphas, as DSCSA verification routers still send them.
    "resolve_short_names": "/gtin/<path:short_names>",
}


def wants_linkset() -> bool:
    """Whether the client asked for the linkset by its media type, above HTML and JSON."""
    accept = request.accept_mimetypes
    return linkset.LINKSET_JSON in accept.values() and (
        accept.best_match([linkset.LINKSET_JSON, "text/html", "application/json"])
        == linkset.LINKSET_JSON
    )


def gets_a_page() -> bool:
    """Whether the resolver answers with an HTML page (a browser's plain request)."""
    return "linkType" not in request.args and not wants_json() and not wants_linkset()


@bp.url_value_preprocessor
def public_reads(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Runs before the access rules: the resolver's answers are for any site's scripts (its
    linksets, redirects, JSON and DSCSA answers, and its refusals: 401, 403), its pages not."""
    name = (endpoint or "").removeprefix("supply.")
    if name == "resolver_description" or (name in RESOLVER_ROUTES and not gets_a_page()):
        allow_any_origin()


# --- the resolver ---------------------------------------------------------------------------


def _identified(verifying: bool) -> list[tuple[str, str]]:
    """The AIs of the request URI: the path's (strict GS1 Digital Link syntax) and, unless the
    request is a verification (whose query has its own members), the query's attributes."""
    path = paths.raw_path()
    if path.endswith("/") and len(path) > 1:
        path = path[:-1]
    query = "" if verifying else request.query_string.decode("latin-1")
    uri = stem() + path + ("?" + query if query else "")
    try:
        ais = parse_digital_link(
            uri,
            permit_zero_suppressed_gtin=True,
            permit_convenience_alphas=request.endpoint == "supply.resolve_short_names",
        )
    except BadIdentifier as error:
        raise BadDigitalLink(error.detail, **error.extensions) from error
    if ais[0][0] != "01":
        raise NotFound(f"this resolver answers GTINs (01), not AI ({ais[0][0]}) keys")
    return ais


def resolve(**_: str) -> Response:
    """Any Digital Link URI of a GTIN: the verdict (page or JSON), the item's linkset, a
    redirect to one of its links, or a DSCSA verification answer."""
    asked = request.args.get("linkType")
    link_type = None if asked is None else lvm.link_type(asked)
    verifying = link_type == lvm.VERIFICATION_SERVICE
    ais = _identified(verifying)
    values = dict(ais)
    response = dscsa.verification_response(ais) if verifying else _resolved(values, link_type)
    anchor = linkset.anchor_of(stem(), values["01"], values.get("10"), values.get("21"))
    response.headers.add("Link", linkset.link_header(anchor))
    response.vary.add("Accept")
    return response


for _endpoint, _rule in RESOLVER_ROUTES.items():
    bp.add_url_rule(_rule, _endpoint, resolve, methods=["GET"], strict_slashes=False)


def _resolved(ais: dict[str, str], link_type: str | None) -> Response:
    gtin, lot, serial = gs1.GTIN(ais["01"]), ais.get("10"), ais.get("21")
    if link_type is None and not wants_linkset():
        if lot is None and serial is None:
            return _product_response(gtin)
        return _verdict_response(gtin, lot, serial, ais.get("17"))
    anchor = linkset.anchor_of(stem(), gtin, lot, serial)
    with read_connection(service().engine) as conn:
        product = supply_queries.product_lookup(conn, gtin).product
        leaflet = None if product is None else supply_queries.leaflet(conn, product)
    name = None if product is None else product["name"]
    links = linkset.links(
        anchor, linkset.anchor_of(stem(), gtin, None, None), name=name, leaflet=leaflet
    )
    if link_type in (None, "all", "linkset"):
        return _linkset_response(linkset.linkset(anchor, links, name))
    target = next((link for link in links if link.rel == link_type), None)
    if target is None:
        raise NotFound(
            f"no {link_type} link for {anchor}; this item has "
            + ", ".join(link.rel for link in links)
        )
    moved = Response(status=307)
    moved.headers["Location"] = target.href
    return moved


def _linkset_response(body: dict[str, Any]) -> Response:
    response = json_response(body)
    response.mimetype = linkset.LINKSET_JSON
    return response


def _verdict_response(
    gtin: str, lot: str | None, serial: str | None, expiry: str | None
) -> Response:
    """The verdict page, or its JSON, which any site's scripts may read (a pharmacy system or a
    verification app on another origin), its errors too."""
    body = checked_lookup(gtin, lot, serial, current_principal(), expiry=expiry).to_json(stem())
    if wants_json():
        response = json_response(body)
    else:
        shown = _presented(body, scanned_expiry=expiry)
        response = make_response(render_template("batch.html", v=shown, now=now_timestamp()))
    return for_its_reader(response, body)


def _product_response(gtin: gs1.GTIN) -> Response:
    """A GTIN alone: whether the product is registered, and its public facts."""
    with read_connection(service().engine) as conn:
        body = supply_queries.product_lookup(conn, gtin).to_json(stem())
    if wants_json():
        return json_response(body)
    shown = _presented(body)
    return make_response(render_template("product.html", v=shown, now=now_timestamp()))


@bp.get("/.well-known/gs1resolver")
def resolver_description() -> Response:
    """The GS1-Conformant resolver description: its root is the configured PUBLIC_URL."""
    name = f"GS1 Digital Link resolver of the transparency log {service().settings.origin}"
    response = json_response(linkset.description(stem(), name))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# --- scans --------------------------------------------------------------------------------------


def _presented(body: dict[str, Any], *, scanned_expiry: str | None = None) -> dict[str, Any]:
    """The answer with what a scan station shows beside it (see `scan_view.present`)."""
    given = scan_view.names_given(body)
    names = {gln: name for gln, name in given.items() if name is not None}
    missing = scan_view.glns_named(body) - given.keys()
    if missing:  # only the names the answer's rows did not carry, by key
        with read_connection(service().engine) as conn:
            names |= scanned_rows.party_names(conn, missing)
    return scan_view.present(
        body,
        names=names,
        today=datetime.now(UTC).date(),
        scanned_at=now_timestamp(),
        origin=service().settings.origin,
        scanned_expiry=scanned_expiry,
    )


@bp.app_template_filter("named")
def named(text: object, parties: dict[str, str] | None) -> Markup:
    """Text with each GLN it names shown as its party's name (the GLN in the title)."""
    escaped = str(escape(str(text)))
    names = parties or {}

    def name(match: Any) -> str:
        gln = match.group(0)
        if gln not in names:
            return str(gln)
        return f'<span class="party" title="GLN {gln}">{escape(names[gln])}</span>'

    return Markup(scan_view.GLN_IN_TEXT.sub(name, escaped))


@bp.get("/scan")
def scan_page() -> Response:
    """Keyboard-wedge input (any GS1 form); the verdict renders server-side, and the page's
    script keeps the box empty and focused for the next scan."""
    code = request.args.get("code")
    result: dict[str, Any] | None = None
    error: str | None = None
    if code:
        try:
            result = _scan_json(code)
        except Error as exc:
            error = exc.detail
    page = render_template(
        "scan.html", code=code or "", result=result, error=error, now=now_timestamp()
    )
    return for_its_reader(make_response(page), result or {"view": "public"})


def _scan_json(code: str) -> dict[str, Any]:
    """The answer to a scan: a pack's or batch's verdict, or for a GTIN alone (a linear barcode)
    the product-level answer; where a lost separator made the data read several ways, the
    reading the log knows, with a correction saying so."""
    with read_connection(service().engine) as conn:
        reading = scan_reading.read(conn, code)
        if reading.names_a_pack:
            found = supply_queries.lookup(
                conn,
                reading.gtin,
                reading.lot,
                reading.serial,
                expiry=reading.expiry,
                reader=current_principal(),
            )
        else:
            found = supply_queries.product_lookup(conn, reading.gtin)
    body = found.to_json(stem())
    body["scan"] = {
        "form": reading.form,
        "symbology": reading.symbology,
        "element_string": reading.bracketed(),
    }
    body["scan_warnings"] = list(reading.warnings)
    body["corrections"] = list(reading.corrections)
    return _presented(body, scanned_expiry=reading.expiry)


@bp.get("/api/v1/scan")
def scan_api() -> Response:
    code = request.args.get("code")
    if not code:
        raise BadIdentifier("give the scanned data as ?code=")
    body = _scan_json(code)
    return for_its_reader(json_response(body), body)


ACCESS: dict[str, Rule] = {
    # A verdict is for anyone who scans a pack; each view shows its reader what it may see. A
    # DSCSA verification answers registered parties only, each as the reqGLN it gives.
    **{f"supply.{endpoint}": DIGITAL_LINK for endpoint in RESOLVER_ROUTES},
    "supply.resolver_description": PUBLIC,
    "supply.scan_page": PUBLIC,
    "supply.scan_api": PUBLIC,
    **batches.ACCESS,
}
