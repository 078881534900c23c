"""Settings, the engine and the log for one deployment, and initialising a new log."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from provenance.errors import LogNotInitialised
from provenance.log import keystore
from provenance.log.append import TransparencyLog, parse_submission, tree_size
from provenance.log.canonical import parse_json
from provenance.log.note import verifier_key
from provenance.log.reader import entry_data
from provenance.log.signing import key_id, public_key_der, sign_envelope
from provenance.log.statements import make_statement
from provenance.log.store.engine import create_schema, make_engine, read_connection

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ORIGIN = "provenance.local/log"
#: GLN of the registry authority unless configured: GS1 prefix 0000000 is never assigned.
DEFAULT_AUTHORITY_GLN = "0000000000000"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    origin: str
    authority_name: str
    authority_gln: str
    sqlite_synchronous: str = "FULL"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        data_dir = Path(
            config.get("DATA_DIR") or os.environ.get("PROVENANCE_DATA_DIR") or PROJECT_ROOT / "data"
        )
        url = (
            config.get("DATABASE_URL")
            or os.environ.get("DATABASE_URL")
            or f"sqlite:///{data_dir / 'provenance.db'}"
        )
        return cls(
            data_dir=data_dir,
            database_url=str(url),
            origin=str(
                config.get("ORIGIN") or os.environ.get("PROVENANCE_ORIGIN") or DEFAULT_ORIGIN
            ),
            authority_name=str(config.get("AUTHORITY_NAME") or "Registry authority"),
            authority_gln=str(config.get("AUTHORITY_GLN") or DEFAULT_AUTHORITY_GLN),
            sqlite_synchronous=str(config.get("SQLITE_SYNCHRONOUS") or "FULL"),
        )

    @property
    def keys(self) -> keystore.KeyPaths:
        return keystore.KeyPaths.under(self.data_dir)


@dataclass(frozen=True)
class InitReport:
    created: bool
    verifier_key: str
    authority_key_id: str
    changes: tuple[str, ...]


class Service:
    """What a process needs to serve the log: the engine, and the log once keys exist."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.database_url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = make_engine(
            settings.database_url, synchronous=settings.sqlite_synchronous
        )
        self._log: TransparencyLog | None = None
        # Idempotent: an uninitialised deployment answers "empty log", not a missing table.
        create_schema(self.engine)

    def close(self) -> None:
        """Return the engine's pooled connections."""
        self.engine.dispose()

    @property
    def log(self) -> TransparencyLog:
        if self._log is None:
            signer = keystore.load_log_signer(self.settings.keys, self.settings.origin)
            self._log = TransparencyLog(self.engine, signer)
        return self._log

    def verifier_key(self) -> str:
        return self.log.signer.verifier_key_line()

    def initialise(self) -> InitReport:
        """Create keys, schema and the genesis entry where missing; change nothing otherwise."""
        changes: list[str] = []
        paths = self.settings.keys
        if not paths.log_key.exists() and not paths.authority_key.exists():
            keystore.create_keys(paths)
            changes.append(f"wrote keys {paths.log_key.name} and {paths.authority_key.name}")
        elif not paths.exist():
            raise LogNotInitialised("only one of the two key files exists; refusing to guess")
        create_schema(self.engine)
        authority = keystore.load_authority_key(paths)
        authority_der = public_key_der(authority)
        log = self.log
        with read_connection(self.engine) as conn:
            size = tree_size(conn)
            genesis = parse_json(entry_data(conn, 0)) if size else None
        vkey = log.signer.verifier_key_line()
        if genesis is None:
            body = {
                "origin": self.settings.origin,
                "log_key": vkey,
                "authority": {
                    "name": self.settings.authority_name,
                    "gln": self.settings.authority_gln,
                    "public_key": base64.b64encode(authority_der).decode(),
                },
            }
            statement = make_statement("log.genesis", body, key_id(authority_der))
            envelope = sign_envelope(authority, statement.payload())
            log.submit_many([parse_submission(envelope.to_json())])
            changes.append("appended the genesis entry (index 0)")
        else:
            recorded = parse_json(base64.b64decode(genesis["envelope"]["payload"]))["body"]
            if recorded["log_key"] != vkey:
                raise LogNotInitialised(
                    "the database's genesis entry names another log key than data/keys holds"
                )
        return InitReport(bool(changes), vkey, key_id(authority_der), tuple(changes))


__all__ = ["InitReport", "Service", "Settings", "verifier_key"]
