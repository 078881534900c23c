"""GS1 identifiers: check digits, GTINs, NDCs, lots, serials, expiry dates and the AI table."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from biip.gtin import Gtin

from provenance.gs1.ai import AI_TABLE, lookup_prefix, unbracketed, validate
from provenance.gs1.errors import BadIdentifier
from provenance.gs1.keys import (
    check_digit,
    digital_link_uri,
    element_string,
    gtin_to_ndc,
    has_valid_check_digit,
    is_valid_gln,
    is_valid_gtin,
    is_valid_lot,
    is_valid_serial,
    ndc_to_gtin,
    normalise_gtin,
    parse_expiry,
    percent_encode,
    resolve_century,
    with_check_digit,
)
from tests.paths import VECTORS

VECTORS = VECTORS / "digital-link"


def _cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())
    return cases


@pytest.mark.parametrize("case", _cases("check_digit_cases.json"), ids=lambda c: repr(c["digits"]))
def test_check_digit_vectors(case: dict[str, Any]) -> None:
    assert has_valid_check_digit(case["digits"]) is case["valid"]


def test_check_digit_and_gln() -> None:
    assert check_digit("952012345678") == 8
    assert with_check_digit("952012345678") == "9520123456788"
    assert is_valid_gln("9520123456788")
    assert not is_valid_gln("9520123456789")
    assert not is_valid_gln(9520123456788)


# --- GTIN --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "gtin14"),
    [
        ("02345673", "00000002345673"),  # GTIN-8
        ("416000336108", "00416000336108"),  # GTIN-12 (UPC-A)
        ("9520123456788", "09520123456788"),  # GTIN-13
        ("09520123456788", "09520123456788"),  # GTIN-14
        ("19520123456785", "19520123456785"),  # GTIN-14 with packaging indicator
    ],
)
def test_normalise_gtin_pads_to_gtin14(given: str, gtin14: str) -> None:
    assert normalise_gtin(given) == gtin14
    assert is_valid_gtin(gtin14)
    Gtin.parse(gtin14)  # an independent implementation agrees the check digit is right


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("9520123456789", "check digit 9, expected 8"),
        ("95201234567", "has 11 digits"),
        ("952012345678812", "has 15 digits"),
        ("", "digits only"),
        ("952012345678X", "digits only"),
        ("９５２０１２３４５６７８８", "digits only"),  # full-width digits are not ASCII
    ],
)
def test_normalise_gtin_rejects(given: str, message: str) -> None:
    with pytest.raises(BadIdentifier, match=message):
        normalise_gtin(given)


def test_is_valid_gtin_is_gtin14_only() -> None:
    assert is_valid_gtin("09520123456788")
    assert not is_valid_gtin("9520123456788")
    assert not is_valid_gtin("09520123456789")
    assert not is_valid_gtin(9520123456788)
    assert not is_valid_gtin(None)


# --- NDC ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ndc", "gtin"),
    [
        ("0777-3105-02", "00307773105025"),  # 4-4-2
        ("50090-347-00", "00350090347005"),  # 5-3-2
        ("12345-6789-1", "00312345678913"),  # 5-4-1
        ("0777310502", "00307773105025"),  # 10 digits, unhyphenated
    ],
)
def test_ndc_to_gtin_and_back(ndc: str, gtin: str) -> None:
    assert ndc_to_gtin(ndc) == gtin
    assert Gtin.parse(gtin).value == gtin
    assert gtin_to_ndc(gtin) == ndc.replace("-", "")


@pytest.mark.parametrize(
    ("ndc", "message"),
    [
        ("00777-3105-02", "11-digit billing NDC"),
        ("00777310502", "11-digit billing NDC"),
        ("0777-310-502", "not a 10-digit NDC"),
        ("077731050", "not a 10-digit NDC"),
        ("0777-3105-0A", "not a 10-digit NDC"),
        ("07773105-02", "not a 10-digit NDC"),
        ("", "not a 10-digit NDC"),
    ],
)
def test_ndc_to_gtin_rejects(ndc: str, message: str) -> None:
    with pytest.raises(BadIdentifier, match=message):
        ndc_to_gtin(ndc)


@pytest.mark.parametrize(
    "gtin",
    ["09520123456788", "10307773105022", "00407773105024", "00307773105026", "0030777310502"],
)
def test_gtin_to_ndc_none_for_other_gtins(gtin: str) -> None:
    assert gtin_to_ndc(gtin) is None


# --- lot and serial ----------------------------------------------------------------------------


@pytest.mark.parametrize("check", [is_valid_lot, is_valid_serial])
def test_lot_and_serial_rules(check: Any) -> None:
    assert check("A")
    assert check("X" * 20)
    assert check("!\"%&'()*+,-./:;<=>?_")
    assert check("abcXYZ0189")
    assert not check("X" * 21)
    assert not check("")
    for bad in (" ", "#", "^", "|", "~", "é", "\x1d", "AB CD"):
        assert not check("A" + bad), bad
    assert not check(12345)
    assert not check(None)


# --- expiry ------------------------------------------------------------------------------------

TODAY = datetime.date(2026, 1, 15)


@pytest.mark.parametrize(
    ("yymmdd", "expected"),
    [
        ("260331", datetime.date(2026, 3, 31)),
        ("261200", datetime.date(2026, 12, 31)),  # day 00: last day of the month
        ("240200", datetime.date(2024, 2, 29)),  # ... of a leap-year February
        ("250200", datetime.date(2025, 2, 28)),
        ("240229", datetime.date(2024, 2, 29)),
        ("000229", datetime.date(2000, 2, 29)),
    ],
)
def test_parse_expiry(yymmdd: str, expected: datetime.date) -> None:
    assert parse_expiry(yymmdd, today=TODAY) == expected


@pytest.mark.parametrize(
    ("today", "yy", "year"),
    [
        (datetime.date(2026, 6, 1), 76, 2076),  # 50 years ahead: still this century
        (datetime.date(2026, 6, 1), 77, 1977),  # 51 or more ahead: last century
        (datetime.date(2026, 6, 1), 26, 2026),
        (datetime.date(2026, 6, 1), 0, 2000),
        (datetime.date(2080, 1, 1), 31, 2031),  # 49 behind: this century
        (datetime.date(2080, 1, 1), 30, 2130),  # 50 or more behind: next century
        (datetime.date(2099, 12, 31), 0, 2100),
    ],
)
def test_century_rule(today: datetime.date, yy: int, year: int) -> None:
    assert resolve_century(yy, today) == year
    assert parse_expiry(f"{yy:02d}0101", today=today).year == year


def test_parse_expiry_uses_today_by_default() -> None:
    assert parse_expiry("300600") == datetime.date(2030, 6, 30)


@pytest.mark.parametrize(
    "bad", ["260230", "250229", "261301", "260001", "260132", "2603", "26033A"]
)
def test_parse_expiry_rejects(bad: str) -> None:
    with pytest.raises(BadIdentifier):
        parse_expiry(bad, today=TODAY)


# --- Digital Link URI and element string -------------------------------------------------------


def test_digital_link_uri() -> None:
    uri = digital_link_uri("https://example.org", "09520123456788", "ABC1", "12345", "180426")
    assert uri == "https://example.org/01/09520123456788/10/ABC1/21/12345?17=180426"
    assert digital_link_uri("https://example.org/", "9520123456788") == (
        "https://example.org/01/09520123456788"
    )
    assert digital_link_uri("https://example.org/dl", "09520123456788", serial="A/B+C") == (
        "https://example.org/dl/01/09520123456788/21/A%2FB%2BC"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stem": "ftp://example.org"},
        {"stem": "example.org"},
        {"gtin": "09520123456789"},
        {"lot": "X" * 21},
        {"serial": "A B"},
        {"expiry": "261301"},
    ],
)
def test_digital_link_uri_rejects(kwargs: dict[str, str]) -> None:
    args = {"stem": "https://example.org", "gtin": "09520123456788"} | kwargs
    with pytest.raises(BadIdentifier):
        digital_link_uri(**args)


def test_percent_encode_keeps_only_unreserved() -> None:
    assert percent_encode("Az09-._~") == "Az09-._~"
    assert percent_encode("!\"%&'()*+,/:;<=>?") == (
        "%21%22%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F"
    )


def test_element_string() -> None:
    ais = {"01": "09520123456788", "17": "260331", "10": "ABC1", "21": "12345"}
    assert element_string(ais) == "(01)09520123456788(17)260331(10)ABC1(21)12345"
    assert element_string([("10", "A(1)")]) == "(10)A\\(1)"
    with pytest.raises(BadIdentifier):
        element_string({"1": "X"})
    with pytest.raises(BadIdentifier):
        element_string({"10": ""})


# --- AI table ----------------------------------------------------------------------------------


def _dictionary_rows() -> dict[str, tuple[bool, bool, str, str | None]]:
    """AI -> (FNC1 needed, DL attribute, specification, dlpkey) read from the dictionary."""
    rows = {}
    for line in (VECTORS / "gs1-syntax-dictionary.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        tokens = line.partition("#")[0].split()
        flags = tokens[1] if tokens[1][0] in "*?" else ""
        spec = [t for t in tokens[1:] if t[0] in "NXYZ["]
        dlpkey = next((t for t in tokens if t.startswith("dlpkey")), None)
        first, _, last = tokens[0].partition("-")
        for n in range(int(first), int(last or first) + 1):
            rows[str(n).zfill(len(first))] = (
                "*" not in flags,
                "?" in flags,
                " ".join(spec),
                dlpkey,
            )
    return rows


def test_ai_table_matches_syntax_dictionary() -> None:
    rows = _dictionary_rows()
    assert set(AI_TABLE) == set(rows)
    for ai, (fnc1, attribute, spec, dlpkey) in rows.items():
        entry = AI_TABLE[ai]
        assert (entry.fnc1, entry.dl_attribute) == (fnc1, attribute), ai
        assert len(entry.components) == len(spec.split()), ai
        assert (entry.dl_qualifiers is None) == (dlpkey is None), ai
    assert AI_TABLE["01"].dl_qualifiers == (("22", "10", "21"), ("235",))
    assert AI_TABLE["00"].dl_qualifiers == ((),)


def test_ai_lookup_and_validation() -> None:
    assert lookup_prefix("0109520123456788") is AI_TABLE["01"]
    assert lookup_prefix("3103000195") is AI_TABLE["3103"]
    assert lookup_prefix("8019123") is AI_TABLE["8019"]
    assert lookup_prefix("2A") is None
    validate("8013", "1987654Ad4X4bL5ttr2310c2K")  # GMN example of the GS1 General Specs
    for ai, value in [
        ("8013", "1987654Ad4X4bL5ttr2310c3K"),  # wrong GMN check pair
        ("00", "006141411234567891"),  # wrong SSCC check digit
        ("8001", "000010001000111"),  # zero width
        ("8006", "095201234567880302"),  # piece 3 of 2
        ("11", "261301"),
        ("7007", "2601"),
    ]:
        with pytest.raises(BadIdentifier):
            validate(ai, value)
    with pytest.raises(BadIdentifier, match="unknown GS1 Application Identifier"):
        validate("89", "X")


def test_unbracketed_separates_only_variable_length_ais() -> None:
    ais = [("01", "09520123456788"), ("17", "260331"), ("10", "ABC"), ("21", "X")]
    assert unbracketed(ais) == "^010952012345678817260331" + "10ABC^21X"
    assert unbracketed(ais, "\x1d") == "\x1d01095201234567881726033110ABC\x1d21X"
