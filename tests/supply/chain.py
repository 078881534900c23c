"""A supply chain of test parties over the API: a maker, a wholesaler, two pharmacies, a
regulator, and one product; helpers that move a batch through it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient

from tests.parties import Authority, PartyKey, assign_prefix, read, register_party, send

GTIN = "09506000134352"
NDC_GTIN = "00307773105025"  # NDC 0777-3105-02
#: The maker's GS1 company prefixes: of GTIN, and of NDC_GTIN (labeler 0777, as a GTIN-12).
PREFIXES = ("9506000", "030777")
LOT = "LOT-A1"
FUTURE = "301231"
JSON = {"Accept": "application/json"}
WHOLESALER_GLN = "5412345000020"


@dataclass
class Chain:
    client: FlaskClient
    maker: PartyKey
    wholesaler: PartyKey
    pharmacy: PartyKey
    other_pharmacy: PartyKey
    regulator: PartyKey

    def send(self, party: PartyKey, kind: str, body: dict[str, Any], status: int = 201) -> Any:
        return send(self.client, party, kind, body, status)

    def batch(self, lot: str = LOT, reader: PartyKey | None = None) -> Any:
        """The batch's verdict JSON as `reader` sees it (its manufacturer, unless named)."""
        url = f"/01/{GTIN}/10/{lot}"
        response = read(self.client, reader or self.maker, url, headers=JSON)
        assert response.status_code == 200
        return response.get_json()

    def pack(
        self, serial: str, lot: str = LOT, reader: PartyKey | None = None, **query: str
    ) -> Any:
        """A pack's verdict JSON as `reader` sees it (the batch's manufacturer, unless named)."""
        url = f"/01/{GTIN}/10/{lot}/21/{serial}"
        response = read(self.client, reader or self.maker, url, query_string=query, headers=JSON)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def alerts(self, reader: PartyKey, **query: str) -> Any:
        """The alerts `reader` sees: those raised at it (a regulator: all)."""
        response = read(self.client, reader, "/api/v1/alerts", query_string=query)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["alerts"]


def make_chain(client: FlaskClient, authority: Authority) -> Chain:
    c = Chain(
        client,
        register_party(client, authority, "Acme Pharma", "5412345000013", ["manufacturer"]),
        register_party(client, authority, "MedSupply", WHOLESALER_GLN, ["wholesaler"]),
        register_party(client, authority, "City Pharmacy", "5412345000037", ["pharmacy"]),
        register_party(client, authority, "Town Pharmacy", "5412345000075", ["pharmacy"]),
        register_party(client, authority, "Regulator", "5412345000044", ["regulator"]),
    )
    for prefix in PREFIXES:
        assign_prefix(client, authority, c.maker.gln, prefix)
    c.send(
        c.maker,
        "product.register",
        {"gtin": GTIN, "name": "Amoxicillin", "form": "capsule", "strength": "500 mg"},
    )
    return c


def commission_serialised(
    c: Chain, lot: str = LOT, count: int = 5, expiry: str = FUTURE
) -> list[str]:
    serials = [f"S{lot}-{i}" for i in range(count)]
    c.send(
        c.maker,
        "batch.commission",
        {"gtin": GTIN, "lot": lot, "expiry": expiry, "serials": serials},
    )
    return serials


def full_chain(c: Chain) -> list[str]:
    serials = commission_serialised(c)
    c.send(
        c.maker,
        "custody.ship",
        {
            "shipment": "D1",
            "gtin": GTIN,
            "lot": LOT,
            "to": c.wholesaler.gln,
            "serials": serials,
            "po": "PO-9",
        },
    )
    c.send(
        c.wholesaler, "custody.receive", {"from": c.maker.gln, "shipment": "D1", "serials": serials}
    )
    c.send(
        c.wholesaler,
        "custody.ship",
        {"shipment": "W1", "gtin": GTIN, "lot": LOT, "to": c.pharmacy.gln, "serials": serials[:3]},
    )
    c.send(
        c.pharmacy,
        "custody.receive",
        {"from": c.wholesaler.gln, "shipment": "W1", "serials": serials[:3]},
    )
    return serials
