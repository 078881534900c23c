"""Reading the log back: checkpoints, entries, proofs, tiles and receipts from stored hashes."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from provenance.errors import NotFound
from provenance.log import merkle, tiles
from provenance.log.append import (
    CHECKPOINT_TABLE,
    ENTRY_TABLE,
    NODE_TABLE,
    decode_entry,
    fetch_nodes,
)
from provenance.log.note import TlogProof, format_tlog_proof


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root_hash: bytes
    note: str


def latest_checkpoint(conn: Connection) -> StoredCheckpoint | None:
    row = conn.execute(
        select(CHECKPOINT_TABLE.c.size, CHECKPOINT_TABLE.c.root_hash, CHECKPOINT_TABLE.c.note)
        .order_by(CHECKPOINT_TABLE.c.size.desc())
        .limit(1)
    ).first()
    return StoredCheckpoint(int(row[0]), bytes(row[1]), str(row[2])) if row else None


def require_checkpoint(conn: Connection) -> StoredCheckpoint:
    checkpoint = latest_checkpoint(conn)
    if checkpoint is None:
        raise NotFound("the log is empty: no checkpoint has been published yet")
    return checkpoint


def entry_data(conn: Connection, index: int) -> bytes:
    row = conn.execute(select(ENTRY_TABLE.c.data).where(ENTRY_TABLE.c.idx == index)).first()
    if row is None:
        raise NotFound(f"no entry at index {index}")
    return bytes(row[0])


def entry_json(conn: Connection, index: int, size: int) -> dict[str, Any]:
    """An entry with its decoded statement, leaf hash and where to get its receipt."""
    if index >= size:
        raise NotFound(f"no entry at index {index}: the log has {size} entries")
    data = entry_data(conn, index)
    return {
        "index": index,
        "leaf_hash": merkle.leaf_hash(data).hex(),
        "entry": decode_entry(data),
        "entry_b64": base64.b64encode(data).decode(),
        "receipt": f"/log/receipt/{index}",
    }


def inclusion_proof(conn: Connection, index: int, size: int) -> list[bytes]:
    if not 0 <= index < size:
        raise NotFound(f"index {index} is not in a tree of size {size}")
    plan = merkle.inclusion_proof_addrs(index, size)
    return merkle.assemble(plan, fetch_nodes(conn, [a for step in plan for a in step]))


def consistency_proof(conn: Connection, size1: int, size2: int) -> list[bytes]:
    if not 0 < size1 <= size2:
        raise NotFound(f"no consistency proof from size {size1} to size {size2}")
    plan = merkle.consistency_proof_addrs(size1, size2)
    return merkle.assemble(plan, fetch_nodes(conn, [a for step in plan for a in step]))


def receipt(conn: Connection, index: int) -> str:
    """A C2SP tlog-proof for one entry against the latest checkpoint; `extra` carries the entry."""
    checkpoint = require_checkpoint(conn)
    data = entry_data(conn, index) if index < checkpoint.size else None
    if data is None:
        raise NotFound(
            f"no entry at index {index}: the latest checkpoint has size {checkpoint.size}"
        )
    proof = inclusion_proof(conn, index, checkpoint.size)
    return format_tlog_proof(TlogProof(index, tuple(proof), checkpoint.note, extra=data))


def hash_tile(conn: Connection, level: int, index: int, width: int) -> bytes:
    tree_level, start, end = tiles.tile_node_range(level, index, width)
    rows = conn.execute(
        select(NODE_TABLE.c.hash)
        .where(NODE_TABLE.c.level == tree_level)
        .where(NODE_TABLE.c.idx >= start)
        .where(NODE_TABLE.c.idx < end)
        .order_by(NODE_TABLE.c.idx)
    ).all()
    if len(rows) != end - start:
        raise NotFound("tile hashes are missing from the store")
    return b"".join(bytes(r[0]) for r in rows)


def entry_bundle(conn: Connection, index: int, width: int) -> bytes:
    start = index * tiles.TILE_WIDTH
    rows = conn.execute(
        select(ENTRY_TABLE.c.data)
        .where(ENTRY_TABLE.c.idx >= start)
        .where(ENTRY_TABLE.c.idx < start + width)
        .order_by(ENTRY_TABLE.c.idx)
    ).all()
    if len(rows) != width:
        raise NotFound("entries are missing from the store")
    return tiles.encode_entry_bundle([bytes(r[0]) for r in rows])
