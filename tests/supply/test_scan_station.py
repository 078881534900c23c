"""The scan station's pure parts: candidate splits of GS-less data, expiry dates as people read
them, alert references, a pack's own history; and the readings the log resolves."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from provenance import demo
from provenance.gs1 import dates, splits
from provenance.gs1.ai import parse_bracketed
from provenance.gs1.errors import BadIdentifier
from provenance.log.store.engine import read_connection
from provenance.supply import demo as demo_supply
from provenance.supply import scan_reading, scan_view, verdict
from provenance.web.context import installed, service
from tests.conftest import make_app
from tests.paths import VECTORS

GS = "\x1d"
G = demo_supply.AMOXICILLIN
CHAIN, A = demo_supply.CHAIN_LOT, demo_supply.CHAIN_SERIALS


def _vectors(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / "digital-link" / name).read_text())
    return cases


# --- candidate splits ---------------------------------------------------------------------------


def test_the_upstream_scan_vector_without_its_separator_reads_two_ways() -> None:
    (case,) = [
        c
        for c in _vectors("scan_data_cases.json")
        if c["scan_data"].startswith("]d2") and c["valid"]
    ]
    data = case["scan_data"][3:]
    assert GS in data
    assert [s.ais for s in splits.candidate_splits(data)] == [
        (("01", "12312312312333"), ("10", "ABC123"), ("99", "TESTING"))
    ]
    readings = splits.candidate_splits(data.replace(GS, ""))
    assert [s.ais for s in readings] == [
        (("01", "12312312312333"), ("10", "ABC12399TESTING")),  # as delimited: first
        (("01", "12312312312333"), ("10", "ABC123"), ("99", "TESTING")),
    ]
    assert readings[1].cut_after == (("10", "ABC123"),)
    assert "after (10) ABC123" in readings[1].describe()


VALID_ELEMENT_STRINGS = [
    c
    for c in _vectors("element_string_parse_cases.json")
    if c["valid"] and "\\" not in c["element_string"] and c["element_string"].startswith("(")
]


@pytest.mark.parametrize("case", VALID_ELEMENT_STRINGS, ids=lambda c: c["element_string"])
def test_every_upstream_element_string_is_among_the_readings_of_its_gs_less_data(
    case: dict[str, Any],
) -> None:
    ais = tuple(parse_bracketed(case["element_string"]))
    data = case["expected_fnc1"][1:]
    assert ais in [s.ais for s in splits.candidate_splits(data.replace("^", GS))]
    # The separators dropped, the true reading is still one of the candidates.
    assert ais in [s.ais for s in splits.candidate_splits(data.replace("^", ""))]


def test_the_demo_pack_with_its_separator_lost_reads_as_lot_and_serial() -> None:
    data = f"01{G}17281130" + f"10{CHAIN}21{A[5]}"
    readings = splits.candidate_splits(data)
    assert [dict(s.ais).get("10") for s in readings] == [CHAIN + "21" + A[5], CHAIN]
    assert dict(readings[1].ais)["21"] == A[5]
    # A reading with a separator, but fields in another order, is found too.
    again = splits.candidates_of_ais(readings[1].ais)
    assert again[0].ais == readings[1].ais and again[0].cut_after == ()


def test_candidates_are_bounded_and_never_repeat_an_ai() -> None:
    data = "01" + G + "10" + "1010101010101010" + "21" + "1010"
    readings = splits.candidate_splits(data)
    assert 1 <= len(readings) <= splits.MAX_CANDIDATES
    for reading in readings:
        names = [ai for ai, _ in reading.ais]
        assert len(names) == len(set(names))
    assert splits.candidate_splits("01" + G + "10" + "1" * 20, limit=3)
    assert len(splits.candidate_splits("01" + G + "10" + "1" * 20, limit=3)) <= 3
    assert splits.candidate_splits("01" + G + "91" + "X" * 90) != []
    assert splits.candidate_splits("01" + G + "91X" + "9192939495" * 30) == []  # too long


def test_data_that_is_no_ai_data_has_no_reading() -> None:
    assert splits.candidate_splits("hello") == []
    assert splits.candidate_splits(f"01{G}10") == []  # a lot needs a character
    assert splits.candidate_splits(f"01{G}{GS}") == []  # a trailing separator
    assert splits.scanner_data("hello") is None
    assert splits.scanner_data(f" ]d2{GS}01{G}10A\r\n") == f"01{G}10A"


# --- expiry dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "today", "text", "relative", "days"),
    [
        ("281130", date(2026, 12, 6), "30 Nov 2028", "expires in 725 days", 725),
        ("281100", date(2028, 11, 1), "30 Nov 2028", "expires in 29 days", 29),  # day 00
        ("240200", date(2024, 3, 1), "29 Feb 2024", "expired yesterday", -1),  # leap year
        ("250131", date(2026, 12, 6), "31 Jan 2025", "expired 674 days ago", -674),
        ("261206", date(2026, 12, 6), "6 Dec 2026", "expires today", 0),
        ("261207", date(2026, 12, 6), "7 Dec 2026", "expires tomorrow", 1),
    ],
)
def test_expiry_reads_as_a_date_and_a_distance(
    code: str, today: date, text: str, relative: str, days: int
) -> None:
    expiry = dates.expiry(code, today)
    assert expiry is not None
    assert (expiry.text, expiry.relative, expiry.days) == (text, relative, days)
    assert expiry.expired == (days < 0)
    assert expiry.to_json()["date"] == expiry.date.isoformat()


@pytest.mark.parametrize("code", ["281332", "2811", "28113A", "250230"])
def test_a_malformed_expiry_has_no_date(code: str) -> None:
    assert dates.expiry(code, date(2026, 1, 1)) is None


# --- what the station shows ---------------------------------------------------------------------


def test_every_verdict_has_its_own_action_icon_and_colour() -> None:
    codes = [*verdict.VERDICTS, *verdict.PRODUCT_ANSWERS]
    assert set(verdict.ACTIONS) == set(verdict.ICONS) == set(codes)
    assert verdict.ACTIONS["authentic"] == "OK to dispense"
    assert verdict.ACTIONS["dispensed"].startswith("Already dispensed: do not dispense again")
    assert all(verdict.ACTIONS[c].startswith("Do not dispense") for c in ("unknown", "suspect"))
    pack_icons = [verdict.ICONS[c][0] for c in verdict.VERDICTS]
    assert len(set(pack_icons)) == len(pack_icons)
    css = Path("provenance/supply/web/static/supply.css").read_text()
    colours = {}
    for code in [*codes, "error"]:
        rule = re.search(rf"\.v-{code} \{{ background: (#\w+); color: (#\w+);", css)
        assert rule is not None, code
        colours[code] = rule.groups()
        assert _contrast(*rule.groups()) >= 4.5, code
    backgrounds = [colours[c][0] for c in codes]
    assert len(set(backgrounds)) == len(backgrounds)  # expired ≠ dispensed, recalled ≠ unknown


def _contrast(one: str, two: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _answer(code: str = "unknown", **more: Any) -> dict[str, Any]:
    return {"verdict": code, "gtin": G, "lot": CHAIN, "serial": "X1", "batch": None, **more}


def test_an_alert_reference_is_stable_for_one_scan_and_differs_for_another() -> None:
    at = "2026-12-06T10:00:00.000Z"
    one = scan_view.alert_reference(_answer(), at, "log.example")
    assert re.fullmatch(r"ALR-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}", one)
    assert scan_view.alert_reference(_answer(), at, "log.example") == one
    others = {
        scan_view.alert_reference(_answer(), "2026-12-06T10:00:00.001Z", "log.example"),
        scan_view.alert_reference(_answer(serial="X2"), at, "log.example"),
        scan_view.alert_reference(_answer("recalled"), at, "log.example"),
        scan_view.alert_reference(_answer(), at, "other.example"),
    }
    assert one not in others and len(others) == 4


def test_a_pack_history_keeps_its_own_and_the_batch_wide_events() -> None:
    timeline = [
        {"idx": 1, "action": "commission", "serials": []},
        {"idx": 2, "action": "ship", "serials": ["A1", "A2"]},
        {"idx": 3, "action": "stolen", "serials": ["A2"]},
        {"idx": 4, "action": "recall", "serials": []},
    ]
    assert [e["idx"] for e in scan_view.pack_history(timeline, "A1")] == [1, 2, 4]
    assert [e["idx"] for e in scan_view.pack_history(timeline, "A2")] == [1, 2, 3, 4]
    assert scan_view.pack_history(timeline, None) == []


def test_presenting_an_answer_adds_the_station_facts_and_keeps_the_rest() -> None:
    batch = {"expiry": "250131", "status": "active", "recall_reason": None}
    body = _answer(
        "expired",
        batch=batch,
        reasons=["pack X1 was dispensed by 5412345000037"],
        timeline=[{"party": "5412345000013", "counterparty": None, "serials": []}],
        alerts=[{"id": "7-0", "serial": "X2", "party": "5412345000037", "resolved_index": None}],
    )
    shown = scan_view.present(
        body,
        names={"5412345000037": "City Pharmacy", "5412345000013": "Acme", "1234567890128": "x"},
        today=date(2026, 12, 6),
        scanned_at="2026-12-06T10:00:00.000Z",
        origin="log.example",
    )
    assert {k: shown[k] for k in body} == body
    assert shown["effective_status"] == "expired"  # recorded "active", but past its date
    assert shown["expiry_info"]["relative"] == "expired 674 days ago"
    assert shown["action"].startswith("Expired: do not dispense")
    assert shown["alert_reference"].startswith("ALR-") and not shown["product_only"]
    assert shown["parties"] == {"5412345000013": "Acme", "5412345000037": "City Pharmacy"}
    assert shown["pack_timeline"] == body["timeline"]
    alerted = scan_view.present(
        {**body, "serial": "X2"},
        names={},
        today=date(2026, 12, 6),
        scanned_at="2026-12-06T10:00:00.000Z",
        origin="log.example",
    )
    assert alerted["logged_alerts"] == ["7-0"]
    assert "printed_expiry_info" not in shown and shown["logged_alerts"] == []
    mismatch = scan_view.present(
        body,
        names={},
        today=date(2026, 12, 6),
        scanned_at="2026-12-06T10:00:00.000Z",
        origin="log.example",
        scanned_expiry="281100",
    )
    assert mismatch["printed_expiry_info"]["text"] == "30 Nov 2028"
    assert mismatch["expiry_info"]["text"] == "31 Jan 2025"  # the batch's, as commissioned
    product = scan_view.present(
        {"verdict": "product-known", "gtin": G, "lot": None, "serial": None, "batch": None},
        names={},
        today=date(2026, 12, 6),
        scanned_at="2026-12-06T10:00:00.000Z",
        origin="log.example",
    )
    assert product["product_only"] and product["alert_reference"] is None
    assert product["expiry_info"] is None and product["effective_status"] is None


# --- readings the log resolves ------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    app = make_app(tmp_path_factory.mktemp("station") / "data", demo=True)
    with app.app_context():
        demo.seed(service(), installed().plugins, 0, stories=("supply",))
    return app


def _read(app: Flask, code: str) -> scan_reading.Reading:
    with app.app_context(), read_connection(service().engine) as conn:
        return scan_reading.read(conn, code)


def test_a_gs_less_scan_reads_as_the_pack_the_log_knows(demo_app: Flask) -> None:
    reading = _read(demo_app, f"]d201{G}17281130" + f"10{CHAIN}21{A[5]}")
    assert (reading.lot, reading.serial, reading.expiry) == (CHAIN, A[5], "281130")
    (correction,) = reading.corrections
    assert correction.startswith(f"scan corrected: missing GS separator assumed after (10) {CHAIN}")
    # With its separator the scan needs no correction.
    assert _read(demo_app, f"01{G}10{CHAIN}{GS}21{A[5]}").corrections == ()


def test_a_reading_the_log_does_not_know_stands_as_scanned(demo_app: Flask) -> None:
    forged = _read(demo_app, f"01{G}10{CHAIN}{GS}21{demo_supply.FORGED_SERIAL}")
    assert (forged.serial, forged.corrections) == (demo_supply.FORGED_SERIAL, ())
    nowhere = _read(demo_app, f"01{G}10NOLOT21NOSERIAL")
    assert (nowhere.lot, nowhere.serial, nowhere.corrections) == ("NOLOT21NOSERIAL", None, ())


def test_a_scan_only_a_known_split_makes_readable_is_read(demo_app: Flask) -> None:
    # 21 characters after (10): too long for a lot, and two splits are valid GS1, so the
    # scanner alone refuses it; the log knows one of them.
    code = f"01{G}10{CHAIN}21{A[5]}99ABC"
    with pytest.raises(BadIdentifier):
        _read(demo_app, f"01{G}10NOSUCHLOT21NOSERIAL99ABC")
    reading = _read(demo_app, code)
    assert (reading.lot, reading.serial) == (CHAIN, A[5])
    assert reading.corrections


def test_the_scan_api_carries_the_station_facts(demo_app: Flask) -> None:
    api = demo_app.test_client()
    answer = api.get("/api/v1/scan", query_string={"code": f"01{G}10{CHAIN}21{A[5]}"}).get_json()
    assert answer["verdict"] == "authentic" and answer["action"] == "OK to dispense"
    assert answer["corrections"] and answer["alert_reference"] is None
    assert answer["expiry_info"]["text"] == "30 Nov 2028"
    ean = api.get("/api/v1/scan", query_string={"code": G[1:]}).get_json()
    assert ean["verdict"] == "product-known" and ean["product_only"] is True
    assert ean["action"] == "Product only: scan the 2D code to verify the pack"
    forged = api.get(
        "/api/v1/scan", query_string={"code": f"(01){G}(10){CHAIN}(21)X9999999"}
    ).get_json()
    assert forged["verdict"] == "unknown" and forged["alert_reference"].startswith("ALR-")
    assert forged["action"].startswith("Do not dispense")
    for kept in ("title", "reasons", "view", "digital_link", "scan", "scan_warnings"):
        assert kept in forged


def test_without_script_each_scan_loads_a_page_with_its_verdict_and_an_empty_box(
    demo_app: Flask,
) -> None:
    code = f"]d201{G}17281130" + f"10{CHAIN}{GS}21{A[5]}"
    page = demo_app.test_client().get("/scan", query_string={"code": code})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'<input id="code" name="code" value="" autofocus', html)
    assert 'data-verdict="authentic"' in html and 'aria-live="polite"' in html
    assert f"10{CHAIN}⟨GS⟩21{A[5]}" in html  # what was scanned, its GS visible
    assert "30 Nov 2028" in html and "OK to dispense" in html
    expired = demo_app.test_client().get(f"/01/{G}/10/{demo_supply.EXPIRED_LOT}")
    assert 'id="batch-state" class="state state-expired">expired<' in expired.get_data(as_text=True)
