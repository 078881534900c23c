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
        if conn.dialect.name == "postgresql":
            # A join with the addresses as two arrays: one primary-key probe per address, the
            # same plan whatever the count. An OR of pairs is planned afresh for each count and
            # answered by a bitmap of every probe plus a heap scan: 2-3x the time per proof.
            rows = conn.exec_driver_sql(
                "SELECT n.level, n.idx, n.hash FROM unnest(%s::bigint[], %s::bigint[]) "
                "AS a(level, idx) JOIN log_node n ON n.level = a.level AND n.idx = a.idx",
                ([level for level, _ in chunk], [idx for _, idx in chunk]),
            ).fetchall()
        else:
            # OR of (level, idx) pairs: SQLite answers it from the primary key, where a
            # row-value IN list makes it scan the table.
            where = " OR ".join(["(level = ? AND idx = ?)"] * len(chunk))
            params = tuple(value for addr in chunk for value in addr)
            rows = query(conn, f"SELECT level, idx, hash FROM log_node WHERE {where}", params)
        for level, idx, digest in rows:
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


def entry_pages(
    conn: Connection, page: int = PAGE, start: int = 0, end: int | None = None
) -> Iterator[list[StoredEntry]]:
    """The stored entries [start, end) (to the last one without `end`) in index order, a page
    at a time (gaps are the caller's to notice)."""
    last = start - 1
    bound = "" if end is None else f" AND idx < {int(end)}"
    while True:
        rows = query(
            conn,
            f"SELECT idx, leaf_hash, data FROM log_entry WHERE idx > ?{bound} "
            f"ORDER BY idx LIMIT {page}",
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


def last_entry(conn: Connection, size: int) -> tuple[bytes, str, bytes] | None:
    """(leaf hash, logged_at, bytes) of entry `size - 1`, the one the next entry links to."""
    rows = query(
        conn, "SELECT leaf_hash, logged_at, data FROM log_entry WHERE idx = ?", (size - 1,)
    )
    return (bytes(rows[0][0]), str(rows[0][1]), bytes(rows[0][2])) if rows else None


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


def entry_counts(
    conn: Connection, start: int = 0, end: int | None = None
) -> list[tuple[str, str, str, int]]:
    """(kind, signer key id, UTC day, entries) of the entries from index `start` (to `end`)."""
    rows = query(
        conn,
        "SELECT kind, signer, substr(logged_at, 1, 10), count(*) FROM log_entry "
        "WHERE idx >= ? AND idx < ? GROUP BY kind, signer, substr(logged_at, 1, 10)",
        (start, 2**62 if end is None else end),
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


def checkpoint_at(conn: Connection, size: int) -> StoredCheckpoint | None:
    rows = query(conn, "SELECT size, root_hash, note FROM log_checkpoint WHERE size = ?", (size,))
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


# --- rows as stored, for verification ----------------------------------------------------------
# Verification judges every stored value itself (SQLite keeps whatever type was written), so
# these return what the driver returns, converting nothing.


def raw_entries(conn: Connection, after: int, limit: int = PAGE) -> list[tuple[Any, Any, Any]]:
    """(idx, leaf_hash, data) of the entries after index `after`, in index order."""
    rows = query(
        conn,
        f"SELECT idx, leaf_hash, data FROM log_entry WHERE idx > ? ORDER BY idx LIMIT {int(limit)}",
        (after,),
    )
    return [tuple(row) for row in rows]


def first_index(conn: Connection) -> Any:
    """The smallest stored entry index (None for an empty log)."""
    ((first,),) = query(conn, "SELECT min(idx) FROM log_entry")
    return first


def raw_checkpoints(conn: Connection, after: int, limit: int = 1000) -> list[tuple[Any, Any, Any]]:
    """(size, root_hash, note) of the checkpoints larger than `after`, in size order."""
    rows = query(
        conn,
        "SELECT size, root_hash, note FROM log_checkpoint WHERE size > ? "
        f"ORDER BY size LIMIT {int(limit)}",
        (after,),
    )
    return [tuple(row) for row in rows]


def raw_nodes(
    conn: Connection, spans: Iterable[tuple[int, int, int]]
) -> list[tuple[Any, Any, Any]]:
    """(level, idx, hash) of the stored nodes in the spans (level, first idx, last idx)."""
    spans = list(spans)
    found: list[tuple[Any, Any, Any]] = []
    for start in range(0, len(spans), 64):
        chunk = spans[start : start + 64]
        # One query a page: each OR term is a range of the primary key.
        where = " OR ".join(["(level = ? AND idx >= ? AND idx <= ?)"] * len(chunk))
        params = tuple(value for span in chunk for value in span)
        sql = f"SELECT level, idx, hash FROM log_node WHERE {where}"
        found += [tuple(row) for row in query(conn, sql, params)]
    return found


def raw_node_beyond(conn: Connection, level: int, end: int) -> tuple[Any, Any] | None:
    """(level, idx) of a stored node of `level` below index 0, or else the first at `end` or
    beyond (two searches of the primary key: an OR of both would scan the level)."""
    for where in ("idx < 0", "idx >= ?"):
        rows = query(
            conn,
            f"SELECT level, idx FROM log_node WHERE level = ? AND {where} ORDER BY idx LIMIT 1",
            (level, end) if "?" in where else (level,),
        )
        if rows:
            return rows[0][0], rows[0][1]
    return None


def raw_odd_node(conn: Connection, levels: int) -> tuple[Any, Any] | None:
    """(level, idx) of a stored node at no level 0..levels-1, or (SQLite, which keeps any type
    in any column) whose address is not two integers: reading it scans the table."""
    where = "level < 0 OR level >= ?"
    if conn.dialect.name == "sqlite":
        where += " OR typeof(level) != 'integer' OR typeof(idx) != 'integer'"
    rows = query(conn, f"SELECT level, idx FROM log_node WHERE {where} LIMIT 1", (levels,))
    return (rows[0][0], rows[0][1]) if rows else None


def raw_payload(conn: Connection, digest: bytes) -> Any:
    """A detached payload's stored value by its SHA-256 (None if there is no row)."""
    rows = query(conn, "SELECT data FROM log_payload WHERE digest = ?", (digest,))
    return rows[0][0] if rows else None


def raw_checkpoint(conn: Connection, size: int) -> tuple[Any, Any, Any] | None:
    """(size, root_hash, note) of the checkpoint of `size`."""
    rows = query(conn, "SELECT size, root_hash, note FROM log_checkpoint WHERE size = ?", (size,))
    return tuple(rows[0]) if rows else None
