"""DSCSA verification (GS1 LVM): the request forms verification routers and clients send, the
answer codes of the LVM scenarios, and who may ask."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from provenance.errors import BadParameter
from tests.conftest import make_app
from tests.parties import Authority, PartyKey, read, signed
from tests.supply.chain import (
    FUTURE,
    GTIN,
    LOT,
    WHOLESALER_GLN,
    Chain,
    commission_serialised,
    make_chain,
)

UUID = "08dd5e1b-78e7-4dee-9f55-e69f5edf099b"
VERIFY = "gs1:verificationService"
VOCABULARY_URI = "https://gs1.org/voc/verificationService"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SLASHED = "A/B-7"  # a lot with "/" (GS1 character set 82), sent as %2F


def client_forms(serial: str, lot: str = LOT, expiry: str = FUTURE) -> list[str]:
    """Nine request forms of the GS1 Lightweight Messaging Standard for Verification of Product
    Identifiers (LVM 1.0-1.3) and of the verification routers built on it."""
    g, lt, s, e, who = GTIN, quote(lot, safe=""), quote(serial, safe=""), expiry, WHOLESALER_GLN
    common = f"linkType=verificationService&context=dscsaSaleableReturn&reqGLN={who}"
    return [
        # 1. LVM: the whole identifier in the Digital Link path, the expiry as `exp`.
        f"/01/{g}/10/{lt}/21/{s}?exp={e}&{common}&corrUUID={UUID}",
        # 2. LVM: GTIN and serial in the path, lot and expiry as query AIs.
        f"/01/{g}/21/{s}?10={lt}&17={e}&linkType={VERIFY}&context=dscsaSaleableReturn"
        f"&reqGLN={who}&corrUUID={UUID}",
        # 3. Digital Link 1.0 short names, as verification routers send them.
        f"/gtin/{g}/lot/{lt}/ser/{s}?exp={e}&{common}&corrUUID={UUID}",
        # 4. LVM 1.2+: the possession attestation and the requester's contact details.
        f"/gtin/{g}/lot/{lt}/ser/{s}?exp={e}&{common}&corrUUID={UUID}&ctrlPossessAtt=true"
        "&email=returns%40wholesaler.example&telephone=%2B15555550100",
        # 5. The link type as the vocabulary's full URI.
        f"/01/{g}/10/{lt}/21/{s}?exp={e}&linkType={quote(VOCABULARY_URI, safe='')}&reqGLN={who}",
        # 6. The expiry as the Digital Link data attribute 17, no context, no corrUUID.
        f"/01/{g}/10/{lt}/21/{s}?17={e}&linkType={VERIFY}&reqGLN={who}",
        # 7. The parameters in another order.
        f"/01/{g}/10/{lt}/21/{s}?reqGLN={who}&corrUUID={UUID}&exp={e}"
        "&context=dscsaSaleableReturn&linkType=verificationService",
        # 8. A trailing slash after the serial.
        f"/01/{g}/10/{lt}/21/{s}/?exp={e}&{common}",
        # 9. Short names with the lot and expiry in the query.
        f"/gtin/{g}/ser/{s}?10={lt}&exp={e}&{common}",
    ]


def ask(chain: Chain, url: str, party: PartyKey | None = None, status: int = 200) -> Any:
    answer = read(chain.client, party or chain.wholesaler, url)
    assert answer.status_code == status, answer.get_json()
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    return answer.get_json()


def data(chain: Chain, serial: str, lot: str = LOT, expiry: str = FUTURE) -> Any:
    return ask(chain, client_forms(serial, lot, expiry)[0])["data"]


def test_every_client_form_verifies_a_matching_pack(chain: Chain) -> None:
    serials = commission_serialised(chain)
    forms = client_forms(serials[0])
    assert len(forms) == 9
    for form in forms:
        body = ask(chain, form)
        assert body["data"] == {"verified": True}, form
        assert TIMESTAMP.fullmatch(body["verificationTimestamp"])
        assert "responderGLN" not in body  # no RESPONDER_GLN configured: none made up
        assert body.get("corrUUID") == (UUID if "corrUUID" in form else None)


def test_every_client_form_reads_a_lot_with_a_slash(chain: Chain) -> None:
    serials = commission_serialised(chain, lot=SLASHED)
    for form in client_forms(serials[0], lot=SLASHED):
        assert "%2F" in form
        assert ask(chain, form)["data"] == {"verified": True}, form
    for form in client_forms(serials[0], lot="A/B-8"):
        assert ask(chain, form)["data"] == {
            "verified": False,
            "verificationFailureReason": "No_match_GTIN_Serial_Lot",
        }, form


def test_verified_only_when_gtin_serial_lot_and_expiry_all_match(chain: Chain) -> None:
    serials = commission_serialised(chain)
    commission_serialised(chain, lot="LOT-B", count=1)
    assert data(chain, serials[0]) == {"verified": True}
    assert data(chain, "NOPE") == {
        "verified": False,
        "verificationFailureReason": "No_match_GTIN_Serial",
    }
    assert data(chain, serials[0], lot="X") == {
        "verified": False,
        "verificationFailureReason": "No_match_GTIN_Serial_Lot",
    }
    # The lot of another batch of the same product does not match this serial either.
    assert data(chain, serials[0], lot="LOT-B")["verificationFailureReason"] == (
        "No_match_GTIN_Serial_Lot"
    )
    assert data(chain, serials[0], expiry="301130") == {
        "verified": False,
        "verificationFailureReason": "No_match_GTIN_Serial_Expiry",
    }
    assert data(chain, serials[0], lot="X", expiry="301130") == {
        "verified": False,
        "verificationFailureReason": "No_match_GTIN_Serial_Lot_Expiry",
    }
    # Day 00 is the month's last day: the same date as commissioned 301231.
    assert data(chain, serials[0], expiry="301200") == {"verified": True}


def test_a_recalled_pack_is_verified_and_marked_recalled(chain: Chain) -> None:
    serials = commission_serialised(chain)
    chain.send(chain.maker, "batch.recall", {"gtin": GTIN, "lot": LOT, "reason": "particles"})
    assert data(chain, serials[0]) == {"verified": True, "additionalInfo": "Recalled"}
    # A mismatch is still a mismatch: the recall does not make a wrong lot right.
    assert data(chain, serials[0], lot="X")["verificationFailureReason"] == (
        "No_match_GTIN_Serial_Lot"
    )


def test_an_expired_pack_is_verified_and_marked_expired(chain: Chain) -> None:
    serials = commission_serialised(chain, lot="OLD", expiry="200100")
    assert data(chain, serials[0], lot="OLD", expiry="200131") == {
        "verified": True,
        "additionalInfo": "Expired",
    }


def _to_pharmacy(chain: Chain, serials: list[str]) -> None:
    for sender, to, ref in (
        (chain.maker, chain.wholesaler, "D"),
        (chain.wholesaler, chain.pharmacy, "W"),
    ):
        move = {"shipment": ref, "gtin": GTIN, "lot": LOT, "to": to.gln, "serials": serials}
        chain.send(sender, "custody.ship", move)
        chain.send(to, "custody.receive", {"from": sender.gln, "shipment": ref, "serials": serials})


def test_packs_out_of_the_supply_chain_are_not_for_redistribution(chain: Chain) -> None:
    serials = commission_serialised(chain)
    _to_pharmacy(chain, serials[:3])
    batch = {"gtin": GTIN, "lot": LOT}
    chain.send(chain.pharmacy, "custody.dispense", {**batch, "serials": [serials[0]]})
    chain.send(chain.pharmacy, "pack.state", {**batch, "serials": [serials[1]], "state": "stolen"})
    chain.send(
        chain.pharmacy, "custody.destroy", {**batch, "serials": [serials[2]], "reason": "broken"}
    )
    assert data(chain, serials[0]) == {
        "verified": False,
        "verificationFailureReason": "Not_for_re-distribution",
        "additionalInfo": "Suspect",
    }
    assert data(chain, serials[1]) == {
        "verified": False,
        "verificationFailureReason": "Not_for_re-distribution",
        "additionalInfo": "Illegitimate",
    }
    assert data(chain, serials[2])["verificationFailureReason"] == "Not_for_re-distribution"
    assert data(chain, serials[3]) == {"verified": True}


def test_a_pack_with_open_duplicate_alerts_is_verified_and_marked_suspect(chain: Chain) -> None:
    serials = commission_serialised(chain)
    _to_pharmacy(chain, serials[:1])
    batch = {"gtin": GTIN, "lot": LOT, "serials": serials[:1]}
    chain.send(chain.pharmacy, "custody.dispense", batch)
    chain.send(
        chain.other_pharmacy, "scan.record", {"gtin": GTIN, "lot": LOT, "serial": serials[0]}
    )
    chain.send(chain.pharmacy, "pack.state", {**batch, "state": "active"})  # the dispense undone
    assert data(chain, serials[0]) == {"verified": True, "additionalInfo": "Suspect"}


def test_a_gtin_of_another_responder_is_not_found(chain: Chain) -> None:
    problem = ask(chain, client_forms("S1")[0].replace(GTIN, "05901234123457"), status=404)
    assert "not registered" in problem["detail"]


def test_the_requester_is_identified(chain: Chain) -> None:
    serials = commission_serialised(chain)
    url = client_forms(serials[0])[0]
    anonymous = chain.client.get(url)
    assert anonymous.status_code == 401 and "accept_signature" in anonymous.get_json()
    assert anonymous.headers["Access-Control-Allow-Origin"] == "*"  # its refusals too
    # Another party naming the wholesaler as the requester is refused, and says so.
    assert "reqGLN" in ask(chain, url, chain.pharmacy, status=403)["detail"]
    assert ask(chain, url.replace(WHOLESALER_GLN, chain.pharmacy.gln), chain.pharmacy)["data"]
    # The requester's reqGLN is required, and must be a GLN.
    for bad in (url.replace(f"&reqGLN={WHOLESALER_GLN}", ""), url.replace(WHOLESALER_GLN, "123")):
        problem = ask(chain, bad, status=400)
        assert (
            problem["type"].endswith("/bad-verification-request") and "reqGLN" in problem["detail"]
        )
    # A browser session identifies its party as a signature does.
    link = chain.client.post(
        "/api/v1/login-links", headers=signed(chain.wholesaler, "POST", "/api/v1/login-links")
    )
    login = chain.client.get(urlsplit(link.get_json()["url"]).path)
    cookie = login.headers["Set-Cookie"].split(";", 1)[0]
    in_session = chain.client.get(url, headers={"Cookie": cookie})
    assert in_session.status_code == 200 and in_session.get_json()["data"] == {"verified": True}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda u: u.replace(f"exp={FUTURE}&", ""), "expiry"),
        (lambda u: u.replace(f"/10/{LOT}", ""), "lot"),
        (lambda u: u.replace(f"exp={FUTURE}", "exp=301232"), "yymmd0"),
        (lambda u: u.replace(f"exp={FUTURE}", f"exp={FUTURE}&17=301130"), "twice"),
        (lambda u: u + "&ctrlPossessAtt=maybe", "ctrlPossessAtt"),
    ],
)
def test_an_incomplete_or_malformed_request_is_400(chain: Chain, change: Any, message: str) -> None:
    serials = commission_serialised(chain)
    problem = ask(chain, change(client_forms(serials[0])[0]), status=400)
    assert problem["type"].endswith("/bad-verification-request") and message in problem["detail"]


def test_a_verification_needs_a_serial(chain: Chain) -> None:
    commission_serialised(chain)
    url = f"/01/{GTIN}/10/{LOT}?exp={FUTURE}&linkType={VERIFY}&reqGLN={WHOLESALER_GLN}"
    assert "serial" in ask(chain, url, status=400)["detail"]


def test_the_configured_responder_gln_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVENANCE_RESPONDER_GLN", "5412345000013")
    app = make_app(tmp_path / "data")
    chain = make_chain(app.test_client(), Authority.from_app(app))
    serials = commission_serialised(chain)
    body = ask(chain, client_forms(serials[0])[0])
    assert body["responderGLN"] == "5412345000013" and body["corrUUID"] == UUID
    monkeypatch.setenv("PROVENANCE_RESPONDER_GLN", "5412345000014")  # a wrong check digit
    with pytest.raises(BadParameter, match="RESPONDER_GLN"):
        make_app(tmp_path / "other")
