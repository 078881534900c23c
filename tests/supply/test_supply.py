"""Supply-chain statements over the API: every operation, every refusal, conservation, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from provenance.log.statements import format_timestamp
from tests.parties import Authority, post, read, register_party
from tests.supply.chain import (
    FUTURE,
    GTIN,
    JSON,
    LOT,
    NDC_GTIN,
    Chain,
    commission_serialised,
    full_chain,
)


def test_full_chain_moves_custody_and_conserves(chain: Chain) -> None:
    serials = full_chain(chain)
    chain.send(
        chain.pharmacy, "custody.dispense", {"gtin": GTIN, "lot": LOT, "serials": [serials[0]]}
    )
    batch = chain.batch()["batch"]
    assert (batch["commissioned"], batch["held"], batch["in_transit"], batch["dispensed"]) == (
        5,
        4,
        0,
        1,
    )
    assert batch["conserved"]
    holdings = {h["gln"]: h["quantity"] for h in chain.batch()["holdings"]}
    assert holdings == {chain.wholesaler.gln: 2, chain.pharmacy.gln: 2}
    actions = [e["action"] for e in chain.batch()["timeline"]]
    assert actions == ["commission", "ship", "receive", "ship", "receive", "dispense"]
    assert chain.pack(serials[0])["verdict"] == "dispensed"
    assert chain.pack(serials[1])["verdict"] == "authentic"
    assert chain.pack("NEVER-MADE")["verdict"] == "unknown"


def test_ship_more_than_held_is_409_and_writes_nothing(chain: Chain) -> None:
    chain.send(
        chain.maker,
        "batch.commission",
        {"gtin": GTIN, "lot": "BULK", "expiry": FUTURE, "quantity": 10},
    )
    size = chain.client.get("/api/v1/log").get_json()["size"]
    problem = chain.send(
        chain.maker,
        "custody.ship",
        {"shipment": "X", "gtin": GTIN, "lot": "BULK", "to": chain.wholesaler.gln, "quantity": 11},
        status=409,
    )
    assert problem["held"] == 10 and problem["requested"] == 11
    assert chain.client.get("/api/v1/log").get_json()["size"] == size
    # A party that holds none of it cannot ship it either.
    chain.send(
        chain.wholesaler,
        "custody.ship",
        {"shipment": "Y", "gtin": GTIN, "lot": "BULK", "to": chain.pharmacy.gln, "quantity": 1},
        status=409,
    )
    assert chain.batch("BULK")["batch"]["held"] == 10


def test_partial_receipt_records_a_discrepancy(chain: Chain) -> None:
    chain.send(
        chain.maker,
        "batch.commission",
        {"gtin": GTIN, "lot": "BULK", "expiry": FUTURE, "quantity": 10},
    )
    chain.send(
        chain.maker,
        "custody.ship",
        {"shipment": "S", "gtin": GTIN, "lot": "BULK", "to": chain.wholesaler.gln, "quantity": 8},
    )
    assert chain.batch("BULK")["batch"]["in_transit"] == 8
    chain.send(
        chain.wholesaler,
        "custody.receive",
        {"from": chain.maker.gln, "shipment": "S", "quantity": 6},
    )
    batch = chain.batch("BULK")
    assert (batch["batch"]["held"], batch["batch"]["in_transit"]) == (8, 2)
    assert batch["batch"]["conserved"]
    assert [a["kind"] for a in batch["alerts"]] == ["receipt-discrepancy"]
    # Received once: a second receipt of the same shipment is refused.
    chain.send(
        chain.wholesaler,
        "custody.receive",
        {"from": chain.maker.gln, "shipment": "S", "quantity": 2},
        status=409,
    )


def test_only_the_addressee_receives(chain: Chain) -> None:
    serials = commission_serialised(chain)
    chain.send(
        chain.maker,
        "custody.ship",
        {
            "shipment": "D1",
            "gtin": GTIN,
            "lot": LOT,
            "to": chain.wholesaler.gln,
            "serials": serials,
        },
    )
    chain.send(
        chain.pharmacy,
        "custody.receive",
        {"from": chain.maker.gln, "shipment": "D1", "serials": serials},
        status=409,
    )
    chain.send(
        chain.wholesaler,
        "custody.receive",
        {"from": chain.maker.gln, "shipment": "D1", "serials": ["NOT-IN-IT"]},
        status=409,
    )


def test_commissioning_rules(chain: Chain) -> None:
    base = {"gtin": GTIN, "lot": "L2", "expiry": FUTURE, "quantity": 3}
    chain.send(chain.wholesaler, "batch.commission", base, status=403)  # role
    chain.send(chain.maker, "batch.commission", {**base, "gtin": "09506000134353"}, status=422)
    chain.send(chain.maker, "batch.commission", {**base, "expiry": "301332"}, status=422)
    chain.send(chain.maker, "batch.commission", {**base, "lot": "x" * 21}, status=422)
    chain.send(chain.maker, "batch.commission", {**base, "serials": ["A", "A", "B"]}, status=422)
    chain.send(
        chain.maker, "batch.commission", {**base, "gtin": NDC_GTIN}, status=409
    )  # no product
    chain.send(chain.maker, "batch.commission", base)
    chain.send(chain.maker, "batch.commission", base, status=409)


def test_another_manufacturer_cannot_commission_my_product(
    chain: Chain, authority: Authority
) -> None:
    rival = register_party(chain.client, authority, "Rival", "5412345000082", ["manufacturer"])
    chain.send(
        rival,
        "batch.commission",
        {"gtin": GTIN, "lot": "FAKE", "expiry": FUTURE, "quantity": 1},
        status=403,
    )


def test_product_with_ndc(chain: Chain) -> None:
    body = {
        "gtin": NDC_GTIN,
        "name": "X",
        "form": "tablet",
        "strength": "5 mg",
        "ndc": "0777-3105-02",
    }
    chain.send(chain.maker, "product.register", {**body, "ndc": "0777-3105-03"}, status=422)
    chain.send(chain.maker, "product.register", body)
    chain.send(chain.maker, "product.register", body | {"name": "Y"}, status=409)


def test_recall_makes_verdict_recalled_and_blocks_shipping(chain: Chain) -> None:
    serials = commission_serialised(chain)
    chain.send(
        chain.wholesaler, "batch.recall", {"gtin": GTIN, "lot": LOT, "reason": "x"}, status=403
    )
    chain.send(
        chain.regulator, "batch.recall", {"gtin": GTIN, "lot": LOT, "reason": "contamination"}
    )
    chain.send(
        chain.maker, "batch.recall", {"gtin": GTIN, "lot": LOT, "reason": "again"}, status=409
    )
    assert chain.pack(serials[0])["verdict"] == "recalled"
    chain.send(
        chain.maker,
        "custody.ship",
        {"shipment": "R", "gtin": GTIN, "lot": LOT, "to": chain.wholesaler.gln, "serials": serials},
        status=409,
    )


def test_expired_batch_verdict_and_no_dispense(chain: Chain) -> None:
    serials = commission_serialised(chain, lot="OLD", expiry="200100")
    assert chain.pack(serials[0], lot="OLD")["verdict"] == "expired"
    chain.send(
        chain.maker,
        "custody.ship",
        {
            "shipment": "E",
            "gtin": GTIN,
            "lot": "OLD",
            "to": chain.wholesaler.gln,
            "serials": serials[:1],
        },
    )
    chain.send(
        chain.wholesaler,
        "custody.receive",
        {"from": chain.maker.gln, "shipment": "E", "serials": serials[:1]},
    )
    chain.send(
        chain.wholesaler,
        "custody.ship",
        {
            "shipment": "E2",
            "gtin": GTIN,
            "lot": "OLD",
            "to": chain.pharmacy.gln,
            "serials": serials[:1],
        },
    )
    chain.send(
        chain.pharmacy,
        "custody.receive",
        {"from": chain.wholesaler.gln, "shipment": "E2", "serials": serials[:1]},
    )
    problem = chain.send(
        chain.pharmacy,
        "custody.dispense",
        {"gtin": GTIN, "lot": "OLD", "serials": serials[:1]},
        status=409,
    )
    assert "expired on 2020-01-31" in problem["detail"]


def test_duplicate_serial_dispense_raises_alert(chain: Chain) -> None:
    serials = full_chain(chain)
    body = {"gtin": GTIN, "lot": LOT, "serials": [serials[0]]}
    chain.send(chain.pharmacy, "custody.dispense", body)
    # Re-signed later (a different statement): logged as an attempt, raising an alert.
    later = format_timestamp(datetime.now(UTC) + timedelta(seconds=1))
    response = post(chain.client, chain.pharmacy.envelope("custody.dispense", body, later))
    assert response.status_code == 201
    alerts = chain.alerts(chain.pharmacy)
    assert [a["kind"] for a in alerts] == ["duplicate-serial"]
    assert chain.batch()["batch"]["dispensed"] == 1


def test_scan_records_alerts(chain: Chain) -> None:
    serials = full_chain(chain)
    chain.send(
        chain.other_pharmacy, "scan.record", {"gtin": GTIN, "lot": LOT, "serial": serials[0]}
    )
    chain.send(
        chain.pharmacy,
        "scan.record",
        {"gtin": GTIN, "lot": LOT, "serial": serials[1], "expiry": "301130"},
    )
    chain.send(chain.pharmacy, "scan.record", {"gtin": GTIN, "lot": LOT, "serial": "FORGED-1"})
    chain.send(chain.pharmacy, "scan.record", {"gtin": GTIN, "lot": "NOLOT"})
    chain.send(chain.pharmacy, "scan.record", {"gtin": NDC_GTIN})
    kinds = sorted(a["kind"] for a in chain.alerts(chain.regulator))
    assert kinds == [
        "expiry-mismatch",
        "never-received",
        "unknown-batch",
        "unknown-product",
        "unknown-serial",
    ]
    # Each pharmacy reads the alerts raised at it; the wholesaler had none.
    assert [a["kind"] for a in chain.alerts(chain.other_pharmacy)] == ["never-received"]
    assert len(chain.alerts(chain.pharmacy)) == 4 and chain.alerts(chain.wholesaler) == []
    assert chain.pack(serials[1], **{"17": "301130"})["verdict"] == "suspect"


def test_a_signed_scan_and_the_resolver_agree(chain: Chain) -> None:
    serials = full_chain(chain)  # the pharmacy holds the first three packs
    batch = {"gtin": GTIN, "lot": LOT}
    chain.send(chain.pharmacy, "custody.dispense", {**batch, "serials": [serials[0]]})
    chain.send(chain.pharmacy, "pack.state", {**batch, "serials": [serials[1]], "state": "locked"})
    verdicts = {}
    for serial in [*serials[:3], "FORGED-1"]:
        chain.send(chain.pharmacy, "scan.record", {"gtin": GTIN, "lot": LOT, "serial": serial})
        found = chain.pack(serial, reader=chain.pharmacy)
        signed = [event for event in found["timeline"] if event["action"] == "scan"][-1]
        assert signed["detail"] == found["verdict"], serial  # the verdict the scan recorded
        verdicts[serial] = found["verdict"]
    assert list(verdicts.values()) == ["dispensed", "suspect", "authentic", "unknown"]


def test_alert_resolution(chain: Chain) -> None:
    full_chain(chain)
    chain.send(chain.pharmacy, "scan.record", {"gtin": GTIN, "lot": LOT, "serial": "FORGED-1"})
    alert = chain.alerts(chain.pharmacy, open="1")[0]
    chain.send(
        chain.wholesaler, "alert.resolve", {"alert": alert["id"], "resolution": "x"}, status=403
    )
    chain.send(
        chain.regulator, "alert.resolve", {"alert": alert["id"], "resolution": "counterfeit seized"}
    )
    chain.send(
        chain.pharmacy, "alert.resolve", {"alert": alert["id"], "resolution": "again"}, status=409
    )
    assert chain.alerts(chain.pharmacy, open="1") == []
    assert chain.alerts(chain.pharmacy)[0]["resolution"] == "counterfeit seized"


def test_pack_states_and_undo_rules(chain: Chain) -> None:
    serials = full_chain(chain)
    state = {"gtin": GTIN, "lot": LOT, "serials": [serials[1]]}
    chain.send(chain.pharmacy, "pack.state", {**state, "state": "locked"})
    assert chain.pack(serials[1])["verdict"] == "suspect"
    chain.send(
        chain.pharmacy,
        "custody.dispense",
        {"gtin": GTIN, "lot": LOT, "serials": [serials[1]]},
        status=409,
    )
    chain.send(
        chain.wholesaler, "pack.state", {**state, "state": "active"}, status=409
    )  # other location
    chain.send(chain.pharmacy, "pack.state", {**state, "state": "active"})
    assert chain.pack(serials[1])["verdict"] == "authentic"
    chain.send(chain.pharmacy, "pack.state", {**state, "state": "stolen"})
    chain.send(
        chain.pharmacy, "pack.state", {**state, "state": "active"}, status=409
    )  # not undoable
    chain.send(chain.pharmacy, "pack.state", {**state, "state": "bogus"}, status=422)
    # Undo a supply: the pack returns to the pharmacy's stock.
    chain.send(
        chain.pharmacy, "custody.dispense", {"gtin": GTIN, "lot": LOT, "serials": [serials[2]]}
    )
    chain.send(
        chain.pharmacy,
        "pack.state",
        {"gtin": GTIN, "lot": LOT, "serials": [serials[2]], "state": "active"},
    )
    batch = chain.batch()["batch"]
    assert batch["dispensed"] == 0 and batch["conserved"]


def test_undo_after_ten_days_is_refused(chain: Chain, app: Flask) -> None:
    from provenance.log.errors import Conflict
    from provenance.log.ledger import Ledger
    from provenance.log.store.projection import MemoryView
    from provenance.supply.custody import set_pack_state, undo_pack_state
    from provenance.supply.tables import KEYS

    view = MemoryView(KEYS)
    ledger = Ledger(view, 5, "2026-01-01T00:00:00.000Z", "k")
    pack = {"serial": "S", "state": "active", "undo_state": None, "state_by": "A", "state_at": ""}
    ledger.put("pack", {"gtin": GTIN, **pack})
    set_pack_state(ledger, pack | {"gtin": GTIN}, "locked", "A")
    locked = ledger.get("pack", GTIN, "S")
    assert locked is not None and locked["state"] == "locked"
    late = Ledger(view, 6, "2026-01-11T00:00:01.000Z", "k")
    with pytest.raises(Conflict, match="more than 10 days"):
        undo_pack_state(late, dict(locked), "A")
    in_time = Ledger(view, 6, "2026-01-10T23:59:59.000Z", "k")
    assert undo_pack_state(in_time, dict(locked), "A") == "locked"


def test_destroy_and_return(chain: Chain) -> None:
    serials = full_chain(chain)
    chain.send(
        chain.pharmacy,
        "custody.return",
        {
            "shipment": "RET1",
            "gtin": GTIN,
            "lot": LOT,
            "to": chain.maker.gln,
            "serials": [serials[0]],
        },
        status=422,
    )
    chain.send(
        chain.pharmacy,
        "custody.return",
        {
            "shipment": "RET1",
            "gtin": GTIN,
            "lot": LOT,
            "to": chain.wholesaler.gln,
            "serials": [serials[0]],
        },
    )
    chain.send(
        chain.wholesaler,
        "custody.receive",
        {"from": chain.pharmacy.gln, "shipment": "RET1", "serials": [serials[0]]},
    )
    chain.send(
        chain.wholesaler,
        "custody.destroy",
        {"gtin": GTIN, "lot": LOT, "serials": serials[3:], "reason": "damaged"},
    )
    batch = chain.batch()["batch"]
    assert (batch["held"], batch["destroyed"], batch["conserved"]) == (3, 2, True)
    assert chain.pack(serials[3])["verdict"] == "suspect"  # destroyed pack scanned


def test_body_shape_errors_are_422(chain: Chain) -> None:
    commission_serialised(chain)
    chain.send(
        chain.maker,
        "custody.ship",
        {"gtin": GTIN, "lot": LOT, "to": chain.wholesaler.gln, "serials": ["SLOT-A1-0"]},
        status=422,
    )  # no shipment id
    chain.send(
        chain.maker,
        "custody.ship",
        {"shipment": "Z", "gtin": GTIN, "lot": LOT, "to": chain.wholesaler.gln, "quantity": 2},
        status=422,
    )  # serialised: name serials
    chain.send(
        chain.maker,
        "custody.ship",
        {
            "shipment": "Z",
            "gtin": GTIN,
            "lot": LOT,
            "to": "5412345000099",
            "serials": ["SLOT-A1-0"],
        },
        status=409,
    )  # unregistered
    chain.send(
        chain.maker,
        "custody.ship",
        {
            "shipment": "Z",
            "gtin": GTIN,
            "lot": LOT,
            "to": chain.maker.gln,
            "serials": ["SLOT-A1-0"],
        },
        status=422,
    )  # to itself
    chain.send(
        chain.maker,
        "custody.ship",
        {
            "shipment": "Z",
            "gtin": GTIN,
            "lot": LOT,
            "to": chain.wholesaler.gln,
            "serials": ["SLOT-A1-0"],
            "extra": 1,
        },
        status=422,
    )


def test_resolver_html_and_bad_identifiers(chain: Chain) -> None:
    serials = commission_serialised(chain)
    page = chain.client.get(f"/01/{GTIN}/10/{LOT}/21/{serials[0]}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and b'data-verdict="authentic"' in page.data
    assert b"/log/receipt/" in page.data and b"Acme Pharma" in page.data
    bad = chain.client.get(f"/01/{GTIN[:-1]}9/10/{LOT}", headers={"Accept": "application/json"})
    # Not a GS1 Digital Link URI (a wrong check digit): the request is malformed.
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"
    assert bad.get_json()["type"].endswith("/bad-digital-link")
    # GTIN-13 in the path is padded to GTIN-14.
    short = chain.client.get(f"/01/{GTIN[1:]}/10/{LOT}", headers={"Accept": "application/json"})
    assert short.get_json()["gtin"] == GTIN


def test_qr_and_label_sheet(chain: Chain) -> None:
    import io

    import zxingcpp
    from PIL import Image

    serials = commission_serialised(chain, count=2)
    png = read(chain.client, chain.maker, f"/api/v1/batches/{GTIN}/{LOT}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)).convert("L"))
    assert decoded.text == f"http://127.0.0.1:8000/01/{GTIN}/10/{LOT}"  # the default PUBLIC_URL
    resolved = chain.client.get(decoded.text.removeprefix("http://127.0.0.1:8000"), headers=JSON)
    assert resolved.get_json()["verdict"] == "authentic"
    svg = read(chain.client, chain.maker, f"/api/v1/batches/{GTIN}/{LOT}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert read(chain.client, chain.maker, f"/api/v1/batches/{GTIN}/NOPE/qr.png").status_code == 404
    sheet = read(chain.client, chain.maker, f"/labels/{GTIN}/{LOT}")
    assert sheet.status_code == 200 and sheet.data.count(b'class="label"') == 2
    assert serials[1].encode() in sheet.data


def test_scan_api_accepts_every_form(chain: Chain) -> None:
    serials = commission_serialised(chain)
    forms = [
        f"(01){GTIN}(17){FUTURE}(10){LOT}(21){serials[0]}",
        f"]d201{GTIN}17{FUTURE}10{LOT}\x1d21{serials[0]}",
        f"http://localhost/01/{GTIN}/10/{LOT}/21/{serials[0]}?17={FUTURE}",
    ]
    for code in forms:
        body = chain.client.get("/api/v1/scan", query_string={"code": code}).get_json()
        assert (body["verdict"], body["serial"]) == ("authentic", serials[0]), code
    bad = chain.client.get("/api/v1/scan", query_string={"code": "hello"})
    assert bad.status_code == 422
