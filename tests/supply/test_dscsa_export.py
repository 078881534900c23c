"""A shipment's DSCSA Transaction Information and Statement as an EPCIS 2.0 document: what it
says, that the project's own EPCIS checks and the GS1 schema accept it, and who may read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from click.testing import CliRunner

from provenance import demo
from provenance.cli import main
from provenance.epcis.document import parse_epcis_document
from provenance.epcis.hash import prehash_string
from provenance.epcis.vocab import document_validator
from provenance.supply.dscsa_export import LEGAL_NOTICE, LOG_ENTRY_HEADER
from provenance.web.context import installed, service
from tests.parties import PartyKey, read
from tests.server import live_server
from tests.supply.chain import GTIN, LOT, NDC_GTIN, Chain, full_chain

MDA = "urn:epcglobal:cbv:mda#"


def url(sender: str, shipment: str) -> str:
    return f"/api/v1/shipments/{sender}/{quote(shipment, safe='')}/dscsa"


def export(chain: Chain, reader: PartyKey | None, sender: str, shipment: str) -> Any:
    return read(chain.client, reader, url(sender, shipment))


def attributes(doc: dict[str, Any], vocabulary: str, element: str) -> dict[str, Any]:
    for vocab in doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]:
        if vocab["type"] == vocabulary:
            for found in vocab["vocabularyElementList"]:
                if found["id"] == element:
                    return {a["id"].removeprefix(MDA): a["attribute"] for a in found["attributes"]}
    raise AssertionError(f"no {element} in {vocabulary}")


def test_a_serialised_shipment_is_its_transaction_information_and_statement(chain: Chain) -> None:
    serials = full_chain(chain)  # D1: maker → wholesaler, all five, PO-9
    answer = export(chain, chain.wholesaler, chain.maker.gln, "D1")
    assert answer.status_code == 200, answer.get_json()
    assert answer.mimetype == "application/ld+json"
    assert answer.headers["Cache-Control"] == "private, no-store"
    doc = json.loads(answer.get_data())
    # The project's own EPCIS checks accept it, and its Event Hash ID is the one they compute.
    (event,) = parse_epcis_document(doc)
    (raw,) = doc["epcisBody"]["eventList"]
    assert raw["eventID"] == event.hash_id
    # Its pairs hash as the reference vectors' do (type first): the answer keeps that order.
    bare = {k: v for k, v in raw.items() if k != "eventID"}
    assert "bizTransactionListtype=https://ref.gs1.org/cbv/BTT-" in prehash_string(
        bare, doc["@context"]
    )
    assert list(document_validator().iter_errors(doc)) == []
    assert (event.biz_step, event.disposition, event.action) == (
        "shipping",
        "in_transit",
        "OBSERVE",
    )
    assert event.epc_list == tuple(
        f"https://id.gs1.org/01/{GTIN}/10/{LOT}/21/{serial}" for serial in serials
    )
    assert dict(event.biz_transactions) == {
        "po": f"urn:epcglobal:cbv:bt:{chain.wholesaler.gln}:PO-9",
        "desadv": f"urn:epcglobal:cbv:bt:{chain.maker.gln}:D1",
    }
    assert dict(event.sources)["owning_party"] == f"https://id.gs1.org/414/{chain.maker.gln}"
    assert (
        dict(event.destinations)["owning_party"] == f"https://id.gs1.org/414/{chain.wholesaler.gln}"
    )
    product = attributes(doc, "urn:epcglobal:epcis:vtype:EPCClass", f"https://id.gs1.org/01/{GTIN}")
    assert product == {
        "regulatedProductName": "Amoxicillin",
        "manufacturerOfTradeItemPartyName": "Acme Pharma",
        "dosageFormType": "capsule",
        "strengthDescription": "500 mg",
    }
    lot = attributes(
        doc, "urn:epcglobal:epcis:vtype:EPCClass", f"https://id.gs1.org/01/{GTIN}/10/{LOT}"
    )
    assert lot == {"lotNumber": LOT, "itemExpirationDate": "2030-12-31"}
    names = {
        gln: attributes(doc, "urn:epcglobal:epcis:vtype:Location", f"https://id.gs1.org/414/{gln}")
        for gln in (chain.maker.gln, chain.wholesaler.gln)
    }
    assert names == {
        chain.maker.gln: {"name": "Acme Pharma"},
        chain.wholesaler.gln: {"name": "MedSupply"},
    }
    statement = doc["epcisHeader"]["gs1ushc:dscsaTransactionStatement"]
    assert statement == {
        "gs1ushc:affirmTransactionStatement": "true",
        "gs1ushc:legalNotice": LEGAL_NOTICE,
    }
    assert {"gs1ushc": "http://epcis.gs1us.org/hc/ns#"} in doc["@context"]


def test_the_document_links_the_shipments_signed_entry(chain: Chain) -> None:
    full_chain(chain)
    doc = export(chain, chain.maker, chain.maker.gln, "D1").get_json(force=True)
    link = doc["epcisHeader"][LOG_ENTRY_HEADER]
    entry = read(chain.client, chain.maker, urlsplit(link["entry"]).path).get_json()
    assert entry["index"] == link["index"]
    statement = entry["entry"]["statement"]
    assert (statement["kind"], statement["body"]["shipment"]) == ("custody.ship", "D1")
    receipt = read(chain.client, chain.maker, urlsplit(link["receipt"]).path)
    assert receipt.status_code == 200
    # The shipping event happened when the log recorded the shipment.
    assert doc["epcisBody"]["eventList"][0]["eventTime"] == entry["entry"]["logged_at"]


def test_an_unserialised_shipment_names_its_quantity_and_the_ndc(chain: Chain) -> None:
    chain.send(
        chain.maker,
        "product.register",
        {
            "gtin": NDC_GTIN,
            "name": "Metformin",
            "form": "tablet",
            "strength": "850 mg",
            "ndc": "0777-3105-02",
        },
    )
    batch = {"gtin": NDC_GTIN, "lot": "M/1"}
    chain.send(chain.maker, "batch.commission", {**batch, "expiry": "300200", "quantity": 40})
    ship = {**batch, "shipment": "Q/7", "to": chain.wholesaler.gln, "quantity": 12}
    chain.send(chain.maker, "custody.ship", {**ship, "despatch": "ASN 55"})
    doc = export(chain, chain.regulator, chain.maker.gln, "Q/7").get_json(force=True)
    (event,) = parse_epcis_document(doc)
    assert event.quantities == ((f"https://id.gs1.org/01/{NDC_GTIN}/10/M%2F1", 12.0, None),)
    assert event.epc_list == ()
    assert dict(event.biz_transactions) == {
        "desadv": f"urn:epcglobal:cbv:bt:{chain.maker.gln}:ASN%2055"
    }
    product = attributes(
        doc, "urn:epcglobal:epcis:vtype:EPCClass", f"https://id.gs1.org/01/{NDC_GTIN}"
    )
    assert product["additionalTradeItemIdentification"] == "0777310502"  # as registered
    assert product["additionalTradeItemIdentificationTypeCode"] == "US_FDA_NDC"
    lot = attributes(
        doc, "urn:epcglobal:epcis:vtype:EPCClass", f"https://id.gs1.org/01/{NDC_GTIN}/10/M%2F1"
    )
    assert lot["itemExpirationDate"] == "2030-02-28"  # day 00: the month's last day
    assert list(document_validator().iter_errors(doc)) == []


def test_only_its_parties_and_regulators_read_it_and_others_cannot_tell_it_exists(
    chain: Chain,
) -> None:
    full_chain(chain)  # D1 maker → wholesaler; W1 wholesaler → pharmacy
    maker = chain.maker.gln
    statuses = {
        name: export(chain, party, maker, "D1").status_code
        for name, party in (
            ("anonymous", None),
            ("maker", chain.maker),
            ("wholesaler", chain.wholesaler),
            ("pharmacy", chain.pharmacy),
            ("other_pharmacy", chain.other_pharmacy),
            ("regulator", chain.regulator),
        )
    }
    assert statuses == {
        "anonymous": 401,
        "maker": 200,
        "wholesaler": 200,
        "pharmacy": 404,  # it received the batch later, in another shipment
        "other_pharmacy": 404,
        "regulator": 200,
    }
    hidden = export(chain, chain.pharmacy, maker, "D1").get_json()
    missing = export(chain, chain.pharmacy, maker, "NOPE").get_json()
    assert hidden["type"] == missing["type"] and hidden["status"] == missing["status"] == 404
    assert export(chain, chain.pharmacy, chain.wholesaler.gln, "W1").status_code == 200
    assert export(chain, chain.regulator, "not-a-gln", "D1").status_code == 404


def test_the_command_line_prints_the_document(tmp_path: Path) -> None:
    with live_server(tmp_path / "data", demo=True) as (server, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("supply",))
        key = tmp_path / "data" / "demo" / "medsupply.pem"
        args = ["dscsa-export", "--shipment", "D1001", "--sender", "5412345000013"]
        result = CliRunner().invoke(main, [*args, "--key", str(key), "--url", server])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    (event,) = parse_epcis_document(doc)
    assert event.biz_step == "shipping" and len(event.epc_list) == 10
