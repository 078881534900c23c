"""A witness's own state: its key file, and a SQLite file with the logs it follows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    select,
    update,
)

from provenance.errors import Error
from provenance.log.cosign import CosignatureSigner
from provenance.log.errors import VerificationError
from provenance.log.files import write_secret
from provenance.log.keystore import ed25519_pem
from provenance.log.note import ALG_COSIGNATURE_V1, PARSE_ONLY_ALGS, Verifier, parse_verifier_key
from provenance.log.statements import now_timestamp
from provenance.log.store.engine import make_engine, read_connection, write_transaction

KEY_FILE = "witness-ed25519.pem"
DATABASE_FILE = "witness.db"

METADATA = MetaData()
WITNESS_IDENTITY = Table(
    "witness_identity",
    METADATA,
    Column("name", String(255), primary_key=True),
    Column("created_at", String(24), nullable=False),
)
#: Per log origin: the key its checkpoints must be signed with, and the latest one cosigned.
WITNESS_LOG = Table(
    "witness_log",
    METADATA,
    Column("origin", String(255), primary_key=True),
    Column("vkey", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary, nullable=True),
    Column("note", Text, nullable=True),  # the log's checkpoint with this witness's cosignature
    Column("cosigned_at", BigInteger, nullable=True),
    Column("added_at", String(24), nullable=False),
)
#: Checkpoints validly signed by a log but inconsistent with what the witness cosigned: they
#: may prove that the log showed someone a fork.
WITNESS_EVIDENCE = Table(
    "witness_evidence",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("origin", String(255), nullable=False),
    Column("received_at", String(24), nullable=False),
    Column("reason", Text, nullable=False),
    Column("request", Text, nullable=False),
)


class WitnessSetup(Error):
    slug, status, title = "witness-setup", 409, "The witness is not set up for this"


@dataclass(frozen=True)
class LogState:
    origin: str
    vkey: str
    size: int
    root_hash: bytes | None
    note: str | None
    cosigned_at: int | None


class WitnessStore:
    """The witness's directory: `witness-ed25519.pem` (mode 0600) and `witness.db`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if not (directory / KEY_FILE).exists():
            raise WitnessSetup(f"no witness in {directory}: run `provenance witness init` first")
        self.engine = make_engine(f"sqlite:///{directory / DATABASE_FILE}")
        METADATA.create_all(self.engine)
        with read_connection(self.engine) as conn:
            name = conn.execute(select(WITNESS_IDENTITY.c.name)).scalar_one_or_none()
        if name is None:
            raise WitnessSetup(f"{directory / DATABASE_FILE} does not name the witness")
        key = serialization.load_pem_private_key((directory / KEY_FILE).read_bytes(), None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise WitnessSetup(f"{KEY_FILE} is not an Ed25519 private key")
        self.signer = CosignatureSigner(str(name), key)

    @classmethod
    def create(cls, directory: Path, name: str) -> WitnessStore:
        """Make a new witness: its key and its database; refuses to replace either."""
        if (directory / KEY_FILE).exists() or (directory / DATABASE_FILE).exists():
            raise WitnessSetup(f"{directory} already holds a witness")
        key = ed25519.Ed25519PrivateKey.generate()
        CosignatureSigner(name, key)  # refuses a name a note signature cannot carry
        write_secret(directory / KEY_FILE, ed25519_pem(key))
        engine = make_engine(f"sqlite:///{directory / DATABASE_FILE}")
        METADATA.create_all(engine)
        with write_transaction(engine) as conn:
            conn.execute(WITNESS_IDENTITY.insert().values(name=name, created_at=now_timestamp()))
        engine.dispose()
        return cls(directory)

    def close(self) -> None:
        self.engine.dispose()

    # --- the logs it follows ------------------------------------------------------------------

    def add_log(self, vkey: str, origin: str | None = None) -> LogState:
        """Follow a log: its checkpoints for `origin` (default: the key's name) must carry a
        signature by `vkey`. Adding the same log again changes nothing."""
        verifier = log_verifier(vkey)
        origin = origin or verifier.name
        with write_transaction(self.engine) as conn:
            found = self.state(conn, origin)
            if found is not None:
                if found.vkey != verifier.line():
                    raise WitnessSetup(f"this witness follows {origin} with another key already")
                return found
            conn.execute(
                WITNESS_LOG.insert().values(
                    origin=origin, vkey=verifier.line(), size=0, added_at=now_timestamp()
                )
            )
        return LogState(origin, verifier.line(), 0, None, None, None)

    def logs(self) -> list[LogState]:
        with read_connection(self.engine) as conn:
            rows = conn.execute(select(WITNESS_LOG).order_by(WITNESS_LOG.c.origin)).all()
        return [_state(row) for row in rows]

    def state(self, conn: Connection, origin: str) -> LogState | None:
        row = conn.execute(select(WITNESS_LOG).where(WITNESS_LOG.c.origin == origin)).first()
        return _state(row) if row is not None else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """An exclusive write transaction (BEGIN IMMEDIATE, and a lock file for threads and
        processes): a check and the update it allows happen as one."""
        with write_transaction(self.engine) as conn:
            yield conn

    def advance(
        self, conn: Connection, old: LogState, size: int, root: bytes, note: str, at: int
    ) -> bool:
        """Record a newly cosigned checkpoint if the stored one is still `old` (compare and set)."""
        result = conn.execute(
            update(WITNESS_LOG)
            .where(WITNESS_LOG.c.origin == old.origin, WITNESS_LOG.c.size == old.size)
            .values(size=size, root_hash=root, note=note, cosigned_at=at)
        )
        return result.rowcount == 1

    def keep_evidence(self, origin: str, reason: str, request: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                WITNESS_EVIDENCE.insert().values(
                    origin=origin, received_at=now_timestamp(), reason=reason, request=request
                )
            )

    def evidence(self) -> list[tuple[str, str, str]]:
        """(origin, reason, request) of every kept inconsistent checkpoint, oldest first."""
        with read_connection(self.engine) as conn:
            rows = conn.execute(
                select(
                    WITNESS_EVIDENCE.c.origin, WITNESS_EVIDENCE.c.reason, WITNESS_EVIDENCE.c.request
                ).order_by(WITNESS_EVIDENCE.c.id)
            ).all()
        return [(str(o), str(r), str(q)) for o, r, q in rows]


def log_verifier(vkey: str) -> Verifier:
    """A log's verifier key as a witness accepts it: one whose signatures it can check."""
    try:
        verifier = parse_verifier_key(vkey.strip())
    except VerificationError as exc:
        raise WitnessSetup(f"not a verifier key: {exc.detail}") from None
    if verifier.alg == ALG_COSIGNATURE_V1 or verifier.alg in PARSE_ONLY_ALGS:
        raise WitnessSetup("a log's key signs checkpoints: Ed25519 (0x01) or ECDSA (0x02)")
    return verifier


def _state(row: Row[Any]) -> LogState:
    found = row._mapping
    root, note, cosigned_at = found["root_hash"], found["note"], found["cosigned_at"]
    return LogState(
        str(found["origin"]),
        str(found["vkey"]),
        int(found["size"]),
        bytes(root) if root is not None else None,
        str(note) if note is not None else None,
        int(cosigned_at) if cosigned_at is not None else None,
    )
