"""The supply chain's blueprint and what its routes share: the public stem, a checked lookup,
answers that depend on their reader."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from provenance.access.principal import Principal
from provenance.gs1 import keys as gs1
from provenance.gs1.errors import BadIdentifier
from provenance.log.store.engine import read_connection
from provenance.supply import queries as supply_queries
from provenance.supply.web import paths
from provenance.web.context import service

bp = Blueprint(
    "supply",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/supply",
)


def stem() -> str:
    """The configured public URL: a request's Host header never decides where a link points."""
    return service().settings.public_url


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.app_template_filter("dl_segment")
def dl_segment(value: str) -> str:
    """A lot or serial as it goes into a Digital Link path (a "/" as %2F)."""
    return paths.segment(value)


def checked_lookup(
    gtin: str,
    lot: str | None,
    serial: str | None,
    reader: Principal,
    *,
    expiry: str | None = None,
) -> supply_queries.Lookup:
    """The verdict and what `reader` may see of the batch (ANONYMOUS: the public facts)."""
    gtin14 = gs1.normalise_gtin(gtin)
    if lot is not None and not gs1.is_valid_lot(lot):
        raise BadIdentifier(f"lot {lot!r} is not 1-20 characters of the GS1 character set 82")
    if serial is not None and not gs1.is_valid_serial(serial):
        raise BadIdentifier(f"serial {serial!r} is not 1-20 characters of the GS1 character set 82")
    if expiry is not None:
        gs1.parse_expiry(expiry)
    with read_connection(service().engine) as conn:
        return supply_queries.lookup(
            conn,
            gtin14,
            None if lot is None else gs1.Lot(lot),
            None if serial is None else gs1.Serial(serial),
            expiry=expiry,
            reader=reader,
        )


def for_its_reader(response: Response, body: dict[str, Any]) -> Response:
    """An answer depends on who asks: no cache may keep a party's view for anyone else."""
    response.vary.update(("Cookie", "Signature"))
    if body["view"] == "full":
        response.headers["Cache-Control"] = "private, no-store"
    return response
