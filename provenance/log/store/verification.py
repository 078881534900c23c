"""The last verification's result and replay state, off the log: where the next verify resumes.

Not a log table (no append-only guards) and not projection (a rebuild neither replays nor
fingerprints it): each row is what a verify that found the log intact up to `size` needs to go
on from there. Readers take the largest size; a writer deletes the smaller ones.
"""

from __future__ import annotations

import json
from typing import Any

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
from sqlalchemy import inspect as inspect_schema

from provenance.log.store import logdb
from provenance.log.store.engine import marks, query, write_transaction

METADATA = MetaData()
TABLE = "log_verification"
LOG_VERIFICATION = Table(
    TABLE,
    METADATA,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("state", Text, nullable=False),  # canonical JSON (provenance.log.verify_state)
    Column("verified_at", String(24), nullable=False),
)
#: Entries per (kind, signer, UTC day) up to `size`, so the ledger counts only what came since.
COUNTS_TABLE = "log_entry_count"
LOG_ENTRY_COUNT = Table(
    COUNTS_TABLE,
    METADATA,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("counts", Text, nullable=False),  # JSON: [[kind, signer, day, entries], ...]
)


def present(conn: Connection) -> bool:
    """Whether the table exists (asked first: on PostgreSQL a failed query spoils the
    transaction a report reads everything else in)."""
    return bool(inspect_schema(conn).has_table(TABLE))


def latest(conn: Connection) -> tuple[Any, Any, Any, Any] | None:
    """(size, root hash, state, verified_at) of the largest verified size, as stored."""
    if not present(conn):
        return None
    rows = query(
        conn,
        f"SELECT size, root_hash, state, verified_at FROM {TABLE} ORDER BY size DESC LIMIT 1",
    )
    return tuple(rows[0]) if rows else None


def save(conn: Connection, size: int, root_hash: bytes, state: str, verified_at: str) -> None:
    """Upsert the state at `size` and drop smaller ones, in the caller's one transaction: of
    two verifiers saving at once, the larger size stays whichever commits last."""
    conn.exec_driver_sql(
        f"INSERT INTO {TABLE} (size, root_hash, state, verified_at) VALUES ({marks(conn, 4)}) "
        "ON CONFLICT (size) DO UPDATE SET root_hash = excluded.root_hash, "
        "state = excluded.state, verified_at = excluded.verified_at",
        (size, root_hash, state, verified_at),
    )
    conn.exec_driver_sql(f"DELETE FROM {TABLE} WHERE size < (SELECT max(size) FROM {TABLE})")


Count = tuple[str, str, str, int]


def entry_counts(conn: Connection, engine: Engine | None, size: int) -> list[Count]:
    """(kind, signer key id, UTC day, entries) over the first `size` entries: the counts stored
    for a smaller size plus those of the entries since, read by index; stored again for `size`
    through `engine` (None: a read-only deployment stores nothing)."""
    stored_size, counts = 0, {}
    if inspect_schema(conn).has_table(COUNTS_TABLE):
        rows = query(
            conn,
            f"SELECT size, counts FROM {COUNTS_TABLE} WHERE size <= ? ORDER BY size DESC LIMIT 1",
            (size,),
        )
        if rows:
            stored_size = int(rows[0][0])
            counts = {(k, s, d): int(n) for k, s, d, n in json.loads(str(rows[0][1]))}
    for kind, signer, day, n in logdb.entry_counts(conn, stored_size, size):
        counts[(kind, signer, day)] = counts.get((kind, signer, day), 0) + n
    found = [(k, s, d, n) for (k, s, d), n in sorted(counts.items())]
    if engine is not None and size > stored_size:
        with write_transaction(engine) as writer:
            writer.exec_driver_sql(
                f"INSERT INTO {COUNTS_TABLE} (size, counts) VALUES ({marks(writer, 2)}) "
                "ON CONFLICT (size) DO NOTHING",
                (size, json.dumps(found)),
            )
            writer.exec_driver_sql(
                f"DELETE FROM {COUNTS_TABLE} WHERE size < (SELECT max(size) FROM {COUNTS_TABLE})"
            )
    return found
