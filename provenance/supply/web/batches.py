"""Batch routes: the lists of batches and alerts, a batch's JSON, its QR codes and label sheet.

A lot may hold "/" (sent as %2F): each route reads its GTIN and lot from the raw path, before
its access rule does (see `paths`)."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request

from provenance.access.principal import ANONYMOUS, Principal
from provenance.access.rules import SIGNED_IN, Rule
from provenance.access.web import current_principal
from provenance.errors import NotFound
from provenance.gs1 import keys as gs1
from provenance.gs1 import qr
from provenance.log.store.engine import read_connection
from provenance.supply import queries as supply_queries
from provenance.supply.web import paths
from provenance.supply.web.access import BATCH_HANDLERS, BATCH_MAKER
from provenance.supply.web.blueprint import bp, checked_lookup, stem
from provenance.web import page_token
from provenance.web.api import json_response
from provenance.web.context import service
from provenance.web.openapi import openapi

#: Rows on a page of the batch and alert lists when `perPage` does not say.
BATCH_PAGE = 200
ALERT_PAGE = 500
#: Labels on a printed sheet when `perPage` does not say.
LABEL_PAGE = 1000


def _batch_key(after: page_token.Key | None) -> supply_queries.BatchKey | None:
    return None if after is None else (int(after[0]), str(after[1]), str(after[2]))


#: Batch routes: the static path before the GTIN, and after the lot.
BATCH_ROUTES = {
    "batch_json": ("/api/v1/batches/", ""),
    "batch_qr_png": ("/api/v1/batches/", "/qr.png"),
    "batch_qr_svg": ("/api/v1/batches/", "/qr.svg"),
    "label_sheet": ("/labels/", ""),
}


@bp.url_value_preprocessor
def batch_from_raw_path(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """GTIN and lot of a batch route, read from the raw path before its access rule reads them."""
    route = BATCH_ROUTES.get((endpoint or "").removeprefix("supply."))
    if route is not None and values is not None:
        gtin, lot = paths.batch_route(*route)
        values.clear()
        values.update(gtin=gtin, lot=lot)


@bp.get("/api/v1/batches")
@openapi(query=page_token.QUERY)
def list_batches() -> Response:
    """The batches the party handled (a regulator: all), newest first, a page at a time."""
    page = page_token.requested((int, str, str), default=BATCH_PAGE)
    with read_connection(service().engine) as conn:
        found = supply_queries.batches(
            conn, limit=page.size + 1, reader=current_principal(), after=_batch_key(page.after)
        )
    paged = page_token.page_of(found, page, supply_queries.batch_key)
    return page_token.paged_json({"batches": paged.rows}, paged)


def _batch(gtin: str, lot: str | None, reader: Principal) -> supply_queries.Lookup:
    """The batch a batch route names, or 404."""
    if lot is None:
        raise NotFound(f"no such route: {paths.raw_path()}")
    found = checked_lookup(gtin, lot, None, reader)
    if found.batch is None or found.product is None:
        raise NotFound(f"no batch {found.gtin}/{lot}")
    return found


@bp.get("/api/v1/batches/<gtin>/<path:lot>")
def batch_json(gtin: str, lot: str | None) -> Response:
    return json_response(_batch(gtin, lot, current_principal()).to_json(stem()))


def _batch_uri(gtin: str, lot: str | None) -> str:
    found = _batch(gtin, lot, ANONYMOUS)
    return gs1.digital_link_uri(stem(), found.gtin, found.lot)


@bp.get("/api/v1/batches/<gtin>/<path:lot>/qr.png")
def batch_qr_png(gtin: str, lot: str | None) -> Response:
    return Response(qr.qr_png(_batch_uri(gtin, lot)), mimetype="image/png")


@bp.get("/api/v1/batches/<gtin>/<path:lot>/qr.svg")
def batch_qr_svg(gtin: str, lot: str | None) -> Response:
    return Response(qr.qr_svg(_batch_uri(gtin, lot)), mimetype="image/svg+xml")


@bp.get("/labels/<gtin>/<path:lot>")
@openapi(query=page_token.QUERY)
def label_sheet(gtin: str, lot: str | None) -> str:
    """A printable sheet: one label per serial (or one for the batch), QR plus human text; a
    batch of more serials than a sheet holds links its next sheet."""
    found = _batch(gtin, lot, ANONYMOUS)  # the label's public facts
    assert found.lot is not None
    page = page_token.requested((str,), default=LABEL_PAGE)
    after = None if page.after is None else str(page.after[0])
    with read_connection(service().engine) as conn:
        serials = supply_queries.serials_of(conn, found.gtin, found.lot, page.size + 1, after)
    paged = page_token.page_of(serials, page, lambda serial: (serial,))
    labels = []
    printed: list[str | None] = list(paged.rows) or [None]  # unserialised: one batch label
    for serial in printed:
        uri = gs1.digital_link_uri(stem(), found.gtin, found.lot, serial)
        labels.append({"serial": serial, "uri": uri, "qr": qr.qr_data_uri(uri)})
    following = None
    if paged.token is not None:
        # The lot as one segment ("/" as %2F), as every route that takes a lot reads it.
        path = f"/labels/{found.gtin}/{paths.segment(found.lot)}"
        following = page_token.next_link(paged.token, path)
    return render_template(
        "labels.html", product=found.product, batch=found.batch, labels=labels, next_page=following
    )


@bp.get("/api/v1/alerts")
@openapi(query=page_token.QUERY)
def list_alerts() -> Response:
    """The alerts raised at the party (a regulator: all), newest first, a page at a time;
    `open=1`: only those not yet resolved."""
    open_only = request.args.get("open") in {"1", "true", "yes"}
    page = page_token.requested((int, int), default=ALERT_PAGE)
    after = None if page.after is None else (int(page.after[0]), int(page.after[1]))
    with read_connection(service().engine) as conn:
        found = supply_queries.alerts(
            conn,
            open_only=open_only,
            limit=page.size + 1,
            after=after,
            reader=current_principal(),
        )
    paged = page_token.page_of(found, page, supply_queries.alert_key)
    return page_token.paged_json({"alerts": paged.rows}, paged)


ACCESS: dict[str, Rule] = {
    # Lists answer each party its own batches and alerts, a regulator all.
    "supply.list_batches": SIGNED_IN,
    "supply.list_alerts": SIGNED_IN,
    "supply.batch_json": BATCH_HANDLERS,
    "supply.batch_qr_png": BATCH_MAKER,
    "supply.batch_qr_svg": BATCH_MAKER,
    "supply.label_sheet": BATCH_MAKER,
}
