"""A shipment's DSCSA Transaction Information and Statement over HTTP, as an EPCIS 2.0 document,
for the shipment's two parties and regulators."""

from __future__ import annotations

import json

from flask import Blueprint, Response, url_for

from provenance.access.principal import Principal
from provenance.access.rules import Facts, Rule
from provenance.access.web import current_principal
from provenance.errors import NotFound
from provenance.gs1.keys import GLN, is_valid_gln
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.supply.dscsa_export import Party, ShipmentRecord, transaction_document
from provenance.supply.rows import BATCH, PRODUCT, SHIPMENT
from provenance.supply.tables import KEYS
from provenance.web.context import service
from provenance.web.openapi import openapi
from provenance.web.openapi_schemas import content

bp = Blueprint("dscsa_export", __name__)

EPCIS_JSON_LD = "application/ld+json"


def _record(view: DbView, sender: str, shipment_id: str, reader: Principal) -> ShipmentRecord:
    """What the log holds of the shipment, if `reader` is one of its parties or a regulator;
    anyone else is told it does not exist (a 403 would tell them it does)."""
    shipment = SHIPMENT.get(view, (GLN(sender), shipment_id)) if is_valid_gln(sender) else None
    if shipment is None or not (
        reader.regulator or reader.gln in (shipment["sender"], shipment["recipient"])
    ):
        raise NotFound(f"no shipment {shipment_id!r} of {sender}")
    product = PRODUCT.get(view, (shipment["gtin"],))
    batch = BATCH.get(view, (shipment["gtin"], shipment["lot"]))
    # A shipment's batch and product are registered before it can be shipped.
    assert product is not None and batch is not None

    def party(gln: str) -> Party:
        found = view.party(gln)
        return Party(gln, None if found is None else found.name)

    settings = service().settings
    index = shipment["shipped_index"]
    return ShipmentRecord(
        shipment=shipment,
        product=product,
        batch=batch,
        sender=party(shipment["sender"]),
        recipient=party(shipment["recipient"]),
        manufacturer=party(product["manufacturer"]),
        entry_url=settings.public_url + url_for("api.entry", index=index),
        receipt_url=settings.public_url + url_for("log.receipt", index=index),
        origin=settings.origin,
    )


@bp.get("/api/v1/shipments/<sender>/<path:shipment_id>/dscsa")
@openapi(
    responses={
        200: {
            "description": "An EPCIS 2.0 EPCISDocument: the DSCSA Transaction Information and "
            "Transaction Statement of the shipment",
            "content": content({"type": "object"}, EPCIS_JSON_LD),
        }
    }
)
def shipment_dscsa(sender: str, shipment_id: str) -> Response:
    """The shipment's DSCSA Transaction Information and Transaction Statement as an EPCIS 2.0
    JSON-LD document (GS1 US DSCSA guideline form): product and party master data, the shipping
    event with its Event Hash ID, and the link to the shipment's signed log entry."""
    with read_connection(service().engine) as conn:
        record = _record(DbView(conn, KEYS), sender, shipment_id, current_principal())
    # Served in the builder's member order, not sorted: the Event Hash IDs were computed on it.
    document = json.dumps(transaction_document(record, now_timestamp()), ensure_ascii=False)
    response = Response(document, mimetype=EPCIS_JSON_LD)
    response.vary.update(("Cookie", "Signature"))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _shipment_reader(who: Principal, facts: Facts) -> bool:
    """Any registered party gets past the rule: the route answers 404 to all but the shipment's
    sender and recipient and regulators, whether or not the shipment exists."""
    return who.authenticated


ACCESS: dict[str, Rule] = {
    "dscsa_export.shipment_dscsa": Rule(
        "the shipment's sender and recipient, and regulators (to anyone else: 404)",
        _shipment_reader,
    ),
}
