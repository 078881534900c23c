"""Wycheproof ECDSA P-256/SHA-256 vectors (DER and IEEE P1363) through `verify_p256`.

Without the low-S rule: 0 invalid accepted, 0 valid rejected, 0 exceptions escaping.
With it (the server's policy): exactly the valid high-S signatures are rejected as well.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from provenance.log.signing import HALF_ORDER, P256_ORDER, is_valid_p256, verify_p256
from tests.paths import VECTORS

VECTORS = VECTORS / "wycheproof"
FILES = {
    "der": "ecdsa_secp256r1_sha256_test.json",
    "p1363": "ecdsa_secp256r1_sha256_p1363_test.json",
}


def cases(encoding: str) -> list[tuple[str, bytes, dict[str, Any]]]:
    data = json.loads((VECTORS / FILES[encoding]).read_text())
    out = []
    for group in data["testGroups"]:
        der = bytes.fromhex(group["publicKeyDer"])
        for test in group["tests"]:
            out.append((encoding, der, test))
    return out


ALL = cases("der") + cases("p1363")


def s_value(encoding: str, sig: bytes) -> int | None:
    if encoding == "p1363":
        return int.from_bytes(sig[32:]) if len(sig) == 64 else None
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    try:
        return int(decode_dss_signature(sig)[1])
    except ValueError:
        return None


@pytest.mark.parametrize(
    ("encoding", "der", "test"), ALL, ids=[f"{e}-tc{t['tcId']}" for e, _, t in ALL]
)
def test_vector(encoding: str, der: bytes, test: dict[str, Any]) -> None:
    msg, sig = bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"])
    lenient = is_valid_p256(der, msg, sig, low_s=False, encoding=encoding)
    strict = is_valid_p256(der, msg, sig, encoding=encoding)
    if test["result"] == "invalid":
        assert not lenient and not strict
    elif test["result"] == "valid":
        assert lenient
        s = s_value(encoding, sig)
        assert s is not None and 0 < s < P256_ORDER
        assert strict == (s <= HALF_ORDER)


@pytest.mark.parametrize("encoding", ["der", "p1363"])
def test_totals(encoding: str) -> None:
    """Whole-file counts, so a silently skipped vector cannot hide."""
    accepted_invalid = rejected_valid = escaped = high_s_rejected = 0
    valid = 0
    for _, der, test in cases(encoding):
        msg, sig = bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"])
        try:
            ok = is_valid_p256(der, msg, sig, low_s=False, encoding=encoding)
            ok_strict = is_valid_p256(der, msg, sig, encoding=encoding)
        except Exception:  # noqa: BLE001 - counting anything that escapes is the point
            escaped += 1
            continue
        if test["result"] == "valid":
            valid += 1
            rejected_valid += not ok
            high_s_rejected += ok and not ok_strict
        elif test["result"] == "invalid":
            accepted_invalid += ok or ok_strict
    assert (accepted_invalid, rejected_valid, escaped) == (0, 0, 0)
    expected = {"der": (174, 71), "p1363": (173, 70)}[encoding]
    assert (valid, high_s_rejected) == expected


def test_point_at_infinity_vectors_are_invalid_not_errors() -> None:
    """python-ecdsa raises TypeError on these; the boundary must turn that into BadSignature."""
    from provenance.log.errors import BadSignature

    wanted = {392, 428, 431, 445, 446}
    seen = 0
    for _, der, test in cases("der"):
        if test["tcId"] in wanted:
            seen += 1
            with pytest.raises(BadSignature):
                verify_p256(
                    der, bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"]), low_s=False
                )
    assert seen == len(wanted)
