"""Scans that carry a GTIN alone: EAN-13, UPC-A, EAN-8, ITF-14, bare numbers (biip's cases)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provenance.gs1.errors import BadIdentifier
from provenance.gs1.scanner import parse_scan, read_scan_data
from tests.paths import VECTORS

GS = "\x1d"
CASES: list[dict[str, Any]] = json.loads(
    (VECTORS / "gtin-only" / "bare_gtin_cases.json").read_text()
)


def test_the_vectors_are_the_upstream_eight() -> None:
    assert len(CASES) == 8
    assert {c["symbology"] for c in CASES} == {None, "]E0", "]E4", "]I1"}


@pytest.mark.parametrize("case", CASES, ids=[c["scan"] for c in CASES])
def test_biip_gtin_cases_read_as_a_product(case: dict[str, Any]) -> None:
    scan = parse_scan(case["scan"])
    assert (scan.gtin, scan.symbology) == (case["gtin14"], case["symbology"])
    assert (scan.lot, scan.serial, scan.expiry) == (None, None, None)
    assert not scan.names_a_pack
    assert scan.ais == (("01", case["gtin14"]),)
    assert scan.warnings == ()


@pytest.mark.parametrize(
    ("text", "gtin"),
    [
        ("9506000134352", "09506000134352"),  # EAN-13 as a wedge types it
        ("]E09506000134352", "09506000134352"),  # EAN-13 with its AIM prefix
        ("036000291452", "00036000291452"),  # UPC-A, 12 digits
        ("]E00036000291452\r\n", "00036000291452"),  # UPC-A as EAN-13 data, with the Enter
        ("]I109506000134352", "09506000134352"),  # ITF-14, check digit checked by the reader
        ("]I009506000134352", "09506000134352"),  # ITF-14, checked here instead
        ("]E412345670", "00000012345670"),  # EAN-8
        ("09506000134352", "09506000134352"),  # 14 digits bare
    ],
)
def test_every_linear_gtin_form(text: str, gtin: str) -> None:
    scan = parse_scan(text)
    assert (scan.gtin, scan.names_a_pack) == (gtin, False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9506000134353", "check digit"),  # EAN-13, wrong check digit
        ("036000291453", "check digit"),  # UPC-A, wrong check digit
        ("]I109506000134353", "not a valid EAN/UPC/ITF-14 number"),
        ("]I10950600013435", "not a valid EAN/UPC/ITF-14 number"),  # 13 digits on an ITF-14
        ("950600013435", "check digit"),  # 12 digits that are no UPC-A
        ("1234567", "not a Digital Link URI, element string or GS1 data"),  # no GTIN length
        ("95060001343521", "check digit"),  # 14 digits, wrong check digit
    ],
)
def test_a_wrong_gtin_is_refused_not_guessed(text: str, message: str) -> None:
    with pytest.raises(BadIdentifier, match=message):
        parse_scan(text)


def test_an_ai_message_of_sixteen_digits_is_not_a_bare_gtin() -> None:
    scan = parse_scan("0109506000134352")
    assert (scan.gtin, scan.form, scan.names_a_pack) == ("09506000134352", "scanner-data", False)
    assert parse_scan("0109506000134352" + "10A1").names_a_pack


def test_itf14_scanner_data_is_read_strictly() -> None:
    assert read_scan_data("]I109506000134352") == ("]I1", "09506000134352")
    with pytest.raises(BadIdentifier):
        read_scan_data("]I10950600013435")


@pytest.mark.parametrize(
    "text",
    [
        "]d2" + "0109506000134352" + "10A1" + GS + GS + "21S1",
        "]d2" + "0109506000134352" + "10A1" + GS + GS + GS + "21S1",
        "0109506000134352" + "10A1" + "<GS><GS>" + "21S1",
    ],
)
def test_a_doubled_gs_separator_is_tolerated_and_flagged(text: str) -> None:
    scan = parse_scan(text)
    assert (scan.gtin, scan.lot, scan.serial) == ("09506000134352", "A1", "S1")
    assert "ignored doubled GS separator" in scan.warnings


def test_strict_scanner_data_still_refuses_a_doubled_gs() -> None:
    with pytest.raises(BadIdentifier, match="no known AI"):
        read_scan_data("]d2" + "0109506000134352" + "10A1" + GS + GS + "21S1")
