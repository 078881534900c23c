"""The witnesses' cosignatures of the log's checkpoints, kept off the log, and the cosigned file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from provenance.log.cosign import Cosignature, with_cosignatures
from provenance.log.files import replace_file
from provenance.log.statements import now_timestamp
from provenance.log.store import logdb
from provenance.log.store.engine import query, write_transaction
from provenance.log.store.logdb import StoredCheckpoint

#: Not part of the log: cosignatures arrive after the checkpoint and are not hashed into anything.
METADATA = MetaData()
LOG_COSIGNATURE = Table(
    "log_cosignature",
    METADATA,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness", String(255), primary_key=True),  # the witness's key name
    Column("key_id", LargeBinary, primary_key=True),  # its 4-byte key ID
    Column("root_hash", LargeBinary, nullable=False),
    Column("cosigned_at", BigInteger, nullable=False),  # the cosignature's own timestamp
    Column("line", Text, nullable=False),  # the note signature line, newline included
    Column("received_at", String(24), nullable=False),
)
#: Where the latest checkpoint with at least one cosignature is written, cosignatures included.
COSIGNED_FILE = Path("checkpoints") / "cosigned"


def store(engine: Engine, checkpoint: StoredCheckpoint, found: Sequence[Cosignature]) -> None:
    """Keep verified cosignatures of `checkpoint`; one a witness key per checkpoint size."""
    # The log's exclusive write transaction: a read-then-write transaction of SQLite's could
    # not upgrade while an append holds the lock, and two processes never insert one row twice.
    with write_transaction(engine) as conn:
        for cosignature in found:
            key = (checkpoint.size, cosignature.witness.name, cosignature.witness.key_hash)
            exists = query(
                conn,
                "SELECT 1 FROM log_cosignature WHERE size = ? AND witness = ? AND key_id = ?",
                key,
            )
            if not exists:
                conn.execute(
                    LOG_COSIGNATURE.insert().values(
                        size=checkpoint.size,
                        witness=cosignature.witness.name,
                        key_id=cosignature.witness.key_hash,
                        root_hash=checkpoint.root_hash,
                        cosigned_at=cosignature.timestamp,
                        line=cosignature.line,
                        received_at=now_timestamp(),
                    )
                )


def lines(conn: Connection, checkpoint: StoredCheckpoint) -> list[str]:
    """The stored cosignature lines of exactly this checkpoint (its size and root)."""
    rows = query(
        conn,
        "SELECT line FROM log_cosignature WHERE size = ? AND root_hash = ? "
        "ORDER BY witness, key_id",
        (checkpoint.size, checkpoint.root_hash),
    )
    return [str(row[0]) for row in rows]


def cosigned(conn: Connection, checkpoint: StoredCheckpoint) -> StoredCheckpoint:
    """The checkpoint with the cosignatures gathered for it appended as signature lines."""
    return checkpoint._replace(note=with_cosignatures(checkpoint.note, lines(conn, checkpoint)))


def latest_cosigned(
    conn: Connection, min_witnesses: int = 1, covering: int | None = None
) -> StoredCheckpoint | None:
    """The largest checkpoint cosigned by at least `min_witnesses` witnesses (and, if
    `covering` is given, containing that entry index), with its cosignatures; None if none."""
    where, params = ("WHERE size > ? ", (covering,)) if covering is not None else ("", ())
    rows = query(
        conn,
        f"SELECT size FROM log_cosignature {where}GROUP BY size "
        "HAVING count(DISTINCT witness) >= ? ORDER BY size DESC LIMIT 1",
        (*params, max(min_witnesses, 1)),
    )
    if not rows:
        return None
    checkpoint = logdb.checkpoint_at(conn, int(rows[0][0]))
    if checkpoint is None:
        return None
    found = cosigned(conn, checkpoint)
    return found if found.note != checkpoint.note else None


def witnessed_size(conn: Connection, witness: str, key_id: bytes) -> int:
    """The largest size this witness key has cosigned for this log (0: none)."""
    rows = query(
        conn,
        "SELECT max(size) FROM log_cosignature WHERE witness = ? AND key_id = ?",
        (witness, key_id),
    )
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def write_cosigned_file(data_dir: Path, note: str) -> None:
    """Replace `<data_dir>/checkpoints/cosigned` atomically, durable before and after."""
    replace_file(data_dir / COSIGNED_FILE, note.encode())


def read_cosigned_size(data_dir: Path) -> int:
    """The size in `<data_dir>/checkpoints/cosigned` (0 if there is none yet)."""
    try:
        lines_ = (data_dir / COSIGNED_FILE).read_text().split("\n")
    except FileNotFoundError:
        return 0
    return int(lines_[1]) if len(lines_) > 1 and lines_[1].isdigit() else 0
