"""Every SQL statement on the log's own tables: entries, tree hashes, checkpoints, payloads.

The rest of the code reads and writes the log through these functions only, so the storage
layout can change in one place (and the append-only guards in `schema` cover all of it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection

from provenance.log.canonical import parse_json
from provenance.log.store.engine import marks, query

NodeAddr = tuple[int, int]  # (level, index) of a complete subtree
#: Rows per page when a whole log is read in order.
PAGE = 5000
_CHUNK = 250


class StoredCheckpoint(NamedTuple):
    size: int
    root_hash: bytes
    note: str


class StoredEntry(NamedTuple):
    idx: int
    leaf_hash: bytes
    data: bytes


# --- writing (inside the append transaction) --------------------------------------------------


def insert_rows(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Append rows to a log table in one executemany.

    The driver's executemany with plain tuples: the ORM-level type processing costs more than
    SQLite's own work for these narrow, append-only rows.
    """
    if table not in ("log_entry", "log_node", "log_checkpoint", "log_payload"):
        raise ValueError(f"{table} is not a log table")
    if not rows:
        return
    columns = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(conn, len(columns))})"
    conn.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])


# --- the tree ----------------------------------------------------------------------------------


def tree_size(conn: Connection) -> int:
    ((last,),) = query(conn, "SELECT max(idx) FROM log_entry")
    return 0 if last is None else int(last) + 1


def fetch_nodes(conn: Connection, addrs: Iterable[NodeAddr]) -> dict[NodeAddr, bytes]:
    """Stored node hashes by (level, index), in one indexed query per 250 addresses."""
    wanted = sorted(set(addrs))
    found: dict[NodeAddr, bytes] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        # OR of (level, idx) pairs: both SQLite and PostgreSQL answer it from the primary key,
        # where a row-value IN list makes SQLite scan the table.
        where = " OR ".join(["(level = ? AND idx = ?)"] * len(chunk))
        params = tuple(value for addr in chunk for value in addr)
        for level, idx, digest in query(
            conn, f"SELECT level, idx, hash FROM log_node WHERE {where}", params
        ):
            found[(int(level), int(idx))] = bytes(digest)
    return found


def node_range(conn: Connection, level: int, start: int, end: int) -> list[bytes]:
    """Stored hashes of nodes [start, end) of one level, in order (those that exist)."""
    rows = query(
        conn,
        "SELECT hash FROM log_node WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx",
        (level, start, end),
    )
    return [bytes(digest) for (digest,) in rows]


def nodes_at_level(conn: Connection, level: int) -> dict[int, bytes]:
    return {
        int(idx): bytes(digest)
        for idx, digest in query(conn, "SELECT idx, hash FROM log_node WHERE level = ?", (level,))
    }


# --- entries -----------------------------------------------------------------------------------


def _rows_in(conn: Connection, select: str, column: str, values: Iterable[Any]) -> list[Any]:
    """Rows of `select … WHERE column IN (values)`, in bounded queries of 500 values each."""
    wanted = sorted(set(values))
    rows: list[Any] = []
    for start in range(0, len(wanted), 500):
        chunk = tuple(wanted[start : start + 500])
        placeholders = ", ".join("?" * len(chunk))
        rows += query(conn, f"{select} WHERE {column} IN ({placeholders})", chunk)
    return rows


def find_duplicates(conn: Connection, digests: Iterable[bytes]) -> dict[bytes, tuple[int, bytes]]:
    """(index, leaf hash) of the already-logged entries among these payload digests."""
    rows = _rows_in(
        conn, "SELECT payload_digest, idx, leaf_hash FROM log_entry", "payload_digest", digests
    )
    return {bytes(digest): (int(idx), bytes(leaf)) for digest, idx, leaf in rows}


def entry_data(conn: Connection, index: int) -> bytes | None:
    rows = query(conn, "SELECT data FROM log_entry WHERE idx = ?", (index,))
    return bytes(rows[0][0]) if rows else None


def entry_range(conn: Connection, start: int, end: int) -> list[bytes]:
    """The bytes of entries [start, end) that exist, in order."""
    rows = query(
        conn, "SELECT data FROM log_entry WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
    )
    return [bytes(data) for (data,) in rows]


def entry_pages(conn: Connection, page: int = PAGE) -> Iterator[list[StoredEntry]]:
    """Every stored entry in index order, a page at a time (gaps are the caller's to notice)."""
    last = -1
    while True:
        rows = query(
            conn,
            f"SELECT idx, leaf_hash, data FROM log_entry WHERE idx > ? ORDER BY idx LIMIT {page}",
            (last,),
        )
        if not rows:
            return
        yield [StoredEntry(int(i), bytes(leaf), bytes(data)) for i, leaf, data in rows]
        last = int(rows[-1][0])


def last_logged_at(conn: Connection, size: int) -> str:
    """When the newest of `size` entries was logged ("" for an empty log)."""
    if size == 0:
        return ""
    rows = query(conn, "SELECT logged_at FROM log_entry WHERE idx = ?", (size - 1,))
    return str(rows[0][0]) if rows else ""


def payload_digest(conn: Connection, index: int) -> bytes | None:
    """The SHA-256 of the payload an entry logged (its identity for deduplication)."""
    rows = query(conn, "SELECT payload_digest FROM log_entry WHERE idx = ?", (index,))
    return bytes(rows[0][0]) if rows else None


def latest_entries(conn: Connection, limit: int) -> list[tuple[int, str, str, str, bytes]]:
    """(index, kind, signer, logged_at, leaf hash) of the newest entries, newest first."""
    rows = query(
        conn,
        "SELECT idx, kind, signer, logged_at, leaf_hash FROM log_entry "
        f"ORDER BY idx DESC LIMIT {int(limit)}",
    )
    return [(int(i), str(k), str(s), str(t), bytes(leaf)) for i, k, s, t, leaf in rows]


def entry_counts(conn: Connection) -> list[tuple[str, str, str, int]]:
    """(kind, signer key id, UTC day, entries) over the whole log."""
    rows = query(
        conn,
        "SELECT kind, signer, substr(logged_at, 1, 10), count(*) FROM log_entry "
        "GROUP BY kind, signer, substr(logged_at, 1, 10)",
    )
    return [(str(kind), str(signer), str(day), int(n)) for kind, signer, day, n in rows]


def entry_facts(conn: Connection, indices: Iterable[int]) -> dict[int, tuple[str, str, str]]:
    """(kind, signer key id, logged_at) of the entries at these indices that exist."""
    rows = _rows_in(
        conn, "SELECT idx, kind, signer, logged_at FROM log_entry", "idx", map(int, indices)
    )
    return {int(idx): (str(kind), str(signer), str(at)) for idx, kind, signer, at in rows}


# --- checkpoints and detached payloads ---------------------------------------------------------


def latest_checkpoint(conn: Connection) -> StoredCheckpoint | None:
    rows = query(
        conn, "SELECT size, root_hash, note FROM log_checkpoint ORDER BY size DESC LIMIT 1"
    )
    return StoredCheckpoint(int(rows[0][0]), bytes(rows[0][1]), str(rows[0][2])) if rows else None


def checkpoints(conn: Connection) -> list[StoredCheckpoint]:
    rows = query(conn, "SELECT size, root_hash, note FROM log_checkpoint ORDER BY size")
    return [StoredCheckpoint(int(size), bytes(root), str(note)) for size, root, note in rows]


def payload_data(conn: Connection, digest: bytes) -> bytes | None:
    """A detached payload's bytes, by their SHA-256."""
    rows = query(conn, "SELECT data FROM log_payload WHERE digest = ?", (digest,))
    return bytes(rows[0][0]) if rows else None


def entry_of_payload(conn: Connection, digest: bytes) -> int | None:
    """The index of the entry that logged the payload with this SHA-256."""
    rows = query(conn, "SELECT idx FROM log_entry WHERE payload_digest = ?", (digest,))
    return int(rows[0][0]) if rows else None


def payload_type(conn: Connection, digest: bytes) -> str | None:
    """The DSSE payload type of the entry that logged the payload with this SHA-256."""
    rows = query(conn, "SELECT data FROM log_entry WHERE payload_digest = ?", (digest,))
    if not rows:
        return None
    envelope = parse_json(bytes(rows[0][0])).get("envelope")
    found = envelope.get("payloadType") if isinstance(envelope, dict) else None
    return found if isinstance(found, str) else None
