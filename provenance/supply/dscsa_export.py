"""A shipment's DSCSA Transaction Information and Transaction Statement as an EPCIS 2.0 document
(pure): the GS1 US DSCSA guideline's shipping event, master data and statement, in JSON-LD."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from provenance.epcis.hash import event_hash_id
from provenance.epcis.query import CONTEXT
from provenance.gs1.keys import digital_link_uri, parse_expiry, percent_encode
from provenance.supply.rows import BatchRow, ProductRow, ShipmentRow

#: The GS1 US healthcare namespace of the guideline's extensions (`gs1ushc:`), as a JSON-LD prefix.
GS1USHC = "http://epcis.gs1us.org/hc/ns#"
#: Where EPCs, classes and GLNs of the document resolve (GS1 Digital Link, as EPCIS 2.0 writes
#: them); not this service, so the document means the same wherever it is read.
ID_STEM = "https://id.gs1.org"
#: An `epcisHeader` extension member: the signed log entry the shipment was recorded in.
LOG_ENTRY_HEADER = "tag:provenance.local,2026:logEntry"
CLASS_VOCABULARY = "urn:epcglobal:epcis:vtype:EPCClass"
LOCATION_VOCABULARY = "urn:epcglobal:epcis:vtype:Location"
_MDA = "urn:epcglobal:cbv:mda#"
#: The document's JSON-LD context: EPCIS 2.0's, and the GS1 US healthcare prefix.
CONTEXT_OF_DOCUMENT: list[Any] = [CONTEXT, {"gs1ushc": GS1USHC}]
#: The guideline's legal notice: the transferor affirms FDCA §581(27)(A)-(G) (21 U.S.C.
#: 360eee(27)): it is authorised; it received the product from an authorised person; it received
#: transaction information and a transaction statement from the prior owner; it did not knowingly
#: ship a suspect or illegitimate product; it has systems and processes to meet the verification
#: requirements; it did not knowingly provide false transaction information; and it did not
#: knowingly alter the transaction history.
LEGAL_NOTICE = "Seller has complied with each applicable subsection of FDCA Sec. 581(27)(A)-(G)."


@dataclass(frozen=True)
class Party:
    gln: str
    name: str | None


@dataclass(frozen=True)
class ShipmentRecord:
    """What the log holds about one shipment: its row, the product and batch it moved, its
    parties, and where its signed entry and receipt are served."""

    shipment: ShipmentRow
    product: ProductRow
    batch: BatchRow
    sender: Party
    recipient: Party
    manufacturer: Party
    entry_url: str
    receipt_url: str
    origin: str


def location_uri(gln: str) -> str:
    """A party's GLN as an EPCIS location and owning party (the guideline uses one for both)."""
    return f"{ID_STEM}/414/{gln}"


def _attributes(pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": _MDA + name, "attribute": value} for name, value in pairs if value is not None]


def _expiry_date(yymmdd: str) -> str:
    """A printed GS1 expiry (YYMMDD, day 00 the month's last day) as an ISO 8601 date."""
    return parse_expiry(yymmdd).isoformat()


def master_data(record: ShipmentRecord) -> dict[str, Any]:
    """The EPCClass master data of the product and its lot, and the parties' names (the party
    registry holds no addresses: none are given)."""
    product, batch = record.product, record.batch
    ndc = product["ndc"]
    product_attributes = _attributes(
        [
            ("additionalTradeItemIdentification", ndc),
            ("additionalTradeItemIdentificationTypeCode", "US_FDA_NDC" if ndc else None),
            ("regulatedProductName", product["name"]),
            ("manufacturerOfTradeItemPartyName", record.manufacturer.name),
            ("dosageFormType", product["form"]),
            ("strengthDescription", product["strength"]),
        ]
    )
    lot_attributes = _attributes(
        [("lotNumber", batch["lot"]), ("itemExpirationDate", _expiry_date(batch["expiry"]))]
    )
    parties = {record.sender.gln: record.sender, record.recipient.gln: record.recipient}
    return {
        "vocabularyList": [
            {
                "type": CLASS_VOCABULARY,
                "vocabularyElementList": [
                    {
                        "id": digital_link_uri(ID_STEM, product["gtin"]),
                        "attributes": product_attributes,
                    },
                    {
                        "id": digital_link_uri(ID_STEM, batch["gtin"], batch["lot"]),
                        "attributes": lot_attributes,
                    },
                ],
            },
            {
                "type": LOCATION_VOCABULARY,
                "vocabularyElementList": [
                    {"id": location_uri(p.gln), "attributes": _attributes([("name", p.name)])}
                    for p in parties.values()
                ],
            },
        ]
    }


def business_transaction(issuer: str, number: str) -> str:
    """A CBV business transaction identifier: the issuer's GLN and its own document number."""
    return f"urn:epcglobal:cbv:bt:{issuer}:{percent_encode(number)}"


def shipping_event(record: ShipmentRecord) -> dict[str, Any]:
    """The shipping ObjectEvent (OBSERVE, in transit) of the shipment, its Event Hash ID as its
    eventID: serials as SGTINs with their lot (the pack's own Digital Link), or the lot's
    quantity."""
    shipment = record.shipment
    gtin, lot = shipment["gtin"], shipment["lot"]
    sender, recipient = shipment["sender"], shipment["recipient"]
    serials: list[str] = json.loads(shipment["serials"])
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": shipment["shipped_at"],
        "eventTimeZoneOffset": "+00:00",
    }
    if serials:
        event["epcList"] = [digital_link_uri(ID_STEM, gtin, lot, serial) for serial in serials]
    else:
        event["epcList"] = []
        event["quantityList"] = [
            {"epcClass": digital_link_uri(ID_STEM, gtin, lot), "quantity": shipment["quantity"]}
        ]
    # List items are written type first, as GS1's examples and the Event Hash ID reference
    # vectors are, and must be served in this order: the pre-hash string follows the order of
    # an item's members (see `provenance.epcis.prehash`).
    # The buyer issues the purchase order; the seller the despatch advice (its shipment id when
    # the shipment named no despatch advice of its own).
    transactions = []
    if shipment["po"]:
        transactions.append(
            {"type": "po", "bizTransaction": business_transaction(recipient, shipment["po"])}
        )
    despatch = shipment["despatch"] or shipment["shipment_id"]
    transactions.append(
        {"type": "desadv", "bizTransaction": business_transaction(sender, despatch)}
    )
    event.update(
        {
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            "readPoint": {"id": location_uri(sender)},
            "bizTransactionList": transactions,
            "sourceList": [
                {"type": "owning_party", "source": location_uri(sender)},
                {"type": "location", "source": location_uri(sender)},
            ],
            "destinationList": [
                {"type": "owning_party", "destination": location_uri(recipient)},
                {"type": "location", "destination": location_uri(recipient)},
            ],
        }
    )
    return {"eventID": event_hash_id(event, CONTEXT_OF_DOCUMENT), **event}


def transaction_document(record: ShipmentRecord, created: str) -> dict[str, Any]:
    """The EPCISDocument a seller sends with a shipment under DSCSA: Transaction Information
    (master data and the shipping event) and the Transaction Statement, linked to the shipment's
    signed entry in the log. Transaction History is not part of it: DSCSA §582(k)(1) ended it
    on 27 November 2023."""
    return {
        "@context": CONTEXT_OF_DOCUMENT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisHeader": {
            "epcisMasterData": master_data(record),
            "gs1ushc:dscsaTransactionStatement": {
                "gs1ushc:affirmTransactionStatement": "true",
                "gs1ushc:legalNotice": LEGAL_NOTICE,
            },
            LOG_ENTRY_HEADER: {
                "log": record.origin,
                "index": record.shipment["shipped_index"],
                "entry": record.entry_url,
                "receipt": record.receipt_url,
            },
        },
        "epcisBody": {"eventList": [shipping_event(record)]},
    }
