"""Scanner input: Digital Link URIs, element strings and raw scanner data, strict and lenient."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from provenance.gs1.ai import unbracketed
from provenance.gs1.digital_link import digital_link_from_ais
from provenance.gs1.errors import BadIdentifier
from provenance.gs1.keys import element_string
from provenance.gs1.scanner import (
    Scan,
    parse_digital_link,
    parse_element_string,
    parse_scan,
    read_scan_data,
    scan_to_digital_link,
)
from tests.paths import VECTORS

VECTORS = VECTORS / "digital-link"
GS = "\x1d"


def _cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())
    return cases


def _params(name: str, key: str) -> list[Any]:
    return [pytest.param(c, id=f"{i}:{c[key]!r}"[:80]) for i, c in enumerate(_cases(name))]


# --- upstream vectors ---------------------------------------------------------------------------


def test_vector_counts() -> None:
    assert len(_cases("dl_uri_parse_cases.json")) == 118
    assert len(_cases("dl_uri_generate_cases.json")) == 22
    assert len(_cases("element_string_parse_cases.json")) == 29
    assert len(_cases("scan_data_cases.json")) == 37


@pytest.mark.parametrize("case", _params("dl_uri_parse_cases.json", "uri"))
def test_digital_link_parse_vectors(case: dict[str, Any]) -> None:
    if case["valid"] and not case["options"]:
        ais = parse_digital_link(case["uri"])
        assert unbracketed(ais) == case["expected_fnc1"]
        assert element_string(ais) == case["expected_bracketed"]
        assert parse_element_string(case["expected_bracketed"]) == ais
    else:
        # Cases valid only with a non-default upstream option are invalid under strict rules.
        with pytest.raises(BadIdentifier):
            parse_digital_link(case["uri"])


@pytest.mark.parametrize("case", _params("dl_uri_generate_cases.json", "element_string"))
def test_digital_link_generate_vectors(case: dict[str, Any]) -> None:
    if case["valid"] and not case["options"]:
        ais = parse_element_string(case["element_string"])
        assert digital_link_from_ais(case["stem"], ais) == case["expected_uri"]
    else:
        with pytest.raises(BadIdentifier):
            digital_link_from_ais(case["stem"], parse_element_string(case["element_string"]))


def _element_string_params() -> list[Any]:
    params = []
    for i, case in enumerate(_cases("element_string_parse_cases.json")):
        marks = []
        if case["element_string"] == "inbuf" and case["valid"]:
            reason = "not data: upstream macro parameter names ('inbuf' -> 'expbuf') captured"
            marks.append(pytest.mark.xfail(strict=True, raises=BadIdentifier, reason=reason))
        params.append(pytest.param(case, id=f"{i}:{case['element_string']!r}", marks=marks))
    return params


@pytest.mark.parametrize("case", _element_string_params())
def test_element_string_vectors(case: dict[str, Any]) -> None:
    if case["valid"]:
        ais = parse_element_string(case["element_string"])
        assert unbracketed(ais) == case["expected_fnc1"]
        assert parse_element_string(element_string(ais)) == ais
    else:
        with pytest.raises(BadIdentifier):
            parse_element_string(case["element_string"])


_SYMBOLOGY_NAMES = {"Q": "QR", "d": "DM"}


@pytest.mark.parametrize("case", _params("scan_data_cases.json", "scan_data"))
def test_scan_data_vectors(case: dict[str, Any]) -> None:
    if case["valid"]:
        symbology, data = read_scan_data(case["scan_data"])
        assert _SYMBOLOGY_NAMES[symbology[1]] == case["symbology"]
        assert data == case["expected"]
    else:
        with pytest.raises(BadIdentifier):
            read_scan_data(case["scan_data"])


@pytest.mark.parametrize(
    "case",
    [
        p
        for p in _params("dl_uri_parse_cases.json", "uri")
        if p.values[0]["valid"]
        and not p.values[0]["options"]
        and "(01)" in p.values[0]["expected_bracketed"]
    ],
)
def test_valid_digital_links_with_gtin_read_as_scans(case: dict[str, Any]) -> None:
    scan = parse_scan(case["uri"])
    assert scan.bracketed() == case["expected_bracketed"]
    assert scan.form == "digital-link"
    assert scan.warnings == ()


# --- strict parsers ----------------------------------------------------------------------------


def test_parse_digital_link_pharma_uri() -> None:
    uri = "https://example.org/some/prefix/01/09520123456788/10/ABC%2F1/21/12345?17=260331&x=1"
    assert parse_digital_link(uri) == [
        ("01", "09520123456788"),
        ("10", "ABC/1"),
        ("21", "12345"),
        ("17", "260331"),
    ]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://example.org/01/09520123456788/21/1/10/A", "not allowed after primary key"),
        ("https://example.org/01/09520123456788?10=A", "belongs in the URI path"),
        ("https://example.org/01/09520123456788?21=A", "not permitted as a Digital Link"),
        ("https://example.org/01/09520123456788?89=A", "unknown AI"),
        ("https://example.org/01/09520123456789", "fails the csum check"),
        ("https://example.org/01/09520123456788?17=261301", "fails the yymmd0 check"),
        ("https://example.org/01/09520123456788/10/" + "A" * 21, "too long"),
        ("https://example.org/01/9520123456788", "too short"),
        ("HtTpS://example.org/01/09520123456788", "does not start with http"),
        ("https://example.org/01/09520123456788 ", "illegal character"),
    ],
)
def test_parse_digital_link_rejects(uri: str, message: str) -> None:
    with pytest.raises(BadIdentifier, match=message):
        parse_digital_link(uri)


def test_parse_element_string() -> None:
    assert parse_element_string("(01)09520123456788(17)260331(10)A\\(B") == [
        ("01", "09520123456788"),
        ("17", "260331"),
        ("10", "A(B"),
    ]
    with pytest.raises(BadIdentifier, match="start with"):
        parse_element_string("0109520123456788")


# --- parse_scan: every form --------------------------------------------------------------------

PACK = (("01", "09520123456788"), ("17", "260331"), ("10", "ABC1"), ("21", "12345"))
RAW = "0109520123456788" + "17260331" + "10ABC1" + GS + "2112345"


@pytest.mark.parametrize(
    ("text", "form", "symbology"),
    [
        ("]d2" + RAW, "scanner-data", "]d2"),
        ("]Q3" + RAW, "scanner-data", "]Q3"),
        ("]C1" + RAW, "scanner-data", "]C1"),
        ("]e0" + RAW, "scanner-data", "]e0"),
        (RAW, "scanner-data", None),
        ("(01)09520123456788(17)260331(10)ABC1(21)12345", "element-string", None),
        ("https://id.example/01/09520123456788/10/ABC1/21/12345?17=260331", "digital-link", None),
        (
            "]Q1https://id.example/01/09520123456788/10/ABC1/21/12345?17=260331",
            "digital-link",
            "]Q1",
        ),
        (
            "]d1HTTPS://ID.EXAMPLE/01/09520123456788/10/ABC1/21/12345?17=260331",
            "digital-link",
            "]d1",
        ),
    ],
)
def test_parse_scan_forms(text: str, form: str, symbology: str | None) -> None:
    scan = parse_scan(text)
    assert (scan.form, scan.symbology, scan.warnings) == (form, symbology, ())
    assert (scan.gtin, scan.lot, scan.serial, scan.expiry) == (
        "09520123456788",
        "ABC1",
        "12345",
        "260331",
    )
    assert sorted(scan.ais) == sorted(PACK)
    assert scan.bracketed() == element_string(scan.ais)


def test_parse_scan_ean() -> None:
    scan = parse_scan("]E09520123456788")
    assert (scan.gtin, scan.lot, scan.form, scan.symbology) == (
        "09520123456788",
        None,
        "scanner-data",
        "]E0",
    )
    assert parse_scan("]E402345673").gtin == "00000002345673"


def test_scan_is_frozen_and_converts_to_digital_link() -> None:
    scan = parse_scan("]d2" + RAW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scan.gtin = "x"  # type: ignore[misc]
    assert scan_to_digital_link(scan, "https://example.org/") == (
        "https://example.org/01/09520123456788/10/ABC1/21/12345?17=260331"
    )
    assert parse_scan(scan_to_digital_link(scan, "https://example.org")).ais == (
        ("01", "09520123456788"),
        ("10", "ABC1"),
        ("21", "12345"),
        ("17", "260331"),
    )
    minimal = Scan(
        "09520123456788", None, None, None, (("01", "09520123456788"),), "scanner-data", None
    )
    assert (
        scan_to_digital_link(minimal, "https://x.example") == "https://x.example/01/09520123456788"
    )


# --- parse_scan: tolerated faults, each flagged ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("]d2" + RAW + "\r\n", "whitespace or CR/LF"),
        ("  " + RAW, "whitespace or CR/LF"),
        ("]D2" + RAW, "']D2' read as ']d2'"),
        ("]q3" + RAW, "']q3' read as ']Q3'"),
        ("]E0" + RAW, "']E0' read as ']e0'"),
        (RAW.replace(GS, "<GS>"), "'<GS>' read as GS"),
        (RAW.replace(GS, "{GS}"), "'{GS}' read as GS"),
        (RAW.replace(GS, "\\x1d"), "x1d' read as GS"),
        (RAW.replace(GS, "^"), "'^' read as GS"),
        ("]d2" + GS + RAW, "leading GS"),
        ("]d2" + RAW + GS, "trailing GS"),
        ("]d2" + "010952012345678817260331" + "10ABC1" + GS + "2112345", ""),
        (
            "]d20109520123456788" + "10LOT-2024-000000001" + "2112345" + GS + "17260331",
            "missing GS",
        ),
        ("]d2010952012345678810ABCDEFGHIJKLMNOPQRS17260331", "missing GS"),
        ("]d20109520123456788" + "8018952012345678901233" + "2112345", "missing GS"),
        ("]d201095201234567881726033110ABC1" + GS + "2112345", ""),
        ("]d2" + "0109520123456788" + "17260331" + "X", "ignored trailing 'X' after AI (17)"),
        ("]d2" + "0109520123456788" + "17260331" + "\x04", "ignored trailing"),
        ("HTTPs://id.example/01/09520123456788?17=260331", "scheme 'HTTPs' read as 'https'"),
        ("https://id.example/01/9520123456788", "zero padded"),
        ("(01) 09520123456788 (17) 260331", "spaces around AI brackets"),
        ("]d1" + RAW, "not marked as GS1"),
    ],
)
def test_parse_scan_tolerates_and_flags(text: str, warning: str) -> None:
    scan = parse_scan(text)
    assert scan.gtin == "09520123456788"
    if warning:
        assert any(warning in w for w in scan.warnings), scan.warnings
    else:
        assert scan.warnings == ()


def test_missing_gs_split_values() -> None:
    scan = parse_scan("]d20109520123456788" + "10LOT-2024-000000001" + "2112345" + GS + "17260331")
    assert (scan.lot, scan.serial, scan.expiry) == ("LOT-2024-000000001", "12345", "260331")
    scan = parse_scan("]d2010952012345678810ABCDEFGHIJKLMNOPQRS17260331")
    assert (scan.lot, scan.expiry) == ("ABCDEFGHIJKLMNOPQRS", "260331")


def test_lot_that_fits_is_never_split() -> None:
    # Without a separator "ABC12321XYZ" is a valid 11-character lot: GS1 reads it that way.
    scan = parse_scan("]d2010952012345678810ABC12321XYZ")
    assert (scan.lot, scan.serial, scan.warnings) == ("ABC12321XYZ", None, ())


# --- parse_scan: rejected input, with what and where -------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a Digital Link URI, element string or GS1 data"),
        ("hello", "not a Digital Link URI, element string or GS1 data"),
        ("]d2", "no data"),
        ("]J1" + RAW, "unrecognised symbology"),
        ("]A0" + RAW, "unsupported symbology"),
        ("]d2" + RAW.replace("88", "89", 1), "csum check.*position 0"),
        ("]d2" + "0109520123456788" + "17261301", "yymmd0 check.*position 16"),
        ("]d2" + "0109520123456788" + "17260230", "yymmd0"),
        ("]d2" + "0209520123456788" + "3712", "no GTIN"),
        ("]d2" + "00006141411234567890", "no GTIN"),
        ("(00)006141411234567890", "no GTIN"),
        ("]d2" + "0109520123456788" + "1OABC", "no known AI at position 16"),
        ("]d2" + "0109520123456788" + "17260331" + "X10ABC", "no known AI at position 24"),
        ("]d2" + RAW + GS + "10XYZ", "occurs more than once"),
        (RAW.replace(GS, "|"), "'\\|' at position 30"),
        ("]d2" + "0109520123456788" + "10" + "A" * 25, "missing GS separator\\? no valid split"),
        ("]d2" + "0109520123456788" + "10" + "A" * 18 + "2121XXXX", "ambiguous"),
        ("https://id.example/01/09520123456789", "csum"),
        ("https://id.example/01/09520123456788?10=A", "belongs in the URI path"),
        ("]Q1TESTING", "no known AI"),
        ("]E09520123456789", "not a valid EAN/UPC"),
        ("]Q3https://id.example/01/09520123456788", "no known AI"),
    ],
)
def test_parse_scan_rejects(text: str, message: str) -> None:
    with pytest.raises(BadIdentifier, match=message):
        parse_scan(text)


def test_parse_scan_rejects_non_text() -> None:
    with pytest.raises(BadIdentifier):
        parse_scan(b"0109520123456788")  # type: ignore[arg-type]
