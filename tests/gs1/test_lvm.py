"""GS1 Lightweight Verification Messaging requests and answers, and Digital Link 1.0 short names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from provenance.gs1 import lvm
from provenance.gs1.ai import unbracketed
from provenance.gs1.digital_link import parse_digital_link
from provenance.gs1.errors import BadIdentifier, BadVerificationRequest
from tests.paths import VECTORS

GTIN, LOT, SERIAL, EXPIRY, GLN = "00363391180998", "L/7", "S1", "301231", "0363391100002"
PATH = [("01", GTIN), ("10", LOT), ("21", SERIAL)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("verificationService", "gs1:verificationService"),
        ("gs1:verificationService", "gs1:verificationService"),
        ("https://gs1.org/voc/verificationService", "gs1:verificationService"),
        ("https://www.gs1.org/voc/pip", "gs1:pip"),
        ("https://ref.gs1.org/voc/epil", "gs1:epil"),
        ("all", "all"),
        ("schema:url", "schema:url"),
    ],
)
def test_link_types_read_in_every_spelling(value: str, expected: str) -> None:
    assert lvm.link_type(value) == expected


def test_a_request_with_the_lot_in_the_path_and_exp() -> None:
    asked = lvm.read_request(
        PATH,
        {
            "exp": EXPIRY,
            "linkType": "verificationService",
            "context": "dscsaSaleableReturn",
            "reqGLN": GLN,
            "corrUUID": "08dd5e1b-78e7-4dee-9f55-e69f5edf099b",
            "ctrlPossessAtt": "true",
        },
    )
    assert (asked.gtin, asked.lot, asked.serial, asked.expiry) == (GTIN, LOT, SERIAL, EXPIRY)
    assert (asked.requester_gln, asked.context, asked.possession_attested) == (
        GLN,
        "dscsaSaleableReturn",
        True,
    )
    assert asked.correlation_id == "08dd5e1b-78e7-4dee-9f55-e69f5edf099b"


def test_a_request_with_lot_and_expiry_in_the_query() -> None:
    asked = lvm.read_request(PATH[::2], {"10": LOT, "17": EXPIRY, "reqGLN": GLN})
    assert (asked.lot, asked.expiry, asked.context, asked.correlation_id) == (
        LOT,
        EXPIRY,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        (PATH[:2], {"exp": EXPIRY, "reqGLN": GLN}, "a serial"),
        (PATH, {"reqGLN": GLN}, "the expiry"),
        (PATH[::2], {"exp": EXPIRY, "reqGLN": GLN}, "the lot"),
        (PATH[::2], {"reqGLN": GLN}, "lot \\(10\\) and expiry"),
        (PATH, {"exp": EXPIRY}, "reqGLN"),
        (PATH, {"exp": EXPIRY, "reqGLN": "0363391100003"}, "not a 13-digit GLN"),
        (PATH, {"exp": EXPIRY, "17": "301130", "reqGLN": GLN}, "twice"),
        (PATH, {"exp": EXPIRY, "10": "OTHER", "reqGLN": GLN}, "path and query"),
        (PATH, {"exp": "301332", "reqGLN": GLN}, "yymmd0"),
        (PATH[::2], {"10": "A B", "exp": EXPIRY, "reqGLN": GLN}, "invalid character"),
        (PATH, {"exp": EXPIRY, "reqGLN": GLN, "context": "x y"}, "context"),
        (PATH, {"exp": EXPIRY, "reqGLN": GLN, "corrUUID": "a\nb"}, "corrUUID"),
        (PATH, {"exp": EXPIRY, "reqGLN": GLN, "ctrlPossessAtt": "yes"}, "ctrlPossessAtt"),
    ],
)
def test_malformed_requests_are_refused(
    path: list[tuple[str, str]], params: dict[str, str], message: str
) -> None:
    with pytest.raises(BadVerificationRequest, match=message):
        lvm.read_request(path, params)


def test_answers_carry_only_codes_of_the_standard() -> None:
    assert lvm.Verification(True, additional_info=lvm.RECALLED).to_json() == {
        "verified": True,
        "additionalInfo": "Recalled",
    }
    assert lvm.Verification(False, lvm.NOT_FOR_REDISTRIBUTION, lvm.SUSPECT).to_json() == {
        "verified": False,
        "verificationFailureReason": "Not_for_re-distribution",
        "additionalInfo": "Suspect",
    }
    for wrong in (
        lambda: lvm.Verification(False),  # a failure says why
        lambda: lvm.Verification(True, lvm.NO_MATCH_GTIN_SERIAL),
        lambda: lvm.Verification(False, "Not_for_redistribution"),
        lambda: lvm.Verification(True, additional_info="Withdrawn"),
    ):
        with pytest.raises(ValueError):
            wrong()


def test_a_response_names_its_responder_only_when_configured() -> None:
    at = datetime(2026, 3, 1, 10, 20, 30, 123456, tzinfo=UTC)
    result = lvm.Verification(True)
    named = lvm.response_body(result, at=at, responder_gln=GLN, correlation_id="c-1")
    assert named == {
        "verificationTimestamp": "2026-03-01T10:20:30.123Z",
        "responderGLN": GLN,
        "corrUUID": "c-1",
        "data": {"verified": True},
    }
    unnamed = lvm.response_body(result, at=at, responder_gln=None, correlation_id=None)
    assert unnamed == {"verificationTimestamp": "2026-03-01T10:20:30.123Z", "data": named["data"]}


# --- Digital Link 1.0 convenience alphas (the upstream vectors that need the option) -------------


def _alpha_cases() -> list[Any]:
    cases = json.loads((VECTORS / "digital-link" / "dl_uri_parse_cases.json").read_text())
    return [
        pytest.param(c, id=c["uri"])
        for c in cases
        if c["options"] == {"permitConvenienceAlphas": True}
    ]


@pytest.mark.parametrize("case", _alpha_cases())
def test_convenience_alpha_vectors(case: dict[str, Any]) -> None:
    if case["valid"]:
        ais = parse_digital_link(case["uri"], permit_convenience_alphas=True)
        assert unbracketed(ais) == case["expected_fnc1"]
    else:
        with pytest.raises(BadIdentifier):
            parse_digital_link(case["uri"], permit_convenience_alphas=True)
    with pytest.raises(BadIdentifier):  # never without the option
        parse_digital_link(case["uri"])


def test_the_upstream_alpha_vectors_are_there() -> None:
    assert len(_alpha_cases()) == 5


def test_short_names_as_verification_routers_send_them() -> None:
    uri = f"https://vrs.example/verify/gtin/{GTIN}/lot/L%2F7/ser/lot?exp={EXPIRY}&linkType=x"
    assert parse_digital_link(uri, permit_convenience_alphas=True) == [
        ("01", GTIN),
        ("10", "L/7"),
        ("21", "lot"),  # a value is never read as a short name
        ("17", EXPIRY),
    ]


def test_an_unknown_ai_is_named() -> None:
    with pytest.raises(BadIdentifier, match=r"\(19\) is not a GS1 Application Identifier"):
        parse_digital_link(f"https://x.example/01/{GTIN}/19/A")
