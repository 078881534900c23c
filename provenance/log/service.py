"""The engine and the log of one deployment, and initialising a new log."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from provenance.log import keystore
from provenance.log.append import TransparencyLog
from provenance.log.canonical import parse_json
from provenance.log.errors import LogNotInitialised
from provenance.log.kinds import GENESIS
from provenance.log.personality import Registry
from provenance.log.profile import CURRENT_RULES, LogProfile, profile_of_genesis
from provenance.log.settings import Settings
from provenance.log.signing import key_id, public_key_der, sign_envelope
from provenance.log.statements import make_statement
from provenance.log.store import logdb
from provenance.log.store.engine import make_engine, read_connection
from provenance.log.store.schema import create_schema
from provenance.log.verify import VerifyReport, verify_log


@dataclass(frozen=True)
class InitReport:
    created: bool
    verifier_key: str
    authority_key_id: str
    changes: tuple[str, ...]


class Service:
    """What a process needs to serve the log: the engine, and the log once keys exist.

    `registry` says what the log accepts: the core kinds and those of the personalities the
    caller installed (a log with none knows only the core kinds).
    """

    def __init__(self, settings: Settings, registry: Registry | None = None) -> None:
        self.settings = settings
        self.registry = registry if registry is not None else Registry()
        if settings.database_url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = make_engine(
            settings.database_url, synchronous=settings.sqlite_synchronous
        )
        self._log: TransparencyLog | None = None
        self._profile: LogProfile | None = None
        # Idempotent: an uninitialised deployment answers "empty log", not a missing table.
        create_schema(self.engine, self.registry.metadata)

    def close(self) -> None:
        """Return the engine's pooled connections."""
        self.engine.dispose()

    @property
    def log(self) -> TransparencyLog:
        if self._log is None:
            signer = keystore.load_log_signer(self.settings.keys, self.settings.origin)
            self._log = TransparencyLog(self.engine, signer, self.registry)
        return self._log

    def verify(self, **options: Any) -> VerifyReport:
        """Verify this deployment's log: its checkpoints with the public half of its key, its
        entries against its registry (`options` as for `verify_log`)."""
        verifier = self.log.signer.verifier
        return verify_log(self.engine, self.registry, verifier, self.settings.origin, **options)

    def verifier_key(self) -> str:
        return self.log.signer.verifier_key_line()

    def profile(self) -> LogProfile | None:
        """What the log's genesis entry declares (None before `initialise`)."""
        if self._profile is None:
            with read_connection(self.engine) as conn:
                first = logdb.entry_data(conn, 0)
            if first is not None:
                self._profile = profile_of_genesis(first)
        return self._profile

    def initialise(self, *, demo: bool = False) -> InitReport:
        """Create keys, schema and the genesis entry where missing; change nothing otherwise.

        A new log runs the current rules; `demo` marks it as a demonstration log for ever (its
        demo parties' keys are made on this server, so nothing in it can be trusted)."""
        changes: list[str] = []
        paths = self.settings.keys
        if not paths.log_key.exists() and not paths.authority_key.exists():
            keystore.create_keys(paths)
            changes.append(f"wrote keys {paths.log_key.name} and {paths.authority_key.name}")
        elif not paths.exist():
            raise LogNotInitialised("only one of the two key files exists; refusing to guess")
        create_schema(self.engine, self.registry.metadata)
        authority = keystore.load_authority_key(paths)
        authority_der = public_key_der(authority)
        log = self.log
        with read_connection(self.engine) as conn:
            first = logdb.entry_data(conn, 0)
            genesis = parse_json(first) if first is not None else None
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
                "rules": CURRENT_RULES,
                **({"demo": True} if demo else {}),
            }
            statement = make_statement(
                GENESIS, body, key_id(authority_der), log=self.settings.origin
            )
            envelope = sign_envelope(authority, statement.payload())
            log.submit_many([log.parse(envelope.to_json())])
            changes.append("appended the genesis entry (index 0)")
        else:
            recorded = parse_json(base64.b64decode(genesis["envelope"]["payload"]))["body"]
            if recorded["log_key"] != vkey:
                raise LogNotInitialised(
                    "the database's genesis entry names another log key than data/keys holds"
                )
            if demo and not recorded.get("demo"):
                raise LogNotInitialised("this log was created as a real log, not a demo log")
        return InitReport(bool(changes), vkey, key_id(authority_der), tuple(changes))


__all__ = ["InitReport", "Service", "Settings"]
