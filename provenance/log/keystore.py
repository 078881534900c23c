"""Key files under the data directory: the log's checkpoint key and the registry authority key."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from provenance.log.errors import LogNotInitialised
from provenance.log.note import Signer
from provenance.log.signing import load_private_key_pem, private_key_pem

LOG_KEY_FILE = "log-ed25519.pem"
AUTHORITY_KEY_FILE = "authority-p256.pem"


@dataclass(frozen=True)
class KeyPaths:
    log_key: Path
    authority_key: Path

    @classmethod
    def under(cls, data_dir: Path) -> KeyPaths:
        keys = data_dir / "keys"
        return cls(keys / LOG_KEY_FILE, keys / AUTHORITY_KEY_FILE)

    def exist(self) -> bool:
        return self.log_key.exists() and self.authority_key.exists()


def write_secret(path: Path, data: bytes) -> None:
    """Create a file readable by its owner only; never overwrite an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


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
