"""The party side: keys, signing statements locally, submitting them, checking receipts offline."""

from __future__ import annotations

import base64
import getpass
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.access.http_signatures import sign_request
from provenance.errors import Error
from provenance.log import merkle
from provenance.log.canonical import parse_json
from provenance.log.cosign import cosignatures, open_cosigned_checkpoint, parse_witness_vkey
from provenance.log.errors import VerificationError
from provenance.log.files import write_secret
from provenance.log.note import parse_tlog_proof, parse_verifier_key
from provenance.log.signing import (
    KeyLocked,
    is_encrypted_pem,
    key_id,
    load_private_key_pem,
    private_key_pem,
    public_key_der,
    sign_envelope,
)
from provenance.log.statements import make_statement

TIMEOUT = 30


class ClientError(Error):
    """The server refused a request, or could not be reached."""

    slug, status, title = "client", 0, "Request failed"


#: Where the command line and scripts find a key file's passphrase without a prompt.
PASSPHRASE_VARIABLE = "PROVENANCE_KEY_PASSPHRASE"
#: How a key held in a PKCS#11 token is named instead of a file (an RFC 7512 URI).
TOKEN_KEY_PREFIX = "pkcs11:"


def load_private_key(
    path: Path | str, passphrase: bytes | None = None
) -> ec.EllipticCurvePrivateKey:
    """A party's or person's key from its PEM file; a protected one opens with `passphrase`,
    else $PROVENANCE_KEY_PASSPHRASE, else a prompt on a terminal. A `pkcs11:` URI names a key
    that stays in a PKCS#11 token and signs there (provenance.pkcs11_key; it has a PIN, not a
    passphrase)."""
    if isinstance(path, str) and path.startswith(TOKEN_KEY_PREFIX):
        from provenance.pkcs11_key import TokenKey  # python-pkcs11 only when a token is used

        return TokenKey(path)
    path = Path(path)
    data = path.read_bytes()
    if passphrase is None and is_encrypted_pem(data):
        passphrase = _passphrase(f"passphrase for {path.name}: ")
        if passphrase is None:
            raise KeyLocked(
                f"{path.name} is protected by a passphrase: set {PASSPHRASE_VARIABLE} or run "
                "the command in a terminal to be asked for it"
            )
    return load_private_key_pem(data, passphrase)


def _passphrase(prompt: str) -> bytes | None:
    from_environment = os.environ.get(PASSPHRASE_VARIABLE)
    if from_environment:
        return from_environment.encode()
    if sys.stdin.isatty():
        return getpass.getpass(prompt).encode()
    return None


def save_private_key(
    path: Path, key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None
) -> None:
    write_secret(path, private_key_pem(key, passphrase))


def build_envelope(
    key: ec.EllipticCurvePrivateKey,
    kind: str,
    body: dict[str, Any],
    issued_at: str | None = None,
    *,
    log: str | None,
) -> dict[str, Any]:
    """Sign a statement for the log with origin `log` with the party's own key; the private
    key never leaves this process."""
    statement = make_statement(kind, body, key_id(public_key_der(key)), issued_at, log=log)
    return sign_envelope(key, statement.payload()).to_json()


def party_registration(
    authority: ec.EllipticCurvePrivateKey,
    name: str,
    gln: str,
    roles: list[str],
    public_key: bytes,
    *,
    log: str,
) -> dict[str, Any]:
    body = {
        "gln": gln,
        "name": name,
        "roles": roles,
        "public_key": base64.b64encode(public_key).decode(),
    }
    return build_envelope(authority, "party.register", body, log=log)


def http_request(
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[int, bytes]:
    """GET (or POST `data`), signed with `key` (RFC 9421) if given; an HTTP error becomes a
    ClientError carrying the problem."""
    if headers is None:
        headers = {"Content-Type": "application/json"} if data is not None else {}
    if key is not None:
        target = urllib.parse.urlsplit(url)
        method = "POST" if data is not None else "GET"
        signed = sign_request(
            key, method=method, path=target.path or "/", query=target.query, body=data or b""
        )
        headers = {**headers, **signed}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            problem = json.loads(body)
            detail = f"{problem.get('title')}: {problem.get('detail')}"
        except ValueError:
            problem, detail = {}, body.decode(errors="replace")[:200]
        raise ClientError(f"HTTP {exc.code} {detail}", problem=problem) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ClientError(f"cannot reach {url}: {reason}") from exc


def submit(server: str, envelope: dict[str, Any]) -> dict[str, Any]:
    """POST one envelope; the answer carries its index (and `duplicate` if already logged)."""
    _, body = http_request(f"{server.rstrip('/')}/api/v1/statements", json.dumps(envelope).encode())
    result: dict[str, Any] = json.loads(body)
    return result


def log_origin(server: str) -> str:
    """The origin of the log a server runs (public: GET /api/v1/log), to sign statements for."""
    _, body = http_request(f"{server.rstrip('/')}/api/v1/log")
    origin = json.loads(body).get("origin")
    if not isinstance(origin, str) or not origin:
        raise ClientError(f"{server} did not say which log it runs")
    return origin


def login_link(server: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """A one-time link that logs a browser in as the key's party (a signed request)."""
    _, body = http_request(f"{server.rstrip('/')}/api/v1/login-links", b"", key=key)
    result: dict[str, Any] = json.loads(body)
    return result


def sign_and_submit(
    server: str, key: ec.EllipticCurvePrivateKey, kind: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Sign a statement for the log `server` runs, and submit it."""
    return submit(server, build_envelope(key, kind, body, log=log_origin(server)))


def lookup(server: str, path: str, key: ec.EllipticCurvePrivateKey | None = None) -> dict[str, Any]:
    """The resolver's JSON verdict for a Digital Link path such as /01/<gtin>/10/<lot>."""
    url = f"{server.rstrip('/')}{urllib.parse.quote(path)}"
    _, body = http_request(url, headers={"Accept": "application/json"}, key=key)
    result: dict[str, Any] = json.loads(body)
    return result


def post_bytes(
    url: str, data: bytes, headers: dict[str, str], key: ec.EllipticCurvePrivateKey
) -> dict[str, Any]:
    """POST raw bytes in a request signed with `key`; the JSON answer."""
    _, body = http_request(url, data, headers, key=key)
    result: dict[str, Any] = json.loads(body)
    return result


def fetch_receipt(server: str, index: int, key: ec.EllipticCurvePrivateKey | None = None) -> str:
    """An entry's receipt; it carries the entry, so the request is signed by a reader."""
    _, body = http_request(f"{server.rstrip('/')}/log/receipt/{index}", key=key)
    return body.decode()


@dataclass(frozen=True)
class VerifiedReceipt:
    index: int
    tree_size: int
    root_hash: bytes
    entry: dict[str, Any]
    statement: dict[str, Any]
    #: The witnesses (of those asked for) whose valid cosignatures the checkpoint carries.
    cosigners: tuple[str, ...] = ()


def verify_receipt(
    proof_text: str,
    vkey: str,
    envelope: dict[str, Any] | None = None,
    *,
    witnesses: Sequence[str] = (),
    min_witnesses: int = 0,
) -> VerifiedReceipt:
    """Check a C2SP tlog-proof offline against the log's verifier key, and, with `witnesses`
    (cosignature/v1 vkeys), that at least `min_witnesses` of them cosigned its checkpoint."""
    proof = parse_tlog_proof(proof_text)
    verifier = parse_verifier_key(vkey.strip())
    witness_keys = [parse_witness_vkey(w) for w in witnesses]
    # The checkpoint must carry a valid signature by the log, whose origin is the key's name,
    # and as many cosignatures as asked for by distinct witnesses.
    checkpoint = open_cosigned_checkpoint(
        proof.checkpoint, verifier, verifier.name, witness_keys, min_witnesses
    )
    cosigners = sorted({c.witness.name for c in cosignatures(proof.checkpoint, witness_keys)})
    if proof.extra is None:
        raise VerificationError("the receipt does not carry the entry (no extra line)")
    # The extra data is not trusted as such: it counts only once it hashes into the signed root.
    if proof.index >= checkpoint.size:
        raise VerificationError(
            f"index {proof.index} is outside the checkpoint (size {checkpoint.size})"
        )
    merkle.verify_inclusion(
        proof.index,
        checkpoint.size,
        merkle.leaf_hash(proof.extra),
        list(proof.proof),
        checkpoint.root_hash,
    )
    entry = parse_json(proof.extra)
    if not isinstance(entry, dict) or entry.get("index") != proof.index:
        raise VerificationError("the entry's own index differs from the receipt's")
    if envelope is not None and entry.get("envelope") != envelope:
        raise VerificationError("the logged entry carries another envelope than the one given")
    statement = parse_json(base64.b64decode(entry["envelope"]["payload"]))
    return VerifiedReceipt(
        proof.index, checkpoint.size, checkpoint.root_hash, entry, statement, tuple(cosigners)
    )
