"""A plain EPCIS document's signature: DSSE over its exact bytes, sent in a `DSSE-Signature`
header (an RFC 8941 dictionary), from which the server rebuilds the envelope the log stores."""

from __future__ import annotations

import base64
import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from http_sfv.dictionary import Dictionary
from http_sfv.item import Item

from provenance.access.errors import BadRequestSignature
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE
from provenance.log.signing import key_id, pae, public_key_der, sign_p256

HEADER = "DSSE-Signature"
#: Media types a plain document is sent as; its DSSE payload type is EPCIS_PAYLOAD_TYPE either way.
MEDIA_TYPES = ("application/ld+json", "application/json")
_KEY_ID = re.compile(r"^[0-9a-f]{64}$")


def signature_header(key: ec.EllipticCurvePrivateKey, document: bytes) -> str:
    """`keyid="<hex SHA-256 of the public key>", sig=:<base64 DER ECDSA over PAE>:`"""
    field = Dictionary()
    field["keyid"] = Item(key_id(public_key_der(key)))
    field["sig"] = Item(sign_p256(key, pae(EPCIS_PAYLOAD_TYPE, document)))
    return str(field)


def parse_header(value: str) -> tuple[str, bytes]:
    """(keyid, signature) of a `DSSE-Signature` header; BadRequestSignature if malformed."""
    field = Dictionary()
    try:
        field.parse(value.encode())
    except ValueError as exc:
        raise BadRequestSignature(f"{HEADER} is not a structured field: {exc}") from None
    if set(field) != {"keyid", "sig"}:
        raise BadRequestSignature(f"{HEADER} has exactly keyid and sig")
    keyid, sig = field["keyid"].value, field["sig"].value
    if not isinstance(keyid, str) or not _KEY_ID.match(keyid):
        raise BadRequestSignature(f"{HEADER} keyid is the 64-hex-digit SHA-256 of the key")
    if not isinstance(sig, bytes) or not sig:
        raise BadRequestSignature(f"{HEADER} sig is a byte sequence (:base64:)")
    return keyid, sig


def envelope_json(keyid: str, signature: bytes, document: bytes) -> dict[str, Any]:
    """The DSSE envelope the signature makes with the document: what the log verifies and
    stores, so anyone checks it with the party's public key, as any other entry."""
    return {
        "payload": base64.b64encode(document).decode(),
        "payloadType": EPCIS_PAYLOAD_TYPE,
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(signature).decode()}],
    }
