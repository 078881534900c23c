"""Custody exceptions over the API: late remainders of short shipments, recall returns,
write-offs; their refusals write nothing, conservation holds, a rebuild replays them."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.parties import PartyKey, read
from tests.supply.chain import FUTURE, GTIN, LOT, Chain, commission_serialised

BATCH = {"gtin": GTIN, "lot": LOT}


def log_size(client: FlaskClient) -> int:
    return int(client.get("/api/v1/log").get_json()["size"])


def refused(chain: Chain, party: PartyKey, kind: str, body: dict[str, Any], status: int) -> Any:
    """Send a statement that must be refused with `status`; nothing may reach the log."""
    size = log_size(chain.client)
    problem = chain.send(party, kind, body, status)
    assert log_size(chain.client) == size
    return problem


def counts(chain: Chain, lot: str = LOT) -> dict[str, Any]:
    batch = chain.batch(lot)["batch"]
    assert batch["conserved"], batch
    return batch


def assert_rebuild_identical(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "identical to the projection it replaced" in result.output


def short_shipment(chain: Chain) -> list[str]:
    """Five serialised packs shipped to the wholesaler, who receives three."""
    serials = commission_serialised(chain)
    chain.send(
        chain.maker,
        "custody.ship",
        {"shipment": "D1", **BATCH, "to": chain.wholesaler.gln, "serials": serials},
    )
    receipt = {"from": chain.maker.gln, "shipment": "D1", "serials": serials[:3]}
    chain.send(chain.wholesaler, "custody.receive", receipt)
    return serials


def short_alert(chain: Chain) -> Any:
    (alert,) = [a for a in chain.alerts(chain.wholesaler) if a["kind"] == "receipt-discrepancy"]
    return alert


def test_the_rest_of_a_short_shipment_arrives_late(chain: Chain, app: Flask) -> None:
    serials = short_shipment(chain)
    assert counts(chain)["in_transit"] == 2
    late = {"from": chain.maker.gln, "shipment": "D1"}
    chain.send(chain.wholesaler, "custody.receive-remainder", {**late, "serials": [serials[3]]})
    batch = counts(chain)
    assert (batch["held"], batch["in_transit"]) == (4, 1)
    assert chain.pack(serials[3])["pack"]["holder"] == chain.wholesaler.gln
    alert = short_alert(chain)
    assert alert["resolved_index"] is None and "1 still short" in alert["detail"]
    chain.send(chain.wholesaler, "custody.receive-remainder", {**late, "serials": [serials[4]]})
    batch = counts(chain)
    assert (batch["held"], batch["in_transit"]) == (5, 0)
    alert = short_alert(chain)
    assert alert["resolved_index"] is not None
    assert alert["resolution"] == "the rest of the shipment was received"
    actions = [e["action"] for e in chain.batch()["timeline"]]
    assert actions[-2:] == ["receive-remainder", "receive-remainder"]
    assert_rebuild_identical(app)


def test_a_late_receipt_is_refused_unless_it_takes_what_is_in_transit(chain: Chain) -> None:
    serials = short_shipment(chain)
    late = {"from": chain.maker.gln, "shipment": "D1"}
    kind = "custody.receive-remainder"
    wrong_party = refused(chain, chain.pharmacy, kind, {**late, "serials": [serials[3]]}, 403)
    assert "addressed to" in wrong_party["detail"]
    already = refused(chain, chain.wholesaler, kind, {**late, "serials": [serials[0]]}, 409)
    assert serials[0] in already["detail"]
    refused(chain, chain.wholesaler, kind, {**late, "serials": ["NOPE"]}, 409)
    refused(chain, chain.wholesaler, kind, {**late, "quantity": 2}, 422)  # name the serials
    unknown = {"from": chain.maker.gln, "shipment": "D9", "serials": [serials[3]]}
    refused(chain, chain.wholesaler, kind, unknown, 409)
    missing_member = refused(
        chain, chain.wholesaler, kind, {"shipment": "D1", "serials": [serials[3]]}, 422
    )
    assert missing_member["missing"] == ["from"]
    chain.send(chain.wholesaler, kind, {**late, "serials": serials[3:]})
    refused(chain, chain.wholesaler, kind, {**late, "serials": [serials[4]]}, 409)  # received
    assert counts(chain)["in_transit"] == 0


def test_a_shipment_not_yet_received_needs_custody_receive(chain: Chain) -> None:
    serials = commission_serialised(chain)
    ship = {"shipment": "D1", **BATCH, "to": chain.wholesaler.gln, "serials": serials}
    chain.send(chain.maker, "custody.ship", ship)
    late = {"from": chain.maker.gln, "shipment": "D1", "serials": serials}
    problem = refused(chain, chain.wholesaler, "custody.receive-remainder", late, 409)
    assert "custody.receive" in problem["detail"]


def test_a_late_count_after_the_alert_was_resolved(chain: Chain, app: Flask) -> None:
    lot = "LOT-B2"
    chain.send(
        chain.maker,
        "batch.commission",
        {"gtin": GTIN, "lot": lot, "expiry": FUTURE, "quantity": 10},
    )
    ship = {"shipment": "B1", "gtin": GTIN, "lot": lot, "to": chain.wholesaler.gln, "quantity": 10}
    chain.send(chain.maker, "custody.ship", ship)
    receipt = {"from": chain.maker.gln, "shipment": "B1", "quantity": 6}
    chain.send(chain.wholesaler, "custody.receive", receipt)
    alert = short_alert(chain)
    resolution = {"alert": alert["id"], "resolution": "carrier lost a carton"}
    chain.send(chain.wholesaler, "alert.resolve", resolution)
    late = {"from": chain.maker.gln, "shipment": "B1"}
    too_many = refused(
        chain, chain.wholesaler, "custody.receive-remainder", {**late, "quantity": 5}, 409
    )
    assert "4 of shipment B1 are in transit" in too_many["detail"]
    chain.send(chain.wholesaler, "custody.receive-remainder", {**late, "quantity": 4})
    batch = counts(chain, lot)
    assert (batch["held"], batch["in_transit"]) == (4 + 6, 0)
    assert short_alert(chain)["resolution"] == "carrier lost a carton"  # a resolution stands
    assert_rebuild_identical(app)


def received_by_wholesaler(chain: Chain) -> list[str]:
    serials = commission_serialised(chain)
    ship = {"shipment": "D1", **BATCH, "to": chain.wholesaler.gln, "serials": serials}
    chain.send(chain.maker, "custody.ship", ship)
    receipt = {"from": chain.maker.gln, "shipment": "D1", "serials": serials}
    chain.send(chain.wholesaler, "custody.receive", receipt)
    return serials


def test_recalled_packs_go_back_to_the_manufacturer(chain: Chain, app: Flask) -> None:
    serials = received_by_wholesaler(chain)
    back = {"shipment": "R1", **BATCH, "to": chain.maker.gln, "serials": serials[:2]}
    chain.send(chain.maker, "batch.recall", {**BATCH, "reason": "contamination"})
    sent = chain.send(chain.wholesaler, "custody.recall-return", back)
    assert counts(chain)["in_transit"] == 2
    # The manufacturer, named by `to`, reads the entry; an unrelated party does not.
    entry = f"/api/v1/log/entries/{sent['index']}"
    assert read(chain.client, chain.maker, entry).status_code == 200
    assert read(chain.client, chain.other_pharmacy, entry).status_code in (403, 404)
    receipt = {"from": chain.wholesaler.gln, "shipment": "R1", "serials": serials[:2]}
    chain.send(chain.maker, "custody.receive", receipt)
    batch = counts(chain)
    holdings = {h["gln"]: h["quantity"] for h in chain.batch()["holdings"]}
    assert holdings == {chain.maker.gln: 2, chain.wholesaler.gln: 3}
    # Quarantined: a recalled batch is not shipped on, only destroyed.
    onward = {"shipment": "X1", **BATCH, "to": chain.wholesaler.gln, "serials": serials[:1]}
    refused(chain, chain.maker, "custody.ship", onward, 409)
    destroy = {**BATCH, "serials": serials[:2], "reason": "recall"}
    chain.send(chain.maker, "custody.destroy", destroy)
    batch = counts(chain)
    assert (batch["held"], batch["destroyed"]) == (3, 2)
    assert "recall-return" in [e["action"] for e in chain.batch()["timeline"]]
    assert_rebuild_identical(app)


def test_recall_returns_are_refused_off_the_rules(chain: Chain) -> None:
    serials = received_by_wholesaler(chain)
    back = {"shipment": "R1", **BATCH, "to": chain.maker.gln, "serials": serials[:2]}
    kind = "custody.recall-return"
    not_recalled = refused(chain, chain.wholesaler, kind, back, 409)
    assert "not recalled" in not_recalled["detail"]
    chain.send(chain.maker, "batch.recall", {**BATCH, "reason": "contamination"})
    to_pharmacy = refused(chain, chain.wholesaler, kind, {**back, "to": chain.pharmacy.gln}, 422)
    assert "body.to" in to_pharmacy["detail"]
    refused(chain, chain.maker, kind, back, 403)  # the manufacturer returns nothing to itself
    refused(chain, chain.pharmacy, kind, back, 409)  # holds none of them
    refused(chain, chain.wholesaler, "custody.ship", {**back, "to": chain.pharmacy.gln}, 409)
    assert counts(chain)["in_transit"] == 0


def test_written_off_packs_leave_the_holding_and_are_suspect(chain: Chain, app: Flask) -> None:
    serials = received_by_wholesaler(chain)
    write_off = {
        **BATCH,
        "serials": [serials[0]],
        "reason": "lost",
        "note": "not found at stocktake",
    }
    sent = chain.send(chain.wholesaler, "custody.write-off", write_off)
    chain.send(
        chain.wholesaler, "pack.state", {**BATCH, "serials": [serials[1]], "state": "stolen"}
    )
    batch = counts(chain)
    assert (batch["held"], batch["written_off"]) == (4, 1)  # a stolen pack is still counted held
    lost, stolen = chain.pack(serials[0]), chain.pack(serials[1])
    assert (lost["verdict"], lost["pack"]["state"]) == ("suspect", "written-off")
    assert (stolen["verdict"], stolen["pack"]["state"]) == ("suspect", "stolen")
    assert any("written-off" in reason for reason in lost["reasons"])
    # Nobody else reads the write-off: it names no counterparty.
    entry = f"/api/v1/log/entries/{sent['index']}"
    assert read(chain.client, chain.regulator, entry).status_code == 200
    assert read(chain.client, chain.maker, entry).status_code in (403, 404)
    assert_rebuild_identical(app)


def test_write_offs_are_refused_beyond_the_holding(chain: Chain) -> None:
    serials = received_by_wholesaler(chain)
    kind = "custody.write-off"
    stolen = {**BATCH, "serials": [serials[1]], "state": "stolen"}
    chain.send(chain.wholesaler, "pack.state", stolen)
    body = {**BATCH, "serials": [serials[1]], "reason": "lost"}
    refused(chain, chain.wholesaler, kind, body, 409)  # stolen stays stolen
    refused(chain, chain.pharmacy, kind, {**body, "serials": [serials[2]]}, 409)  # not its pack
    bad_reason = refused(chain, chain.wholesaler, kind, {**body, "reason": "gone"}, 422)
    assert "body.reason" in bad_reason["detail"]
    refused(chain, chain.regulator, kind, {**body, "serials": [serials[2]]}, 403)
    lot = "LOT-C3"
    chain.send(
        chain.maker, "batch.commission", {"gtin": GTIN, "lot": lot, "expiry": FUTURE, "quantity": 3}
    )
    counted = {"gtin": GTIN, "lot": lot, "reason": "damaged-in-transit"}
    too_many = refused(chain, chain.maker, kind, {**counted, "quantity": 4}, 409)
    assert "holds 3" in too_many["detail"]
    chain.send(chain.maker, kind, {**counted, "quantity": 3})
    batch = counts(chain, lot)
    assert (batch["held"], batch["written_off"]) == (0, 3)
