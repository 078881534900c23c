"""RFC 9421 request signatures: the RFC's own examples, and what the server refuses."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from http_sfv.dictionary import Dictionary

from provenance.access.errors import BadRequestSignature
from provenance.access.http_signatures import (
    check_content_digest,
    content_digest,
    sign_request,
    signature_base,
    verify_request,
)
from provenance.log.signing import generate_private_key, key_id, public_key_der, verify_p256
from tests.paths import VECTORS

EXAMPLES = json.loads((VECTORS / "rfc9421" / "examples.json").read_text())


def _params(signature_input: str) -> tuple[str, Any]:
    parsed = Dictionary()
    parsed.parse(signature_input.encode())
    ((label, params),) = parsed.items()
    return label, params


def test_the_signature_base_of_section_2_5() -> None:
    example = EXAMPLES["section-2.5"]
    _, params = _params(example["signature-input"])
    base = signature_base(example["components"], example["values"], params)
    assert base.decode() == example["base"]


def test_the_ecdsa_p256_example_of_b_2_4_verifies_with_python_ecdsa() -> None:
    example = EXAMPLES["B.2.4"]
    der = serialization.load_pem_public_key(example_key()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, params = _params(example["signature-input"])
    base = signature_base(example["components"], example["values"], params)
    signature = Dictionary()
    signature.parse(example["signature"].encode())
    raw = signature["sig-b24"].value
    verify_p256(der, base, raw, encoding="p1363", low_s=False)
    check_content_digest(example["values"]["content-digest"], example["body"].encode())
    with pytest.raises(Exception):  # noqa: B017  (any failure: the base changed by one byte)
        verify_p256(der, base.replace(b"200", b"201"), raw, encoding="p1363", low_s=False)


def example_key() -> bytes:
    return str(EXAMPLES["test-key-ecc-p256"]).encode()


def signed(body: bytes = b"", **overrides: Any) -> tuple[dict[str, Any], bytes]:
    key = generate_private_key()
    der = public_key_der(key)
    request: dict[str, Any] = {"method": "POST", "path": "/api/v1/statements", "query": ""}
    headers = sign_request(key, body=body, **request)
    request.update(overrides)
    return {**request, "headers": headers, "body": body}, der


def check(request: dict[str, Any], der: bytes, **options: Any) -> str:
    return verify_request(key_lookup={key_id(der): der}.get, **request, **options).key_id


def test_a_signed_request_verifies_and_names_its_key() -> None:
    request, der = signed(b'{"a": 1}')
    assert check(request, der) == key_id(der)
    assert request["headers"]["Content-Digest"] == content_digest(b'{"a": 1}')
    assert 'alg="ecdsa-p256-sha256"' in request["headers"]["Signature-Input"]


@pytest.mark.parametrize(
    "change",
    [
        {"method": "GET"},
        {"path": "/api/v1/statements/batch"},
        {"query": "open=1"},
        {"body": b'{"a": 2}'},
    ],
)
def test_any_change_to_a_covered_part_is_refused(change: dict[str, Any]) -> None:
    request, der = signed(b'{"a": 1}')
    request.update(change)
    with pytest.raises(BadRequestSignature):
        check(request, der)


def test_unknown_keys_stale_signatures_and_garbage_are_refused() -> None:
    request, der = signed()
    with pytest.raises(BadRequestSignature, match="registered"):
        verify_request(key_lookup=lambda _k: None, **request)
    with pytest.raises(BadRequestSignature, match="5 minutes"):
        check(request, der, now=int(time.time()) + 3600)
    for bad in ("sig1=:AAAA:", "nonsense", ""):
        broken = dict(request, headers={**request["headers"], "Signature": bad})
        with pytest.raises(BadRequestSignature):
            check(broken, der)
    twice = dict(request["headers"])
    twice["Signature-Input"] += ", " + twice["Signature-Input"].replace("sig1=", "sig2=", 1)
    with pytest.raises(BadRequestSignature, match="exactly one"):
        check(dict(request, headers=twice), der)


def test_a_body_needs_its_digest_covered() -> None:
    key = generate_private_key()
    der = public_key_der(key)
    headers = sign_request(key, method="POST", path="/x", body=b"")
    with pytest.raises(BadRequestSignature, match="content-digest|Content-Digest"):
        verify_request(
            method="POST",
            path="/x",
            query="",
            headers=headers,
            body=b"smuggled",
            key_lookup={key_id(der): der}.get,
        )
    wrong = "sha-256=:" + base64.b64encode(hashlib.sha256(b"other").digest()).decode() + ":"
    with pytest.raises(BadRequestSignature, match="does not match"):
        check_content_digest(wrong, b"body")
