"""The engine and the log of one deployment, and initialising a new log."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, MetaData
from sqlalchemy.engine import make_url

from provenance.log import cosignatures, files, keystore
from provenance.log.append import TransparencyLog
from provenance.log.appender import AppenderClient
from provenance.log.canonical import parse_json
from provenance.log.errors import LogNotInitialised
from provenance.log.kinds import GENESIS
from provenance.log.note import Signer, Verifier
from provenance.log.outside import CHECKPOINTS_DIR, OutsideRecord
from provenance.log.personality import Registry
from provenance.log.profile import CURRENT_RULES, LogProfile, profile_of_genesis
from provenance.log.settings import Settings
from provenance.log.signing import key_id, public_key_der, sign_envelope
from provenance.log.statements import make_statement
from provenance.log.store import logdb, verification
from provenance.log.store.engine import make_engine, read_connection
from provenance.log.store.schema import check_schema, migrate_schema
from provenance.log.verify import VerifyReport, verify_log
from provenance.log.witnessing import WitnessPusher, parse_witness_entries


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

    def __init__(
        self,
        settings: Settings,
        registry: Registry | None = None,
        metadata: Sequence[MetaData] = (),
    ) -> None:
        self.settings = settings
        self.registry = registry if registry is not None else Registry()
        if settings.database_url.startswith("sqlite") and not settings.read_only:
            files.private_sqlite(settings.data_dir, make_url(settings.database_url).database)
        self.engine: Engine = make_engine(
            settings.database_url,
            synchronous=settings.sqlite_synchronous,
            read_only=settings.read_only,
        )
        self._log: TransparencyLog | None = None
        self._verifier: Verifier | None = None
        self._profile: LogProfile | None = None
        #: Every table of the deployment: the plug-ins', the witnesses', and `metadata` (the
        #: caller's own, such as the sessions'); the core's are always there.
        self.metadata = (
            *self.registry.metadata,
            cosignatures.METADATA,
            verification.METADATA,
            *metadata,
        )
        # Only read: creating and migrating tables is the database owner's step (`migrate`),
        # so the service can run as a role that owns nothing and runs no DDL.
        self.schema = check_schema(self.engine, self.metadata)
        #: Sends each new checkpoint to the configured witnesses (threads start on the first).
        self.witnessing: WitnessPusher | None = None
        if settings.witnesses:
            endpoints = parse_witness_entries(settings.witnesses)
            self.witnessing = WitnessPusher(self.engine, endpoints, settings.data_dir)

    def close(self) -> None:
        """Stop the witness threads; return the engine's pooled connections."""
        if self.witnessing is not None:
            self.witnessing.close()
        if self._log is not None and self._log.channel is not None:
            self._log.channel.close()
        self.engine.dispose()

    @property
    def log(self) -> TransparencyLog:
        if self._log is None:
            signer = keystore.load_log_signer(self.settings.keys, self.settings.origin)
            outside = OutsideRecord(
                self.settings.data_dir / CHECKPOINTS_DIR, signer.verifier, self.settings.origin
            )
            self._log = TransparencyLog(self.engine, signer, self.registry, outside)
            # Found at once (and logged) rather than at the first append.
            self._log.guard.start(self.engine)
            if self.witnessing is not None:
                self._log.after_publish.append(self.witnessing.notify)
            if self.settings.appender_socket and not self.settings.read_only:
                self._log.channel = AppenderClient(self.settings.appender_socket)
        return self._log

    def verifier(self, vkey: str | None = None, where: str = "the verifier key") -> Verifier:
        """The log's public key for checking its checkpoints: `vkey` (a verifier key line the
        caller chose, read from `where`), else data/keys/log.vkey, else, for a deployment from
        before vkey files, the public half of the private key (writing the vkey file)."""
        if vkey is not None:
            return keystore.parse_vkey_text(vkey, where)
        if self._verifier is None:
            self._verifier = keystore.load_log_verifier(self.settings.keys, self.settings.origin)
        return self._verifier

    def verify(self, verifier: Verifier | None = None, **options: Any) -> VerifyReport:
        """Verify this deployment's log with public keys only: its checkpoints with `verifier`
        (default `self.verifier()`; the log's origin is its name), its entries against its
        registry (`options` as for `verify_log`; a read-only deployment stores no state)."""
        verifier = verifier if verifier is not None else self.verifier()
        options.setdefault("save", not self.settings.read_only)
        return verify_log(self.engine, self.registry, verifier, verifier.name, **options)

    def migrate(self) -> None:
        """Create or migrate the schema (the database owner's step; idempotent)."""
        migrate_schema(self.engine, self.metadata)
        self.schema = check_schema(self.engine, self.metadata)

    def verifier_key(self) -> str:
        """The verifier key line GET /log/key serves."""
        return self.verifier().line()

    def profile(self) -> LogProfile | None:
        """What the log's genesis entry declares (None before `initialise`)."""
        if self._profile is None and not self.schema.empty:
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
        self.migrate()
        authority = keystore.load_authority_key(paths)
        authority_der = public_key_der(authority)
        log = self.log
        with read_connection(self.engine) as conn:
            first = logdb.entry_data(conn, 0)
            genesis = parse_json(first) if first is not None else None
        vkey = log.signer.verifier_key_line()
        changes += self._write_vkey(log.signer)
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

    def _write_vkey(self, signer: Signer) -> list[str]:
        """Write the public verifier key beside the private one, where it is missing."""
        path = self.settings.keys.log_vkey
        line = signer.verifier_key_line()
        if path.exists():
            if keystore.parse_vkey_text(path.read_text(), path.name).line() != line:
                raise LogNotInitialised(
                    f"{path.name} names another key than {self.settings.keys.log_key.name}"
                )
            return []
        keystore.write_log_vkey(self.settings.keys, signer)
        self._verifier = signer.verifier
        return [f"wrote the public verifier key {path.name} (mode 0644)"]


__all__ = ["InitReport", "Service", "Settings"]
