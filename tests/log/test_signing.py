"""DSSE envelopes, key ids and ECDSA P-256 verification rules."""

from __future__ import annotations

import base64
import hashlib
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provenance.log.errors import BadEnvelope, BadKey, BadSignature
from provenance.log.signing import (
    HALF_ORDER,
    P256_ORDER,
    generate_private_key,
    key_id,
    pae,
    parse_envelope,
    parse_public_key,
    public_key_der,
    sign_envelope,
    sign_p256,
    verify_envelope,
    verify_p256,
)


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return generate_private_key()


def test_pae_matches_the_dsse_spec_example() -> None:
    # DSSE protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_key_id_is_sha256_of_spki(key: ec.EllipticCurvePrivateKey) -> None:
    der = public_key_der(key)
    assert key_id(der) == hashlib.sha256(der).hexdigest()
    assert der == key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def test_envelope_round_trip(key: ec.EllipticCurvePrivateKey) -> None:
    envelope = sign_envelope(key, b'{"a":1}')
    parsed = parse_envelope(envelope.to_json())
    assert parsed == envelope
    verify_envelope(parsed, public_key_der(key))
    with pytest.raises(BadSignature):
        verify_envelope(parsed, public_key_der(generate_private_key()))


def test_url_safe_base64_is_accepted(key: ec.EllipticCurvePrivateKey) -> None:
    envelope = sign_envelope(key, b"\xfb\xff" * 20).to_json()
    envelope["payload"] = base64.urlsafe_b64encode(b"\xfb\xff" * 20).decode().rstrip("=")
    assert parse_envelope(envelope).payload == b"\xfb\xff" * 20


def _good(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    return sign_envelope(key, b"{}").to_json()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: [e],
        lambda e: "text",
        lambda e: {k: v for k, v in e.items() if k != "payload"},
        lambda e: {**e, "extra": 1},
        lambda e: {**e, "payloadType": "application/json"},
        lambda e: {**e, "signatures": []},
        lambda e: {**e, "signatures": e["signatures"] * 2},
        lambda e: {**e, "signatures": [{"keyid": "ABC", "sig": e["signatures"][0]["sig"]}]},
        lambda e: {**e, "signatures": [{"sig": e["signatures"][0]["sig"]}]},
        lambda e: {**e, "signatures": ["x"]},
        lambda e: {**e, "payload": "***"},
        lambda e: {**e, "payload": ""},
        lambda e: {**e, "payload": 5},
        lambda e: {**e, "signatures": [{**e["signatures"][0], "sig": "@@"}]},
    ],
)
def test_envelope_rejections(key: ec.EllipticCurvePrivateKey, mutate: Any) -> None:
    with pytest.raises(BadEnvelope):
        parse_envelope(mutate(_good(key)))


def test_client_signatures_are_low_s(key: ec.EllipticCurvePrivateKey) -> None:
    der = public_key_der(key)
    for i in range(300):
        message = i.to_bytes(4, "big")
        signature = sign_p256(key, message)
        assert decode_dss_signature(signature)[1] <= HALF_ORDER
        verify_p256(der, message, signature)


def test_high_s_twin_is_rejected(key: ec.EllipticCurvePrivateKey) -> None:
    der = public_key_der(key)
    r, s = decode_dss_signature(sign_p256(key, b"m"))
    twin = encode_dss_signature(r, P256_ORDER - s)
    verify_p256(der, b"m", twin, low_s=False)  # mathematically valid …
    with pytest.raises(BadSignature, match="high S"):
        verify_p256(der, b"m", twin)  # … but not in the one accepted encoding


def test_non_canonical_der_is_rejected(key: ec.EllipticCurvePrivateKey) -> None:
    der = public_key_der(key)
    signature = sign_p256(key, b"m")
    r, s = decode_dss_signature(signature)
    body = signature[2:]
    variants = [
        signature + b"\x00",  # trailing byte
        b"\x30\x81" + bytes([len(body)]) + body,  # long-form length
    ]
    r_bytes = r.to_bytes(33, "big")  # a leading zero that is not needed for the sign bit
    if r_bytes[1] < 0x80:
        s_part = encode_dss_signature(1, s)[5:]
        inner = b"\x02" + bytes([len(r_bytes)]) + r_bytes + s_part
        variants.append(b"\x30" + bytes([len(inner)]) + inner)
    for variant in variants:
        with pytest.raises(BadSignature):
            verify_p256(der, b"m", variant)


@pytest.mark.parametrize(
    "make",
    [
        lambda: b"",
        lambda: b"junk",
        lambda: (
            ec.generate_private_key(ec.SECP384R1())
            .public_key()
            .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        ),
        lambda: (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        ),
        lambda: (
            generate_private_key()
            .public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        ),
    ],
)
def test_bad_keys(make: Any) -> None:
    with pytest.raises(BadKey):
        parse_public_key(make())


def test_point_not_on_curve_is_a_bad_key(key: ec.EllipticCurvePrivateKey) -> None:
    der = bytearray(public_key_der(key))
    der[-1] ^= 1
    with pytest.raises(BadKey):
        parse_public_key(bytes(der))


def test_fuzzed_signatures_and_keys_fail_cleanly(key: ec.EllipticCurvePrivateKey) -> None:
    rng = random.Random(11)
    der = public_key_der(key)
    signature = sign_p256(key, b"fuzz")
    for _ in range(3000):
        sig = bytearray(signature)
        for _ in range(rng.randint(1, 3)):
            sig[rng.randrange(len(sig))] = rng.randrange(256)
        spki = bytearray(der)
        if rng.random() < 0.5:
            spki[rng.randrange(len(spki))] = rng.randrange(256)
        try:
            verify_p256(bytes(spki), b"fuzz", bytes(sig))
        except (BadSignature, BadKey):
            continue
        assert bytes(sig) == signature and bytes(spki) == der
