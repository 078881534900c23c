"""The supply-chain exceptions report: the demo chain's known exceptions, scenarios built through
the API, and the pure pipelines on small hand-made frames."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from provenance.log.store.engine import read_connection, write_transaction
from provenance.reports.model import Metric, Params, Report
from provenance.supply import demo as demo_supply
from provenance.supply.reports import exceptions as sx
from provenance.web.context import service
from tests.conftest import run_named_report, seeded_demo_app
from tests.parties import Authority, PartyKey, assign_prefix, register_party, send

ACME, MEDSUPPLY, CITY = (demo_supply.GLNS[p] for p in ("acme", "medsupply", "citypharmacy"))
AMX, LIS = demo_supply.AMOXICILLIN, demo_supply.LISINOPRIL
GTIN = "09506000134352"


def build(app: Flask, params: Params) -> Report:
    return run_named_report(app, "supply-chain", params)


def rows(report: Report, table: str, *columns: str) -> list[tuple[Any, ...]]:
    frame = report.table(table).frame
    return list(frame[list(columns)].itertuples(index=False, name=None))


def logged_day(app: Flask) -> date:
    with app.app_context(), read_connection(service().engine) as conn:
        ((last,),) = conn.execute(text("SELECT max(logged_at) FROM log_entry")).all()
    return date.fromisoformat(last[:10])


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with seeded_demo_app(tmp_path_factory.mktemp("supply-report"), 0, ("supply",)) as app:
        yield app


# --- the demo chain --------------------------------------------------------------------------


def test_demo_alerts_transit_and_custody(demo_app: Flask) -> None:
    report = build(demo_app, Params(as_of=logged_day(demo_app), days=14))
    assert report.name == "supply-chain" and report.log_size > 0
    assert report.metric("Batches").value == "4"
    assert report.metric("Conservation breaks") == Metric("Conservation breaks", "0")
    assert report.table("conservation_breaks").frame.empty
    assert report.metric("Overdue shipments").value == "0"
    # Every demo shipment was received; D1003 arrived 4 short (a partial receipt).
    assert report.table("overdue_shipments").frame.empty
    assert report.metric("Custody events").value == "16"
    assert rows(report, "alerts_by_kind", "kind", "alerts", "open") == [
        ("receipt-discrepancy", 1, 1),
        ("unknown-serial", 1, 1),
    ]
    assert rows(
        report, "alerts_by_party", "party_name", "custody_events", "alerts", "per_1000_events"
    ) == [("MedSupply Wholesale", 5, 1, 200.0), ("City Pharmacy", 3, 1, 333.3)]
    assert report.metric("Alerts").value == "2"
    assert report.metric("Open alerts") == Metric("Open alerts", "2", flag=True)
    assert report.table("duplicate_serials").frame.empty
    assert rows(report, "transit_by_route", "sender", "recipient", "shipments") == [
        (ACME, MEDSUPPLY, 3),
        (MEDSUPPLY, CITY, 1),
    ]
    # City Pharmacy's one scan (the forged serial) raised an alert: far too few to rank.
    scans = report.table("scan_alert_rates").frame
    assert rows(report, "scan_alert_rates", "party", "scans", "alerting_scans", "flagged") == [
        (CITY, 1, 1, False)
    ]
    assert pd.isna(scans.loc[0, "rank"])
    assert report.metric("Parties flagged for scan alerts").value == "0"
    assert [chart.name for chart in report.charts()] == [
        "alerts_by_kind",
        "transit_times",
        "scan_alert_funnel",
    ]


def test_demo_recalled_expired_and_stolen_stock(demo_app: Flask) -> None:
    report = build(demo_app, Params(as_of=date(2026, 12, 1)))
    assert rows(report, "stock_at_risk", "lot", "gln", "quantity", "problem", "expires") == [
        (demo_supply.EXPIRED_LOT, ACME, 2, "expired", "2025-01-31"),
        (demo_supply.RECALLED_LOT, ACME, 2, "recalled", "2027-03-31"),
        (demo_supply.RECALLED_LOT, MEDSUPPLY, 2, "recalled", "2027-03-31"),
    ]
    assert report.metric("Packs held of recalled batches") == Metric(
        "Packs held of recalled batches", "4", flag=True
    )
    assert report.metric("Packs held of expired batches").value == "2"
    assert report.table("dispensed_after_recall").frame.empty
    assert rows(report, "problem_packs", "serial", "holder", "state") == [
        (demo_supply.CHAIN_SERIALS[9], MEDSUPPLY, "stolen")
    ]
    assert report.metric("Packs stolen, locked or withdrawn").flag


def test_demo_stock_expires_by_the_report_date(demo_app: Flask) -> None:
    """By December 2028 every demo batch has expired; the recalled one is both."""
    report = build(demo_app, Params(as_of=date(2028, 12, 1)))
    assert rows(report, "stock_at_risk", "lot", "gln", "quantity", "problem") == [
        (demo_supply.BULK_LOT, ACME, 300, "expired"),  # Lisinopril's GTIN sorts first
        (demo_supply.BULK_LOT, MEDSUPPLY, 196, "expired"),
        (demo_supply.EXPIRED_LOT, ACME, 2, "expired"),
        (demo_supply.RECALLED_LOT, ACME, 2, "recalled, expired"),
        (demo_supply.RECALLED_LOT, MEDSUPPLY, 2, "recalled, expired"),
        (demo_supply.CHAIN_LOT, MEDSUPPLY, 4, "expired"),
        (demo_supply.CHAIN_LOT, CITY, 4, "expired"),
        (demo_supply.CHAIN_LOT, ACME, 2, "expired"),
    ]
    assert report.metric("Packs held of expired batches").value == "512"


# --- scenarios through the API ----------------------------------------------------------------


def statements(client: FlaskClient, envelopes: list[dict[str, Any]]) -> None:
    response = client.post("/api/v1/statements/batch", json=envelopes)
    assert response.status_code == 201, response.get_json()


@pytest.fixture
def parties(client: FlaskClient, authority: Authority) -> dict[str, PartyKey]:
    made = {
        "maker": register_party(client, authority, "Acme", "5412345000013", ["manufacturer"]),
        "wholesaler": register_party(
            client, authority, "MedSupply", "5412345000020", ["wholesaler"]
        ),
        "busy": register_party(client, authority, "Busy Pharmacy", "5412345000037", ["pharmacy"]),
        "calm": register_party(client, authority, "Calm Pharmacy", "5412345000075", ["pharmacy"]),
        "rogue": register_party(client, authority, "Rogue Pharmacy", "5412345000082", ["pharmacy"]),
        "tiny": register_party(client, authority, "Tiny Pharmacy", "5412345000099", ["pharmacy"]),
    }
    assign_prefix(client, authority, made["maker"].gln, "9506000")
    product = {"gtin": GTIN, "name": "Amoxicillin", "form": "capsule", "strength": "500 mg"}
    send(client, made["maker"], "product.register", product)
    batch = {"gtin": GTIN, "lot": "BULK", "expiry": "301231", "quantity": 100}
    send(client, made["maker"], "batch.commission", batch)
    return made


def ship(client: FlaskClient, sender: PartyKey, to: PartyKey, ref: str, quantity: int) -> None:
    body = {"shipment": ref, "gtin": GTIN, "lot": "BULK", "to": to.gln, "quantity": quantity}
    send(client, sender, "custody.ship", body)


def receive(client: FlaskClient, party: PartyKey, sender: PartyKey, ref: str, n: int) -> None:
    body = {"from": sender.gln, "shipment": ref, "quantity": n}
    send(client, party, "custody.receive", body)


def shipped_day(app: Flask, ref: str) -> date:
    with app.app_context(), read_connection(service().engine) as conn:
        sql = text("SELECT shipped_at FROM shipment WHERE shipment_id = :ref")
        ((shipped,),) = conn.execute(sql, {"ref": ref}).all()
    return date.fromisoformat(shipped[:10])


def test_shipment_left_in_transit_is_overdue(
    app: Flask, client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker, wholesaler = parties["maker"], parties["wholesaler"]
    ship(client, maker, wholesaler, "LOST", 50)
    ship(client, maker, wholesaler, "ARRIVED", 30)
    receive(client, wholesaler, maker, "ARRIVED", 30)
    shipped = shipped_day(app, "LOST")
    late = build(app, Params(as_of=shipped + timedelta(days=20), days=14))
    assert rows(late, "overdue_shipments", "shipment_id", "quantity", "days_in_transit") == [
        ("LOST", 50, 20)
    ]
    assert rows(late, "overdue_shipments", "sender_name", "recipient_name") == [
        ("Acme", "MedSupply")
    ]
    assert late.metric("Overdue shipments").flag
    # The same shipment is not overdue yet five days on; the packs in it are conserved.
    early = build(app, Params(as_of=shipped + timedelta(days=5), days=14))
    assert early.table("overdue_shipments").frame.empty
    assert early.table("conservation_breaks").frame.empty


def test_projection_drift_is_a_conservation_break(
    app: Flask, client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    ship(client, parties["maker"], parties["wholesaler"], "D1", 40)
    assert build(app, Params()).table("conservation_breaks").frame.empty
    with app.app_context(), write_transaction(service().engine) as conn:
        conn.execute(text("UPDATE holding SET quantity = quantity + 3 WHERE lot = 'BULK'"))
    report = build(app, Params())
    assert rows(
        report, "conservation_breaks", "lot", "commissioned", "held", "in_transit", "difference"
    ) == [("BULK", 100, 63, 40, -3)]
    assert report.metric("Conservation breaks").flag


def test_party_whose_scans_raise_alerts_is_ranked_first(
    app: Flask, client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    """Rogue scans a batch it never received (each scan an alert); Tiny does too, three times
    only; Busy and Calm scan stock they hold."""
    maker, wholesaler = parties["maker"], parties["wholesaler"]
    ship(client, maker, wholesaler, "W", 60)
    receive(client, wholesaler, maker, "W", 60)
    for name in ("busy", "calm"):
        ship(client, wholesaler, parties[name], f"P-{name}", 20)
        receive(client, parties[name], wholesaler, f"P-{name}", 20)
    volume = {"busy": 40, "calm": 40, "rogue": 40, "tiny": 3}
    for name, count in volume.items():
        party = parties[name]
        # A serial makes each scan a distinct statement; the batch is not serialised.
        scans = [
            party.envelope("scan.record", {"gtin": GTIN, "lot": "BULK", "serial": f"N{n}"})
            for n in range(count)
        ]
        statements(client, scans)
    report = build(app, Params())
    table = report.table("scan_alert_rates").frame.set_index("party_name")
    assert list(table.index[:3]) == ["Rogue Pharmacy", "Busy Pharmacy", "Calm Pharmacy"]
    assert table.loc["Rogue Pharmacy", "rank"] == 1
    assert table.loc["Rogue Pharmacy", "flagged"]
    assert table.loc["Rogue Pharmacy", ["scans", "alerting_scans"]].tolist() == [40, 40]
    # Tiny's three scans all raised alerts, yet three scans single nobody out.
    assert table.loc["Tiny Pharmacy", ["scans", "alerting_scans"]].tolist() == [3, 3]
    assert not table.loc["Tiny Pharmacy", "flagged"]
    assert pd.isna(table.loc["Tiny Pharmacy", "rank"])
    assert not table.loc["Busy Pharmacy", "flagged"]
    assert report.metric("Parties flagged for scan alerts").value == "1"
    assert rows(report, "alerts_by_kind", "kind", "alerts") == [("never-received", 43)]
    # Rogue's alert rate is per 1,000 of its custody events (its 40 scans).
    by_party = report.table("alerts_by_party").frame.set_index("party_name")
    assert by_party.loc["Rogue Pharmacy", "per_1000_events"] == 1000.0


def test_report_on_a_log_without_supply_data(app: Flask) -> None:
    report = build(app, Params())
    assert report.metric("Batches").value == "0"
    assert report.metric("Alerts").value == "0"
    assert report.table("transit_by_route").frame.empty
    assert report.table("scan_alert_rates").frame.empty
    assert not any(metric.flag for section in report.sections for metric in section.metrics)


# --- pure pipelines on hand-made frames -------------------------------------------------------


def test_expiry_day_00_is_the_end_of_the_month() -> None:
    got = sx.expiry_dates(
        pd.Series(["270200", "280200", "251231", "251301", "250230", "99010", "990101"]),
        date(2026, 6, 1),
    )
    assert [None if pd.isna(d) else d.date() for d in got] == [
        date(2027, 2, 28),
        date(2028, 2, 29),
        date(2025, 12, 31),
        None,  # month 13
        None,  # 30 February
        None,  # five digits
        date(1999, 1, 1),  # GS1's sliding century: 73 years ahead means last century
    ]


def test_conservation_break_detection() -> None:
    batches = pd.DataFrame(
        {
            "gtin": ["G", "G", "G"],
            "lot": ["A", "B", "C"],
            "quantity": [10, 5, 7],
            "dispensed": [0, 1, 0],
            "destroyed": [0, 0, 7],
        }
    )
    holdings = pd.DataFrame(
        {
            "gtin": ["G", "G", "G"],
            "lot": ["A", "A", "B"],
            "gln": ["p", "q", "p"],
            "quantity": [4, 2, 3],
        }
    )
    shipments = pd.DataFrame(
        {
            "gtin": ["G", "G", "G"],
            "lot": ["A", "A", "B"],
            "quantity": [3, 5, 2],
            "received": [0, 4, 2],
            "status": ["in_transit", "partial", "received"],
        }
    )
    balance = sx.batch_balance(batches, holdings, shipments)
    assert balance[["lot", "held", "in_transit", "difference"]].values.tolist() == [
        ["A", 6, 4, 0],  # 4 + 2 held, 3 in transit and 1 a short receipt left behind
        ["B", 3, 0, 1],  # one pack unaccounted for
        ["C", 0, 0, 0],  # all destroyed
    ]
    assert sx.conservation_breaks(balance)["lot"].tolist() == ["B"]


def shipment_frame(*rows_: tuple[str, str, str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sender": "S",
            "recipient": "R",
            "shipment_id": [r[0] for r in rows_],
            "gtin": "G",
            "lot": "L",
            "quantity": 1,
            "received": 0,
            "status": "in_transit",
            "shipped_at": [r[1] for r in rows_],
            "received_at": [r[2] for r in rows_],
        }
    )


def test_overdue_counts_whole_days_as_of_the_report_date() -> None:
    frame = shipment_frame(
        ("exactly", "2026-01-01T23:59:00.000Z", None),
        ("younger", "2026-01-02T00:00:00.000Z", None),
        ("received-later", "2025-12-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"),
        ("received", "2025-12-01T00:00:00.000Z", "2026-01-10T00:00:00.000Z"),
        ("future", "2026-03-01T00:00:00.000Z", None),
    )
    got = sx.overdue_shipments(frame, date(2026, 1, 15), 14)
    assert got[["shipment_id", "days_in_transit"]].values.tolist() == [
        ["received-later", 45],
        ["exactly", 14],
    ]


def test_transit_statistics_per_route() -> None:
    shipped = "2026-01-01T00:00:00.000Z"
    frame = shipment_frame(
        *((f"s{d}", shipped, f"2026-01-{1 + d:02d}T00:00:00.000Z") for d in (1, 2, 3, 4, 10))
    )
    transit = sx.transit_days(frame, date(2026, 2, 1))
    assert sx.transit_by_route(transit).iloc[0].tolist() == ["S", "R", 5, 3.0, 7.6, 10.0]
    # Received on the report date counts; received after it is not yet a transit time.
    assert sx.transit_days(frame, date(2026, 1, 4))["days"].tolist() == [1.0, 2.0, 3.0]


def test_dispense_after_recall_only_counts_later_entries() -> None:
    batches = pd.DataFrame({"gtin": ["G", "G"], "lot": ["R", "OK"], "recall_index": [10, None]})
    dispenses = pd.DataFrame(
        {
            "idx": [5, 12, 13],
            "seq": [0, 0, 0],
            "gtin": ["G", "G", "G"],
            "lot": ["R", "R", "OK"],
            "party": ["p", "p", "p"],
            "quantity": [1, 2, 3],
            "at": ["t"] * 3,
        }
    )
    assert sx.dispensed_after_recall(dispenses, batches)["idx"].tolist() == [12]


def test_stock_at_risk_skips_empty_holdings() -> None:
    batches = pd.DataFrame(
        {
            "gtin": ["G", "G", "G"],
            "lot": ["R", "E", "OK"],
            "expiry": ["300100", "250100", "300100"],
            "status": ["recalled", "active", "active"],
            "recall_reason": ["bad", None, None],
        }
    )
    holdings = pd.DataFrame(
        {
            "gtin": ["G"] * 4,
            "lot": ["R", "R", "E", "OK"],
            "gln": ["p", "q", "p", "p"],
            "quantity": [0, 5, 2, 9],
        }
    )
    got = sx.stock_at_risk(holdings, batches, date(2026, 1, 1))
    assert got[["lot", "gln", "quantity", "problem", "expires"]].values.tolist() == [
        ["E", "p", 2, "expired", "2025-01-31"],
        ["R", "q", 5, "recalled", "2030-01-31"],
    ]


def alert_frame(*rows_: tuple[int, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "idx": [r[0] for r in rows_],
            "seq": 0,
            "kind": [r[1] for r in rows_],
            "gtin": "G",
            "lot": "L",
            "serial": "X",
            "party": [r[2] for r in rows_],
            "raised_at": [f"2026-01-01T00:00:{r[0]:02d}.000Z" for r in rows_],
            "resolved_index": None,
        }
    )


def test_scan_alerts_are_told_from_dispense_alerts() -> None:
    alerts = alert_frame(
        (1, "duplicate-serial", "p"), (2, "duplicate-serial", "p"), (3, "unknown-batch", "p")
    )
    marked = sx.mark_scan_alerts(alerts, {2})
    assert marked["at_scan"].tolist() == [False, True, True]
    dup = sx.duplicate_serials(alerts)
    assert dup[["serial", "alerts", "open", "parties"]].values.tolist() == [["X", 2, 2, "p"]]


def test_scan_alert_rates_flag_high_volume_outliers_only() -> None:
    events = pd.DataFrame(
        {
            "party": ["big", "a", "b", "small", "big"],
            "action": ["scan", "scan", "scan", "scan", "receive"],
            "events": [200, 300, 300, 5, 50],
        }
    )
    # big: 40 of 200 scans alert; a, b: 6 of 300 each; small: all 5 (plus one unlogged scan).
    alerts = pd.concat(
        [
            alert_frame(*((n, "expired-scan", "big") for n in range(40))),
            alert_frame(*((100 + n, "expired-scan", "a") for n in range(6))),
            alert_frame(*((200 + n, "expired-scan", "b") for n in range(6))),
            alert_frame(*((300 + n, "recalled-scan", "small") for n in range(5))),
            alert_frame((300, "expiry-mismatch", "small"), (400, "unknown-product", "small")),
        ],
        ignore_index=True,
    )
    scans = set(range(40)) | set(range(100, 106)) | set(range(200, 206)) | set(range(300, 305))
    rates = sx.scan_alert_rates(events, sx.mark_scan_alerts(alerts, scans)).set_index("party")
    assert rates.index.tolist() == ["big", "a", "b", "small"]
    assert rates["rank"].tolist()[:3] == [1, 2, 3] and pd.isna(rates.loc["small", "rank"])
    assert rates["flagged"].tolist() == [True, False, False, False]
    assert rates.loc["small", ["scans", "alerting_scans", "alerts"]].tolist() == [6, 6, 7]
    # Exact binomial tail of big's 40 alerting scans in 200 at the rest's rate, 18 in 606.
    rest = 18 / 606
    tail = sum(math.comb(200, k) * rest**k * (1 - rest) ** (200 - k) for k in range(40, 201))
    assert rates.loc["big", "p_value"] == pytest.approx(tail, rel=5e-3)
    assert tail < 1e-12
    assert rates.loc["big", "per_1000_scans"] == 200.0
    assert rates.loc["big", "z"] > 8


def test_a_few_extra_alerts_at_low_rates_are_not_flagged() -> None:
    """5 alerting scans in 50 where peers have about 1 in 50 gives z > 3.5, yet among 100
    parties that happens by chance (binomial p ≈ 0.006); 15 in 50 does not."""
    names = [f"p{i:03d}" for i in range(100)]
    events = pd.DataFrame({"party": names, "action": "scan", "events": 50})
    alerting = dict.fromkeys(names, 1) | {"p000": 5, "p001": 15}
    alerts = pd.concat(
        [
            alert_frame(*((1000 * i + k, "expired-scan", party) for k in range(count)))
            for i, (party, count) in enumerate(alerting.items())
        ],
        ignore_index=True,
    ).assign(at_scan=True)
    rates = sx.scan_alert_rates(events, alerts).set_index("party")
    assert rates.index[:2].tolist() == ["p001", "p000"]
    assert rates.loc["p000", "z"] > 3.5
    rest = (98 + 15) / (99 * 50)
    tail = sum(math.comb(50, k) * rest**k * (1 - rest) ** (50 - k) for k in range(5, 51))
    assert rates.loc["p000", "p_value"] == pytest.approx(tail, rel=5e-3)
    assert tail > sx.ALPHA / 100  # what chance gives one of 100 parties
    assert rates["flagged"].sum() == 1 and rates.loc["p001", "flagged"]


def test_binomial_tail_edges() -> None:
    assert sx.binomial_log_tail(0, 10, 0.1) == 0.0
    assert sx.binomial_log_tail(3, 10, 0.0) == -math.inf
    assert math.exp(sx.binomial_log_tail(10, 10, 0.5)) == pytest.approx(0.5**10)
    exact = sum(math.comb(30, k) * 0.2**k * 0.8 ** (30 - k) for k in range(7, 31))
    assert math.exp(sx.binomial_log_tail(7, 30, 0.2)) == pytest.approx(exact)


def test_alert_rate_per_thousand_custody_events() -> None:
    events = pd.DataFrame(
        {"party": ["p", "p", "q"], "action": ["scan", "ship", "scan"], "events": [300, 200, 10]}
    )
    alerts = alert_frame((1, "expired-scan", "p"), (2, "pack-state", "p"))
    got = sx.alerts_by_party(alerts, events)
    assert got[["party", "custody_events", "alerts", "per_1000_events"]].values.tolist() == [
        ["p", 500, 2, 4.0]
    ]
    assert sx.alerts_by_kind(alerts)[["kind", "alerts", "share_pct"]].values.tolist() == [
        ["expired-scan", 1, 50.0],
        ["pack-state", 1, 50.0],
    ]
