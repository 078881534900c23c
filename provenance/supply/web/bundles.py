"""Proof bundles of a batch and of a pack, under the access rules of their verdict pages."""

from __future__ import annotations

from urllib.parse import unquote

from flask import Blueprint, Response

from provenance.access.rules import PUBLIC, Rule
from provenance.errors import NotFound
from provenance.supply.web import paths
from provenance.web.bundles_http import bundle_response

bp = Blueprint("supply_bundles", __name__)

# A lot or serial may hold "/" (sent as %2F): the routes take the rest of the path and read the
# lot and serial from the raw path, as the batch routes do.


@bp.get("/api/v1/bundles/batch/<gtin>/<path:lot>")
def batch_bundle(gtin: str, lot: str) -> Response:
    gtin, raw_lot = paths.batch_route("/api/v1/bundles/batch/")
    if not raw_lot:
        raise NotFound("a batch bundle is named by GTIN and lot")
    return bundle_response("batch", {"gtin": gtin, "lot": raw_lot})


@bp.get("/api/v1/bundles/pack/<gtin>/<path:lot_and_serial>")
def pack_bundle(gtin: str, lot_and_serial: str) -> Response:
    gtin_raw, _, rest = paths.after("/api/v1/bundles/pack/").partition("/")
    lot, _, serial = rest.partition("/")
    if not lot or not serial or "/" in serial:
        raise NotFound("a pack bundle is named by GTIN, lot and serial")
    return bundle_response(
        "pack", {"gtin": unquote(gtin_raw), "lot": unquote(lot), "serial": unquote(serial)}
    )


#: Anyone may ask, as anyone may scan a pack and read its verdict page; a bundle holds what its
#: requester may read of the log (anonymously: the product's registration and any recall, the
#: public kinds).
ACCESS: dict[str, Rule] = {
    "supply_bundles.batch_bundle": PUBLIC,
    "supply_bundles.pack_bundle": PUBLIC,
}
