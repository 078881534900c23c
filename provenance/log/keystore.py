"""Key files under the data directory: the log's checkpoint key (and its public verifier key)
and the registry authority key."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from provenance.log.errors import LogNotInitialised, MalformedNote
from provenance.log.files import replace_file, write_secret
from provenance.log.note import Signer, Verifier, parse_verifier_key
from provenance.log.signing import load_private_key_pem, private_key_pem

LOG_KEY_FILE = "log-ed25519.pem"
AUTHORITY_KEY_FILE = "authority-p256.pem"
#: The log's C2SP verifier key line (as GET /log/key serves it): public, enough to verify.
LOG_VKEY_FILE = "log.vkey"


@dataclass(frozen=True)
class KeyPaths:
    log_key: Path
    authority_key: Path

    @classmethod
    def under(cls, data_dir: Path) -> KeyPaths:
        keys = data_dir / "keys"
        return cls(keys / LOG_KEY_FILE, keys / AUTHORITY_KEY_FILE)

    @property
    def log_vkey(self) -> Path:
        return self.log_key.with_name(LOG_VKEY_FILE)

    def exist(self) -> bool:
        return self.log_key.exists() and self.authority_key.exists()


def ed25519_pem(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_keys(paths: KeyPaths) -> None:
    write_secret(paths.log_key, ed25519_pem(ed25519.Ed25519PrivateKey.generate()))
    write_secret(paths.authority_key, private_key_pem(ec.generate_private_key(ec.SECP256R1())))


def load_log_signer(paths: KeyPaths, origin: str) -> Signer:
    try:
        key = serialization.load_pem_private_key(paths.log_key.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise LogNotInitialised(
            "no checkpoint key: run `flask --app app init` first", path=str(paths.log_key.name)
        ) from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise LogNotInitialised(f"{paths.log_key.name} is not an Ed25519 private key")
    return Signer(origin, key)


def load_authority_key(paths: KeyPaths) -> ec.EllipticCurvePrivateKey:
    try:
        return load_private_key_pem(paths.authority_key.read_bytes())
    except FileNotFoundError as exc:
        raise LogNotInitialised("no authority key: run `flask --app app init` first") from exc


def write_log_vkey(paths: KeyPaths, signer: Signer) -> None:
    """Write the public verifier key of the log's signing key beside it."""
    replace_file(paths.log_vkey, (signer.verifier_key_line() + "\n").encode())


def parse_vkey_text(text: str, where: str) -> Verifier:
    """The verifier of a vkey file's or /log/key answer's one line (MalformedNote if not)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise MalformedNote(f"{where} must hold exactly one verifier key line")
    try:
        return parse_verifier_key(lines[0])
    except MalformedNote as exc:
        raise MalformedNote(f"{where} is not a verifier key: {exc.detail}") from exc


def load_log_verifier(paths: KeyPaths, origin: str) -> Verifier:
    """The log's public verifier key: from its vkey file, else (once, for a deployment from
    before vkey files) derived from the private key and written beside it."""
    try:
        text = paths.log_vkey.read_text()
    except FileNotFoundError:
        signer = load_log_signer(paths, origin)
        # A read-only key directory: the derived key still serves this process.
        with contextlib.suppress(OSError):
            write_log_vkey(paths, signer)
        return signer.verifier
    return parse_vkey_text(text, paths.log_vkey.name)
