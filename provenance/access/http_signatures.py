"""RFC 9421 HTTP Message Signatures with ecdsa-p256-sha256, and RFC 9530 Content-Digest.

Clients (the CLI, the Python client, integrations) sign requests with a registered P-256 key
using pyca/cryptography; the server verifies with python-ecdsa, like every other signature.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item

from provenance.access.errors import BadRequestSignature
from provenance.log.errors import BadSignature
from provenance.log.signing import key_id, public_key_der, sign_p256, verify_p256

ALGORITHM = "ecdsa-p256-sha256"
LABEL = "sig1"
#: What a request must cover: its method and target, and its body through its digest.
REQUIRED = ("@method", "@path", "@query")
#: How far `created` may be from the server's clock, and the longest a signature may live.
MAX_SKEW = 300
MAX_LIFETIME = 300


@dataclass(frozen=True)
class SignedRequest:
    """What a verified signature says: who signed, and when."""

    key_id: str
    created: int
    label: str
    #: The signer's one-time value; a request that writes must carry one (replay protection).
    nonce: str | None = None


@dataclass(frozen=True)
class HashedBody:
    """A body hashed as it was read (spooled to a file, never held whole): its size and its
    digests by Content-Digest algorithm name."""

    size: int
    digests: Mapping[str, bytes]

    def __bool__(self) -> bool:
        return self.size > 0


#: The Content-Digest algorithms a server checks.
DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def content_digest(body: bytes) -> str:
    """RFC 9530 Content-Digest of a body, with SHA-256."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def check_content_digest(header: str | None, body: bytes | HashedBody) -> None:
    """The body is what its Content-Digest says (sha-256 or sha-512)."""
    if header is None:
        if body:
            raise BadRequestSignature("a request with a body carries a Content-Digest")
        return
    digests = Dictionary()
    try:
        digests.parse(header.encode())
    except ValueError as exc:
        raise BadRequestSignature(f"Content-Digest is not a structured field: {exc}") from None
    known = [name for name in digests if name in DIGESTS]
    if not known:
        raise BadRequestSignature("Content-Digest names neither sha-256 nor sha-512")
    for name in known:
        if isinstance(body, HashedBody):
            actual = body.digests.get(name)
        else:
            actual = DIGESTS[name](body).digest()
        if digests[name].value != actual:
            raise BadRequestSignature(f"the body does not match its Content-Digest ({name})")


def component_values(
    method: str, path: str, query: str, headers: Mapping[str, str]
) -> dict[str, str]:
    """The derived components (RFC 9421 §2.2) of a request; `query` without its `?`."""
    values = {"@method": method.upper(), "@path": path or "/", "@query": "?" + query}
    values.update({name.lower(): value.strip() for name, value in headers.items()})
    return values


def signature_base(
    components: Sequence[str], values: Mapping[str, str], params: InnerList
) -> bytes:
    """RFC 9421 §2.5: one line per covered component, then the signature parameters."""
    lines = []
    for name in components:
        if name not in values:
            raise BadRequestSignature(f"the signature covers {name!r}, which the request lacks")
        lines.append(f'"{name}": {values[name]}')
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode()


def sign_request(
    key: ec.EllipticCurvePrivateKey,
    *,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    now: int | None = None,
) -> dict[str, str]:
    """The headers that sign a request with `key` (the client side)."""
    created = int(time.time()) if now is None else now
    headers = {"Content-Digest": content_digest(body)} if body else {}
    covered = [*REQUIRED, *(["content-digest"] if body else [])]
    params = InnerList()
    for name in covered:
        params.append(Item(name))
    params.params["created"] = created
    params.params["expires"] = created + MAX_LIFETIME
    params.params["keyid"] = key_id(public_key_der(key))
    params.params["alg"] = ALGORITHM
    params.params["nonce"] = secrets.token_urlsafe(12)
    values = component_values(method, path, query, headers)
    der = sign_p256(key, signature_base(covered, values, params))
    signature = _p1363(der)
    headers["Signature-Input"] = f"{LABEL}={params}"
    headers["Signature"] = f"{LABEL}=:{base64.b64encode(signature).decode()}:"
    return headers


def verify_request(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes | HashedBody,
    key_lookup: Callable[[str], bytes | None],
    now: int | None = None,
) -> SignedRequest:
    """Check a request's one signature (§3.2), with the key its `keyid` names.

    `key_lookup(key_id)` gives the registered key's DER, or None. Every failure is a
    BadRequestSignature: the request is then not authenticated at all."""
    inputs, signatures = _one_signature(headers)
    label, params = inputs
    components = [str(item.value) for item in params]
    # §3.2 step 3-4: the request covers what this server requires, with fresh parameters.
    missing = [name for name in REQUIRED if name not in components]
    body_digest = {name.lower(): value for name, value in headers.items()}.get("content-digest")
    if body and "content-digest" not in components:
        missing.append("content-digest")
    if missing:
        raise BadRequestSignature(f"the signature must cover {', '.join(missing)}")
    alg = params.params.get("alg")
    if alg not in (None, ALGORITHM):
        raise BadRequestSignature(f"alg must be {ALGORITHM}")
    created, expires = params.params.get("created"), params.params.get("expires")
    clock = int(time.time()) if now is None else now
    if not isinstance(created, int) or abs(clock - created) > MAX_SKEW:
        raise BadRequestSignature("created must be within 5 minutes of the server's clock")
    if expires is not None and (not isinstance(expires, int) or expires < clock):
        raise BadRequestSignature("the signature has expired")
    keyid = params.params.get("keyid")
    der = key_lookup(keyid) if isinstance(keyid, str) else None
    if der is None:
        raise BadRequestSignature("keyid names no registered key")
    check_content_digest(body_digest, body)
    values = component_values(method, path, query, headers)
    base = signature_base(components, values, params)
    # §3.2 step 8: ecdsa-p256-sha256 signatures are r ‖ s, 32 bytes each (§3.3.4).
    try:
        verify_p256(der, base, signatures, encoding="p1363", low_s=False)
    except BadSignature:
        raise BadRequestSignature("the request signature does not verify") from None
    nonce = params.params.get("nonce")
    return SignedRequest(str(keyid), created, label, nonce if isinstance(nonce, str) else None)


def _one_signature(headers: Mapping[str, str]) -> tuple[tuple[str, InnerList], bytes]:
    lowered = {name.lower(): value for name, value in headers.items()}
    raw_input, raw_signature = lowered.get("signature-input"), lowered.get("signature")
    if raw_input is None or raw_signature is None:
        raise BadRequestSignature("no Signature-Input and Signature headers")
    inputs, signatures = Dictionary(), Dictionary()
    try:
        inputs.parse(raw_input.encode())
        signatures.parse(raw_signature.encode())
    except ValueError as exc:
        raise BadRequestSignature(f"malformed signature headers: {exc}") from None
    labels = list(inputs)
    if len(labels) != 1 or labels[0] not in signatures:
        raise BadRequestSignature("a request carries exactly one signature")
    label = labels[0]
    params, value = inputs[label], signatures[label].value
    if not isinstance(params, InnerList) or not isinstance(value, bytes):
        raise BadRequestSignature("Signature-Input is an inner list and Signature a byte sequence")
    return (label, params), value


def _p1363(der: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")
