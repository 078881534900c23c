"""SQLModel tables of the core: the append-only log tables and the identity projection."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

#: The core's schema; each personality keeps its tables in a metadata of its own.
METADATA = MetaData()


class CoreTable(SQLModel, registry=registry(metadata=METADATA)):
    """Base of the core's tables."""


#: 64-bit everywhere; on SQLite an INTEGER PRIMARY KEY is the rowid itself, one B-tree less.
RowId = BigInteger().with_variant(Integer(), "sqlite")

#: Tables that hold the log itself; UPDATE and DELETE on them are refused by triggers.
LOG_TABLES = ("log_entry", "log_node", "log_checkpoint", "log_payload")


class LogEntry(CoreTable, table=True):
    """One entry: its exact bytes (the source of truth) and columns derived from them."""

    __tablename__ = "log_entry"
    idx: int = Field(sa_column=Column(RowId, primary_key=True, autoincrement=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    payload_digest: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    signer: str = Field(sa_column=Column(String(64), nullable=False))
    logged_at: str = Field(sa_column=Column(String(24), nullable=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogNode(CoreTable, table=True):
    """Hash of the complete subtree (level, idx): leaves [idx*2^level, (idx+1)*2^level)."""

    __tablename__ = "log_node"
    # The primary key is the only access path: store rows in it (no separate rowid B-tree).
    __table_args__ = {"sqlite_with_rowid": False}
    level: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogCheckpoint(CoreTable, table=True):
    """A signed checkpoint (C2SP signed note), one per append batch."""

    __tablename__ = "log_checkpoint"
    size: int = Field(sa_column=Column(RowId, primary_key=True, autoincrement=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str = Field(sa_column=Column(String(24), nullable=False))


class LogPayload(CoreTable, table=True):
    """A payload too large for an entry (an EPCIS document): the entry names it by SHA-256."""

    __tablename__ = "log_payload"
    digest: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Party(CoreTable, table=True):
    """Projection: a registered party."""

    __tablename__ = "party"
    gln: str = Field(sa_column=Column(String(13), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    roles: str = Field(sa_column=Column(String(200), nullable=False))  # comma-separated, sorted
    registered_index: int = Field(sa_column=Column(BigInteger, nullable=False))


class PartyKey(CoreTable, table=True):
    """Projection: a public key of a party and its validity."""

    __tablename__ = "party_key"
    key_id: str = Field(sa_column=Column(String(64), primary_key=True))
    gln: str = Field(sa_column=Column(String(13), nullable=False, index=True))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    added_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    added_at: str = Field(sa_column=Column(String(24), nullable=False))
    retired_index: int | None = Field(default=None, sa_column=Column(BigInteger))
    retired_at: str | None = Field(default=None, sa_column=Column(String(24)))
    revoked_from: str | None = Field(default=None, sa_column=Column(String(24)))
    revoked_index: int | None = Field(default=None, sa_column=Column(BigInteger))
    revocation_reason: str | None = Field(default=None, sa_column=Column(Text))


class PersonKey(CoreTable, table=True):
    """Projection: a key that belongs to a person acting for a party (one row per key)."""

    __tablename__ = "person_key"
    __table_args__ = (Index("person_key_person", "gln", "person"),)
    key_id: str = Field(sa_column=Column(String(64), primary_key=True))
    gln: str = Field(sa_column=Column(String(13), nullable=False))
    person: str = Field(sa_column=Column(String(64), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    role: str = Field(sa_column=Column(String(100), nullable=False))
    registered_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    suspended_from: str | None = Field(default=None, sa_column=Column(String(24)))
    suspended_index: int | None = Field(default=None, sa_column=Column(BigInteger))
    suspension_reason: str | None = Field(default=None, sa_column=Column(Text))
