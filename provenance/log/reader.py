"""Reading the log back: checkpoints, entries, proofs, tiles and receipts from stored hashes."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Connection

from provenance.errors import NotFound
from provenance.log import cosignatures, merkle, tiles
from provenance.log.entries import decode_entry
from provenance.log.note import TlogProof, format_tlog_proof
from provenance.log.personality import Registry
from provenance.log.store import logdb
from provenance.log.store.logdb import NodeAddr, StoredCheckpoint
from provenance.recent import Recent

latest_checkpoint = logdb.latest_checkpoint
#: Tree hashes from this level up are worth keeping in a process: a proof at 10,000,000 entries
#: names about 24, of which the 14 or so from level 10 up come from only ~20,000 nodes, which
#: every proof shares in part (at most 8 MiB).
KEPT_FROM_LEVEL = 10
KEPT_NODES = 32_768
KeptNodes = Recent[NodeAddr, bytes]


def kept_nodes() -> KeptNodes:
    """A cache for `inclusion_proof`, `consistency_proof` and `receipt`. A stored tree hash
    never changes (it is the hash of a complete subtree of an append-only log), so a process may
    keep it for as long as it serves the same database."""
    return Recent(KEPT_NODES)


def _proof(conn: Connection, plan: list[list[NodeAddr]], kept: KeptNodes | None) -> list[bytes]:
    addrs = set(merkle.plan_addrs(plan))
    nodes: dict[NodeAddr, bytes] = {}
    if kept is not None:
        for addr in addrs:
            if addr[0] >= KEPT_FROM_LEVEL and (digest := kept.get(addr)) is not None:
                nodes[addr] = digest
    fetched = logdb.fetch_nodes(conn, addrs.difference(nodes))
    if kept is not None:
        for addr, digest in fetched.items():
            if addr[0] >= KEPT_FROM_LEVEL:
                kept.put(addr, digest)
    nodes.update(fetched)
    return merkle.assemble(plan, nodes)


def require_checkpoint(conn: Connection) -> StoredCheckpoint:
    checkpoint = logdb.latest_checkpoint(conn)
    if checkpoint is None:
        raise NotFound("the log is empty: no checkpoint has been published yet")
    return checkpoint


def entry_data(conn: Connection, index: int) -> bytes:
    data = logdb.entry_data(conn, index)
    if data is None:
        raise NotFound(f"no entry at index {index}")
    return data


def entry_json(conn: Connection, index: int, size: int, registry: Registry) -> dict[str, Any]:
    """An entry with its decoded statement, leaf hash and where to get its receipt."""
    if index >= size:
        raise NotFound(f"no entry at index {index}: the log has {size} entries")
    data = entry_data(conn, index)
    return {
        "index": index,
        "leaf_hash": merkle.leaf_hash(data).hex(),
        "entry": decode_entry(data, registry),
        "entry_b64": base64.b64encode(data).decode(),
        "receipt": f"/log/receipt/{index}",
    }


def inclusion_proof(
    conn: Connection, index: int, size: int, kept: KeptNodes | None = None
) -> list[bytes]:
    if not 0 <= index < size:
        raise NotFound(f"index {index} is not in a tree of size {size}")
    return _proof(conn, merkle.inclusion_proof_addrs(index, size), kept)


def consistency_proof(
    conn: Connection, size1: int, size2: int, kept: KeptNodes | None = None
) -> list[bytes]:
    if not 0 < size1 <= size2:
        raise NotFound(f"no consistency proof from size {size1} to size {size2}")
    return _proof(conn, merkle.consistency_proof_addrs(size1, size2), kept)


def receipt(
    conn: Connection, index: int, min_witnesses: int | None = 1, kept: KeptNodes | None = None
) -> str:
    """A C2SP tlog-proof for one entry; `extra` carries the entry. Its checkpoint is the largest
    one containing the entry that `min_witnesses` witnesses cosigned (their cosignatures as
    extra signature lines), else (and if `min_witnesses` is None) the latest checkpoint."""
    checkpoint = None
    if min_witnesses is not None:
        checkpoint = cosignatures.latest_cosigned(conn, min_witnesses, covering=index)
    if checkpoint is None:
        checkpoint = require_checkpoint(conn)
    data = logdb.entry_data(conn, index) if index < checkpoint.size else None
    if data is None:
        raise NotFound(
            f"no entry at index {index}: the latest checkpoint has size {checkpoint.size}"
        )
    proof = inclusion_proof(conn, index, checkpoint.size, kept)
    return format_tlog_proof(TlogProof(index, tuple(proof), checkpoint.note, extra=data))


def hash_tile(conn: Connection, level: int, index: int, width: int) -> bytes:
    tree_level, start, end = tiles.tile_node_range(level, index, width)
    hashes = logdb.node_range(conn, tree_level, start, end)
    if len(hashes) != end - start:
        raise NotFound("tile hashes are missing from the store")
    return b"".join(hashes)


def entry_bundle(conn: Connection, index: int, width: int) -> bytes:
    start = index * tiles.TILE_WIDTH
    entries = logdb.entry_range(conn, start, start + width)
    if len(entries) != width:
        raise NotFound("entries are missing from the store")
    return tiles.encode_entry_bundle(entries)
