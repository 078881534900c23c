"""DSSE envelopes and ECDSA P-256: verification with python-ecdsa, client signing with pyca."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import ecdsa
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from ecdsa.ellipticcurve import PointJacobi
from ecdsa.util import sigdecode_der, sigdecode_string

from provenance.log.errors import BadEnvelope, BadKey, BadSignature

#: The payload type of a statement; a personality's payload codecs may accept others.
PAYLOAD_TYPE = "application/vnd.provenance.statement+json"
P256_ORDER: int = int(ecdsa.NIST256p.order)
HALF_ORDER = P256_ORDER // 2
_KEY_ID = re.compile(r"^[0-9a-f]{64}$")
# DER prefix of a P-256 SubjectPublicKeyInfo with an uncompressed point (RFC 5480).
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def key_id(spki_der: bytes) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(spki_der).hexdigest()


@lru_cache(maxsize=4096)
def parse_public_key(spki_der: bytes) -> ecdsa.VerifyingKey:
    """A P-256 key in its one canonical encoding (uncompressed point), so one key has one id."""
    if len(spki_der) != len(_SPKI_PREFIX) + 65 or not spki_der.startswith(_SPKI_PREFIX):
        raise BadKey("expected a P-256 SubjectPublicKeyInfo with an uncompressed point")
    try:
        return ecdsa.VerifyingKey.from_der(spki_der, valid_encodings=("uncompressed",))
    except Exception as exc:  # python-ecdsa raises assorted errors on bad points
        raise BadKey(f"not a valid P-256 public key: {exc}") from exc


@lru_cache(maxsize=256)
def _verifier(spki_der: bytes) -> ecdsa.VerifyingKey:
    """The key with python-ecdsa's precomputed multiples of its point, which halves the cost of
    each verification (about 52 KiB a key, so only the most used keys keep one).

    python-ecdsa precomputes only for a point that knows the group order, which a key read from
    DER does not carry: the point is rebuilt with it (after `parse_public_key` checked it)."""
    point = parse_public_key(spki_der).pubkey.point
    curve = ecdsa.NIST256p
    with_order = PointJacobi(curve.curve, point.x(), point.y(), 1, curve.order, generator=True)
    key = ecdsa.VerifyingKey.from_public_point(with_order, curve=curve)
    key.precompute()
    return key


def _der_signature(signature: bytes) -> tuple[int, int]:
    """Strict DER: decoding and re-encoding must give the same bytes."""
    try:
        r, s = decode_dss_signature(signature)
    except ValueError as exc:
        raise BadSignature("signature is not DER-encoded (r, s)") from exc
    if encode_dss_signature(r, s) != signature:
        raise BadSignature("signature is not in canonical DER")
    return r, s


def _p1363_signature(signature: bytes) -> tuple[int, int]:
    if len(signature) != 64:
        raise BadSignature("an IEEE P1363 P-256 signature is 64 bytes")
    return int.from_bytes(signature[:32]), int.from_bytes(signature[32:])


def verify_p256(
    spki_der: bytes,
    message: bytes,
    signature: bytes,
    *,
    low_s: bool = True,
    encoding: Literal["der", "p1363"] = "der",
) -> None:
    """Raise BadSignature unless `signature` is a valid ECDSA P-256/SHA-256 signature."""
    key = _verifier(spki_der)
    r, s = _der_signature(signature) if encoding == "der" else _p1363_signature(signature)
    if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
        raise BadSignature("signature values are out of range")
    if low_s and s > HALF_ORDER:
        raise BadSignature("signature has a high S value; only low-S signatures are accepted")
    decode = sigdecode_der if encoding == "der" else sigdecode_string
    try:
        ok = key.verify(signature, message, hashfunc=hashlib.sha256, sigdecode=decode)
    except Exception as exc:
        # python-ecdsa raises more than BadSignatureError on crafted input (e.g. TypeError when
        # u1*G + u2*Q is the point at infinity); every one of them means "invalid".
        raise BadSignature("signature does not verify") from exc
    if not ok:
        raise BadSignature("signature does not verify")


def is_valid_p256(spki_der: bytes, message: bytes, signature: bytes, **options: Any) -> bool:
    try:
        verify_p256(spki_der, message, signature, **options)
    except (BadSignature, BadKey):
        return False
    return True


def normalise_low_s(signature_der: bytes) -> bytes:
    r, s = decode_dss_signature(signature_der)
    return encode_dss_signature(r, P256_ORDER - s if s > HALF_ORDER else s)


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope with exactly one signature."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self, *, detached: bool = False) -> dict[str, Any]:
        """The DSSE JSON; `detached` names the payload by its SHA-256 instead of carrying it."""
        if detached:
            payload = {"payloadSha256": hashlib.sha256(self.payload).hexdigest()}
        else:
            payload = {"payload": base64.b64encode(self.payload).decode()}
        return {
            **payload,
            "payloadType": self.payload_type,
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in self.signatures
            ],
        }

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)


def _b64(value: object, field: str) -> bytes:
    """DSSE accepts standard or URL-safe base64; anything else is refused."""
    if not isinstance(value, str) or not value:
        raise BadEnvelope(f"{field} must be a non-empty base64 string")
    text = value.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadEnvelope(f"{field} is not valid base64") from exc


def parse_envelope(
    obj: Any,
    *,
    payload_types: Collection[str] = (PAYLOAD_TYPE,),
    detached_payload: bytes | None = None,
) -> Envelope:
    """A DSSE envelope of one of `payload_types`; a detached one (`payloadSha256`) is completed
    with its stored payload."""
    if not isinstance(obj, dict):
        raise BadEnvelope("a DSSE envelope is a JSON object")
    carried = "payloadSha256" if detached_payload is not None else "payload"
    if set(obj) != {carried, "payloadType", "signatures"}:
        raise BadEnvelope(f"a DSSE envelope has exactly {carried}, payloadType and signatures")
    if obj["payloadType"] not in payload_types:
        raise BadEnvelope(f"payloadType must be one of {', '.join(sorted(payload_types))}")
    if detached_payload is not None:
        if hashlib.sha256(detached_payload).hexdigest() != obj["payloadSha256"]:
            raise BadEnvelope("the stored payload does not match payloadSha256")
        payload = detached_payload
    else:
        payload = _b64(obj["payload"], "payload")
    signatures = obj["signatures"]
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise BadEnvelope("a statement carries exactly one signature")
    entry = signatures[0]
    if not isinstance(entry, dict) or set(entry) != {"keyid", "sig"}:
        raise BadEnvelope("a signature has exactly keyid and sig")
    if not isinstance(entry["keyid"], str) or not _KEY_ID.match(entry["keyid"]):
        raise BadEnvelope("keyid must be the 64-hex-digit SHA-256 of the signer's public key")
    signature = Signature(entry["keyid"], _b64(entry["sig"], "sig"))
    return Envelope(obj["payloadType"], payload, (signature,))


# --- client side: pyca/cryptography ------------------------------------------------------------


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


class KeyLocked(BadKey):
    """A passphrase-protected private key was to be used without its passphrase."""


def public_key_der(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_key_pem(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM; with a passphrase, encrypted (PBES2, AES-256-CBC, the best pyca offers)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def is_encrypted_pem(data: bytes) -> bool:
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def load_private_key_pem(
    data: bytes, passphrase: bytes | None = None
) -> ec.EllipticCurvePrivateKey:
    encrypted = is_encrypted_pem(data)
    if encrypted and not passphrase:
        raise KeyLocked("the private key is protected by a passphrase, and none was given")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        if encrypted:
            raise BadKey("the passphrase does not open this private key") from exc
        raise BadKey(f"not a PEM private key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise BadKey("the private key must be ECDSA P-256")
    return key


def load_public_key_pem(data: bytes) -> bytes:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise BadKey(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise BadKey("the public key must be ECDSA P-256")
    return public_key_der(key)


def sign_p256(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """DER signature, normalised to low S as the server requires."""
    return normalise_low_s(key.sign(message, ec.ECDSA(hashes.SHA256())))


def sign_envelope(
    key: ec.EllipticCurvePrivateKey, payload: bytes, payload_type: str = PAYLOAD_TYPE
) -> Envelope:
    signature = sign_p256(key, pae(payload_type, payload))
    return Envelope(payload_type, payload, (Signature(key_id(public_key_der(key)), signature),))


def verify_envelope(envelope: Envelope, spki_der: bytes) -> None:
    signature = envelope.signatures[0]
    if signature.keyid != key_id(spki_der):
        raise BadSignature("the envelope was signed by another key")
    verify_p256(spki_der, envelope.pae(), signature.sig)
