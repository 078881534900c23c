"""Who sees what of the supply chain: every route as every kind of reader, and what each reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

# The rules must not depend on SQL: every test here runs on SQLite and on PostgreSQL.
from tests.backends import app_on_each_backend  # noqa: F401  (the `app` fixture)
from tests.parties import Authority, PartyKey, read, register_party, signed
from tests.supply.chain import FUTURE, GTIN, JSON, LOT, WHOLESALER_GLN, Chain, full_chain

MAKER_GLN = "5412345000013"

#: Readers, in the order of the expected statuses below: nobody; the batch's manufacturer; the
#: wholesaler and the pharmacy it went through; a pharmacy and a manufacturer that never had it
#: (the pharmacy signed a scan of one of its packs); a regulator.
READERS = ("anonymous", "maker", "wholesaler", "pharmacy", "other_pharmacy", "rival", "regulator")
#: Readers that see the batch's custody, and those that see only the public facts.
HANDLERS = {"maker", "wholesaler", "pharmacy", "regulator"}
OUTSIDERS = {"anonymous", "other_pharmacy", "rival"}
#: Another batch: commissioned, and shipped to the wholesaler, who has not received it yet.
IN_TRANSIT = "LOT-B"


@dataclass
class Scene:
    chain: Chain
    rival: PartyKey
    serials: list[str]
    ship_index: int  # the maker's shipment of IN_TRANSIT to the wholesaler
    recall_index: int  # a recall of IN_TRANSIT by the regulator

    def party(self, reader: str) -> PartyKey | None:
        if reader == "anonymous":
            return None
        if reader == "rival":
            return self.rival
        party: PartyKey = getattr(self.chain, reader)
        return party

    def get(self, reader: str, url: str, **options: Any) -> Any:
        return read(self.chain.client, self.party(reader), url, **options)


@pytest.fixture
def scene(chain: Chain, client: FlaskClient, authority: Authority) -> Scene:
    serials = full_chain(chain)  # maker → wholesaler → pharmacy (the first three packs)
    batch = {"gtin": GTIN, "lot": LOT}
    chain.send(chain.pharmacy, "custody.dispense", {**batch, "serials": [serials[0]]})
    chain.send(chain.pharmacy, "pack.state", {**batch, "serials": [serials[1]], "state": "stolen"})
    chain.send(chain.other_pharmacy, "scan.record", {**batch, "serial": serials[2]})
    rival = register_party(client, authority, "Rival Pharma", "5412345000082", ["manufacturer"])
    chain.send(
        chain.maker,
        "batch.commission",
        {"gtin": GTIN, "lot": IN_TRANSIT, "expiry": "301231", "quantity": 10},
    )
    shipped = chain.send(
        chain.maker,
        "custody.ship",
        {
            "shipment": "T1",
            "gtin": GTIN,
            "lot": IN_TRANSIT,
            "to": chain.wholesaler.gln,
            "quantity": 2,
        },
    )
    recall = {"gtin": GTIN, "lot": IN_TRANSIT, "reason": "label misprint"}
    recalled = chain.send(chain.regulator, "batch.recall", recall)
    # A named EPCIS query of the maker's own: no other reader sees it.
    mine = {"name": "mine", "query": {"gtin": GTIN}}
    assert post_json(client, chain.maker, "/epcis/queries", mine).status_code == 201
    return Scene(chain, rival, serials, shipped["index"], recalled["index"])


def routes(serial: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every supply route with a read: its URL, and the status each reader gets."""
    everyone = (200,) * 7
    signed_in = (401, *(200,) * 6)
    handlers = (401, 200, 200, 200, 403, 403, 200)
    maker = (401, 200, 403, 403, 403, 403, 200)
    makers_own = (401, 200, 404, 404, 404, 404, 404)  # a named query is its party's alone
    code = quote(f"(01){GTIN}(10){LOT}(21){serial}")
    return {
        "resolve_batch": (f"/01/{GTIN}/10/{LOT}", everyone),
        "resolve_pack": (f"/01/{GTIN}/10/{LOT}/21/{serial}", everyone),
        "resolve_serial": (f"/01/{GTIN}/21/{serial}", everyone),
        "resolve_product": (f"/01/{GTIN}", everyone),
        "resolve_qualified": (f"/01/{GTIN}/22/V1/10/{LOT}", everyone),
        "resolve_short_names": (f"/gtin/{GTIN}/lot/{LOT}/ser/{serial}", everyone),
        "resolver_description": ("/.well-known/gs1resolver", everyone),
        # A verification answers only the party whose GLN it names as the requester.
        "dscsa": (
            f"/01/{GTIN}/10/{LOT}/21/{serial}?exp={FUTURE}&linkType=gs1:verificationService"
            f"&reqGLN={WHOLESALER_GLN}",
            (401, 403, 200, 403, 403, 403, 403),
        ),
        "scan_page": (f"/scan?code={code}", everyone),
        "scan_api": (f"/api/v1/scan?code={code}", everyone),
        "list_batches": ("/api/v1/batches", signed_in),
        "batch_json": (f"/api/v1/batches/{GTIN}/{LOT}", handlers),
        "batch_qr_png": (f"/api/v1/batches/{GTIN}/{LOT}/qr.png", maker),
        "batch_qr_svg": (f"/api/v1/batches/{GTIN}/{LOT}/qr.svg", maker),
        "label_sheet": (f"/labels/{GTIN}/{LOT}", maker),
        "list_alerts": ("/api/v1/alerts", signed_in),
        "epcis_events": ("/epcis/events", signed_in),
        # The REST binding's resources answer as /epcis/events does; an event the reader may
        # not read (or none) is 404 (tests/supply/test_epcis_rest.py reads them with events).
        "epcis_discovery": ("/epcis", signed_in),
        "epcis_event": ("/epcis/events/urn:uuid:0", (401, *(404,) * 6)),
        **{
            f"epcis_{name}": (f"/epcis/{name}", signed_in)
            for name in ("eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints")
        },
        "epcis_dispositions": ("/epcis/dispositions", signed_in),
        # A member no event the reader may read names is 404, to each reader alike.
        **{
            f"epcis_{name}_member": (f"/epcis/{name}/none", (401, *(404,) * 6))
            for name in ("eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints")
        },
        "epcis_dispositions_member": ("/epcis/dispositions/none", (401, *(404,) * 6)),
        "epcis_event_type_events": ("/epcis/eventTypes/ObjectEvent/events", signed_in),
        "epcis_epc_events": (
            f"/epcis/epcs/{quote(f'https://id.gs1.org/01/{GTIN}/21/{serial}', safe='')}/events",
            signed_in,
        ),
        "epcis_biz_step_events": ("/epcis/bizSteps/shipping/events", signed_in),
        "epcis_biz_location_events": (
            f"/epcis/bizLocations/{quote('urn:epc:id:sgln:5412345.00001.0', safe='')}/events",
            signed_in,
        ),
        "epcis_read_point_events": (
            f"/epcis/readPoints/{quote('https://id.gs1.org/414/5412345000013', safe='')}/events",
            signed_in,
        ),
        "epcis_disposition_events": ("/epcis/dispositions/in_transit/events", signed_in),
        # Each party lists its own capture jobs (tests/supply/test_epcis_capture_rest.py reads
        # one job as each reader).
        "capture_jobs": ("/epcis/capture", signed_in),
        "epcis_queries": ("/epcis/queries", signed_in),
        "epcis_named_query": ("/epcis/queries/mine", makers_own),
        "epcis_named_query_events": ("/epcis/queries/mine/events", makers_own),
        "epcis_subscriptions": ("/epcis/queries/mine/subscriptions", makers_own),
        # A shipment's DSCSA document: its sender and recipient, and regulators; to anyone else
        # the shipment does not exist.
        "shipment_dscsa": (
            f"/api/v1/shipments/{MAKER_GLN}/D1/dscsa",
            (401, 200, 200, 404, 404, 404, 200),
        ),
    }


@pytest.mark.parametrize("route", sorted(routes("S")))
def test_each_route_answers_each_reader(scene: Scene, route: str) -> None:
    url, expected = routes(scene.serials[3])[route]
    statuses = tuple(scene.get(reader, url, headers=JSON).status_code for reader in READERS)
    assert dict(zip(READERS, statuses, strict=True)) == dict(zip(READERS, expected, strict=True))


def post_json(client: FlaskClient, party: PartyKey | None, url: str, body: Any) -> Any:
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if party is not None:
        headers.update(signed(party, "POST", url, data))
    return client.post(url, data=data, headers=headers)


def test_each_reader_keeps_its_own_named_queries_and_subscriptions(scene: Scene) -> None:
    """The writes of the named-query routes, as every reader: each signed-in party (regulators
    too) makes, reads and deletes its own; anonymous requests are refused."""
    client = scene.chain.client
    for reader in READERS:
        party = scene.party(reader)
        made = post_json(client, party, "/epcis/queries", {"name": "q", "query": {}})
        if party is None:
            assert made.status_code == 401
            assert client.delete("/epcis/queries/mine").status_code == 401
            continue
        assert made.status_code == 201, reader
        body = {"dest": "https://hooks.example.com/epcis", "stream": True}
        subscribed = post_json(client, party, "/epcis/queries/q/subscriptions", body)
        assert subscribed.status_code == 201, reader
        one = subscribed.headers["Location"]
        assert scene.get(reader, one).status_code == 200
        assert client.delete(one, headers=signed(party, "DELETE", one)).status_code == 204
        query = "/epcis/queries/q"
        assert client.delete(query, headers=signed(party, "DELETE", query)).status_code == 204
        if reader != "maker":  # the maker's query is not another reader's to delete
            theirs = "/epcis/queries/mine"
            deleted = client.delete(theirs, headers=signed(party, "DELETE", theirs))
            assert deleted.status_code == 404, reader
    assert scene.get("maker", "/epcis/queries/mine").status_code == 200


def test_no_such_batch_is_401_to_anonymous_and_404_to_a_party(scene: Scene) -> None:
    for url in (f"/api/v1/batches/{GTIN}/NOPE", f"/labels/{GTIN}/NOPE"):
        assert scene.get("anonymous", url).status_code == 401
        assert scene.get("other_pharmacy", url).status_code == 404


PUBLIC_ANSWER = {"verdict", "title", "reasons", "view", "gtin", "lot", "serial", "digital_link"}


@pytest.mark.parametrize("reader", READERS)
def test_the_verdict_shows_custody_only_to_handlers(scene: Scene, reader: str) -> None:
    dispensed, stolen = scene.serials[:2]
    url = f"/01/{GTIN}/10/{LOT}/21/{dispensed}"
    answer = scene.get(reader, url, headers=JSON).get_json()
    dispensed_on = scene.get("regulator", url, headers=JSON).get_json()["pack"]["state_at"][:10]
    assert answer["verdict"] == "dispensed"
    assert answer["product"]["name"] == "Amoxicillin"
    assert answer["product"]["manufacturer_name"] == "Acme Pharma"
    assert answer["batch"]["expiry"] == "301231" and answer["batch"]["status"] == "active"
    pharmacy = scene.chain.pharmacy.gln
    suspect = scene.get(reader, f"/01/{GTIN}/10/{LOT}/21/{stolen}", headers=JSON).get_json()
    if reader in HANDLERS:
        assert answer["view"] == "full"
        assert [e["action"] for e in answer["timeline"]][:3] == ["commission", "ship", "receive"]
        assert answer["pack"]["holder"] == pharmacy and answer["holdings"]
        assert pharmacy in answer["reasons"][0]  # who dispensed it
        assert suspect["reasons"] == [f"pack {stolen} is stolen (set by {pharmacy})"]
    else:
        assert answer["view"] == "public"
        assert set(answer) == PUBLIC_ANSWER | {"product", "batch"}
        assert set(answer["batch"]) == {"expiry", "status", "recall_reason"}
        assert answer["reasons"] == [f"pack {dispensed} was already dispensed, on {dispensed_on}"]
        assert suspect["reasons"] == [f"pack {stolen} is stolen"]


def test_the_public_page_names_only_the_manufacturer(scene: Scene) -> None:
    url = f"/01/{GTIN}/10/{LOT}/21/{scene.serials[3]}"
    public = scene.get("other_pharmacy", url).get_data(as_text=True)
    assert 'data-verdict="authentic"' in public and "Acme Pharma" in public
    assert 'id="timeline"' not in public and 'id="public-view"' in public
    shown = public.split('<main id="main"', 1)[1]  # the site header names the reader itself
    for name in ("MedSupply", "City Pharmacy", "Town Pharmacy", scene.chain.pharmacy.gln):
        assert name not in shown
    full = scene.get("pharmacy", url).get_data(as_text=True)
    assert 'id="timeline"' in full and "MedSupply" in full and 'id="public-view"' not in full
    scanned = scene.get("anonymous", routes(scene.serials[3])["scan_page"][0])
    assert 'id="timeline"' not in scanned.get_data(as_text=True)


def test_a_scan_answers_as_the_resolver_does(scene: Scene) -> None:
    url = routes(scene.serials[3])["scan_api"][0]
    assert "timeline" not in scene.get("anonymous", url).get_json()
    assert scene.get("wholesaler", url).get_json()["view"] == "full"
    # A shared cache may not hand one reader's answer to another.
    answer = scene.get("wholesaler", url)
    assert "Signature" in answer.vary and answer.headers["Cache-Control"] == "private, no-store"


def test_a_recall_is_public(scene: Scene) -> None:
    answer = scene.get("anonymous", f"/01/{GTIN}/10/{IN_TRANSIT}", headers=JSON).get_json()
    assert (answer["verdict"], answer["batch"]["recall_reason"]) == ("recalled", "label misprint")
    assert answer["reasons"] == ["batch recalled: label misprint"]


def test_each_party_lists_the_batches_it_handled(scene: Scene) -> None:
    def lots(reader: str) -> list[str]:
        return [b["lot"] for b in scene.get(reader, "/api/v1/batches").get_json()["batches"]]

    # Shipped the second batch and not yet received it, the wholesaler handles it already.
    assert lots("maker") == lots("wholesaler") == lots("regulator") == [IN_TRANSIT, LOT]
    assert lots("pharmacy") == [LOT]
    assert lots("other_pharmacy") == lots("rival") == []  # a signed scan handles nothing
    in_transit = f"/api/v1/batches/{GTIN}/{IN_TRANSIT}"
    assert [scene.get(r, in_transit).status_code for r in ("wholesaler", "pharmacy")] == [200, 403]


def test_each_party_lists_the_alerts_raised_at_it(scene: Scene) -> None:
    def kinds(reader: str) -> list[str]:
        return [a["kind"] for a in scene.get(reader, "/api/v1/alerts").get_json()["alerts"]]

    assert kinds("other_pharmacy") == ["never-received"]
    assert kinds("maker") == kinds("pharmacy") == kinds("rival") == []
    assert kinds("regulator") == ["never-received"]


@pytest.mark.parametrize("path", ["/api/v1/log/entries/{}", "/log/receipt/{}"])
def test_a_supply_entry_is_read_by_its_signer_the_parties_it_names_and_regulators(
    scene: Scene, path: str
) -> None:
    shipment = path.format(scene.ship_index)
    statuses = {reader: scene.get(reader, shipment).status_code for reader in READERS}
    assert statuses == {
        "anonymous": 401,
        "maker": 200,  # it signed the shipment
        "wholesaler": 200,  # the shipment names it
        "pharmacy": 403,
        "other_pharmacy": 403,
        "rival": 403,
        "regulator": 200,
    }
    # A recall is for everyone.
    recall = path.format(scene.recall_index)
    assert {scene.get(reader, recall).status_code for reader in READERS} == {200}


def test_the_front_page_lists_each_reader_the_batches_it_handled(scene: Scene) -> None:
    for reader in READERS:
        page = scene.get(reader, "/").get_data(as_text=True)
        assert ('id="batches"' in page) == (reader in HANDLERS), reader
        # The second lot went from the maker to the wholesaler, never to the pharmacy.
        assert (IN_TRANSIT in page) == (reader in {"maker", "wholesaler", "regulator"}), reader
