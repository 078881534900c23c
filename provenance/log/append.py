"""Appending: validate → sequence → store entry and tree hashes → sign a checkpoint, atomically."""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from provenance.errors import BadEnvelope, BadSignature, Error, TooLarge, UnknownKey
from provenance.log import kinds as rules
from provenance.log import merkle  # noqa: F401  (supply_rules registers kinds)
from provenance.log.batching import GroupCommit
from provenance.log.canonical import canonical_bytes, parse_json, sha256
from provenance.log.identity import EntryContext
from provenance.log.note import Checkpoint, Signer, format_checkpoint
from provenance.log.signing import EPCIS_PAYLOAD_TYPE, Envelope, parse_envelope, verify_p256
from provenance.log.statements import Statement, now_timestamp, parse_statement
from provenance.log.store.engine import marks, query, read_connection, write_transaction
from provenance.log.store.projection import DbView
from provenance.log.store.tables import LogCheckpoint, LogEntry, LogNode, LogPayload
from provenance.log.tiles import MAX_ENTRY_SIZE
from provenance.supply import capture as epcis
from provenance.supply import kinds as supply_rules  # noqa: F401  (registers the supply kinds)

ENTRY_TABLE = LogEntry.__table__  # type: ignore[attr-defined]
NODE_TABLE = LogNode.__table__  # type: ignore[attr-defined]
CHECKPOINT_TABLE = LogCheckpoint.__table__  # type: ignore[attr-defined]
PAYLOAD_TABLE = LogPayload.__table__  # type: ignore[attr-defined]
ZERO_HASH_HEX = "0" * 64


@dataclass(frozen=True)
class Submission:
    """A parsed, not yet logged, envelope."""

    envelope: Envelope
    statement: Statement
    digest: bytes  # SHA-256 of the payload: the identity of a statement for deduplication

    @property
    def detached(self) -> bool:
        """EPCIS documents outgrow a tile entry: the entry names them by digest instead."""
        return self.envelope.payload_type == EPCIS_PAYLOAD_TYPE


@dataclass(frozen=True)
class Appended:
    index: int
    leaf_hash: bytes
    duplicate: bool = False


def parse_submission(envelope_json: Any) -> Submission:
    """Envelope → statement, with every structural check that needs no database."""
    envelope = parse_envelope(envelope_json)
    statement = envelope_statement(envelope)
    if envelope.signatures[0].keyid != statement.signer:
        raise BadEnvelope("the signature's keyid differs from the statement's signer")
    return Submission(envelope, statement, sha256(envelope.payload))


def envelope_statement(envelope: Envelope) -> Statement:
    if envelope.payload_type == EPCIS_PAYLOAD_TYPE:
        return epcis.capture_statement(envelope)
    return parse_statement(envelope.payload)


def entry_bytes(
    index: int, logged_at: str, prev_hex: str, envelope: Envelope, *, detached: bool = False
) -> bytes:
    """The bytes the tiles carry and the leaf hash covers."""
    return canonical_bytes(
        {
            "index": index,
            "logged_at": logged_at,
            "prev": prev_hex,
            "envelope": envelope.to_json(detached=detached),
        }
    )


def open_entry(conn: Connection, entry: dict[str, Any]) -> tuple[Envelope, Statement]:
    """The envelope and statement of a decoded entry, fetching a detached payload."""
    envelope_json = entry["envelope"]
    payload = None
    if isinstance(envelope_json, dict) and "payloadSha256" in envelope_json:
        rows = query(
            conn,
            "SELECT data FROM log_payload WHERE digest = ?",
            (bytes.fromhex(str(envelope_json["payloadSha256"])),),
        )
        if not rows:
            raise BadEnvelope("the entry's detached payload is missing from the payload store")
        payload = bytes(rows[0][0])
    envelope = parse_envelope(envelope_json, detached_payload=payload)
    return envelope, envelope_statement(envelope)


def tree_size(conn: Connection) -> int:
    ((last,),) = query(conn, "SELECT max(idx) FROM log_entry")
    return 0 if last is None else int(last) + 1


def fetch_nodes(conn: Connection, addrs: Sequence[merkle.NodeAddr]) -> dict[merkle.NodeAddr, bytes]:
    """Stored node hashes by (level, index), in one indexed query per 250 addresses."""
    wanted = sorted(set(addrs))
    found: dict[merkle.NodeAddr, bytes] = {}
    for start in range(0, len(wanted), 250):
        chunk = wanted[start : start + 250]
        # OR of (level, idx) pairs: both SQLite and PostgreSQL answer it from the primary key,
        # where a row-value IN list makes SQLite scan the table.
        where = " OR ".join(["(level = ? AND idx = ?)"] * len(chunk))
        params = tuple(value for addr in chunk for value in addr)
        for level, idx, digest in query(
            conn, f"SELECT level, idx, hash FROM log_node WHERE {where}", params
        ):
            found[(int(level), int(idx))] = bytes(digest)
    return found


def find_duplicates(conn: Connection, digests: Sequence[bytes]) -> dict[bytes, Appended]:
    """The already-logged entries among these payload digests, in bounded IN queries."""
    found: dict[bytes, Appended] = {}
    wanted = sorted(set(digests))
    for start in range(0, len(wanted), 500):
        chunk = tuple(wanted[start : start + 500])
        rows = query(
            conn,
            "SELECT payload_digest, idx, leaf_hash FROM log_entry "
            f"WHERE payload_digest IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        for digest, idx, leaf in rows:
            found[bytes(digest)] = Appended(int(idx), bytes(leaf), duplicate=True)
    return found


def store_rows(
    conn: Connection, entries: Sequence[dict[str, Any]], nodes: Sequence[dict[str, Any]]
) -> None:
    """Insert entry rows and the tree nodes they complete (append-only; one executemany each)."""
    _insert_many(conn, ENTRY_TABLE, entries)
    _insert_many(conn, NODE_TABLE, nodes)


def _insert_many(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    # The driver's executemany with plain tuples: the ORM-level type processing costs more
    # than SQLite's own work for these narrow, append-only rows.
    if not rows:
        return
    columns = list(rows[0])
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks(conn, len(columns))})"
    conn.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])


def _at_item(error: Error, position: int, count: int) -> Error:
    """Name the failing item of a multi-statement batch in its problem details."""
    if count > 1:
        error.extensions.setdefault("item", position)
    return error


class TransparencyLog:
    """Appends statements and signs checkpoints; one instance per process and database."""

    def __init__(self, engine: Engine, signer: Signer) -> None:
        self.engine = engine
        self.signer = signer
        self.origin = signer.name
        self._lock = threading.Lock()
        # Right edge of the tree as of the last append by this process; reloaded when another
        # process has appended since.
        self._frontier = merkle.Frontier()
        self._last_leaf = bytes(32)
        # Key id → DER of every key seen: a key id is the hash of its DER, so an entry never goes
        # stale; whether the key may still sign is decided under the write lock.
        self._keys: dict[str, bytes] = {}
        self._group: GroupCommit[Submission, Appended] = GroupCommit(
            lambda batch: self._commit(batch, isolate=True)
        )

    # --- writing -------------------------------------------------------------------------

    def submit(self, envelope_json: Any, *, verify: bool = True) -> Appended:
        """Log one envelope (a JSON value), or return the index it already has.

        Concurrent callers in one process share a transaction and a checkpoint (group commit);
        each still gets its own result or its own error.
        """
        item = parse_submission(envelope_json)
        der = self._keys.get(item.statement.signer)
        if not verify or der is None or item.statement.kind == rules.GENESIS:
            dup = self._precheck([item], verify)[0]
            if dup is not None:
                return dup
            return self._group.submit(item)
        # Known key: verify without a read transaction; duplicates are found under the lock,
        # and a replay whose signature fails (a malleated twin) is answered from the log.
        try:
            self._verify_signature(item, der)
        except BadSignature:
            dup = self._precheck([item], verify=False)[0]
            if dup is not None:
                return dup
            raise
        return self._group.submit(item)

    def submit_many(self, items: Sequence[Submission], *, verify: bool = True) -> list[Appended]:
        """Log a batch in one transaction with one checkpoint; any bad item rejects the batch."""
        known = self._precheck(items, verify)
        if all(known):
            return [dup for dup in known if dup is not None]
        outcomes = self._commit(items, isolate=False)
        return [o for o in outcomes if isinstance(o, Appended)]

    def _precheck(self, items: Sequence[Submission], verify: bool) -> list[Appended | None]:
        """Duplicates are answered at once; signatures are checked before the write lock."""
        with read_connection(self.engine) as conn:
            logged = find_duplicates(conn, [item.digest for item in items])
            known = [logged.get(item.digest) for item in items]
            if verify:
                view = DbView(conn)
                # The expensive check runs outside the write lock so appenders verify in
                # parallel; key validity is checked again under the lock.
                for position, (item, dup) in enumerate(zip(items, known, strict=True)):
                    if dup is None:
                        try:
                            self._verify_signature(item, self._key_der(view, item.statement))
                        except Error as exc:
                            raise _at_item(exc, position, len(items)) from None
        return known

    def _commit(self, items: Sequence[Submission], *, isolate: bool) -> list[Appended | Error]:
        with self._lock, write_transaction(self.engine) as conn:
            frontier, last_leaf, outcomes = self._append_locked(conn, items, isolate)
        self._frontier, self._last_leaf = frontier, last_leaf
        return outcomes

    def _key_der(self, view: DbView, statement: Statement) -> bytes | None:
        if statement.kind == rules.GENESIS:  # genesis names its own key
            return rules.signing_key_der(view, statement)
        der = self._keys.get(statement.signer)
        if der is None:
            der = rules.signing_key_der(view, statement)
            if der is not None:
                self._keys[statement.signer] = der
        return der

    def _verify_signature(self, item: Submission, der: bytes | None) -> None:
        if der is None:
            raise UnknownKey(
                f"key {item.statement.signer} is not registered", key_id=item.statement.signer
            )
        verify_p256(der, item.envelope.pae(), item.envelope.signatures[0].sig)

    def _current_frontier(self, conn: Connection, size: int) -> tuple[merkle.Frontier, bytes]:
        if self._frontier.size == size:
            return merkle.Frontier(size, self._frontier.hashes()), self._last_leaf
        addrs = merkle.frontier_addrs(size)
        nodes = fetch_nodes(conn, [*addrs, (0, size - 1)] if size else [])
        frontier = merkle.Frontier(size, [nodes[a] for a in addrs])
        return frontier, nodes[(0, size - 1)] if size else bytes(32)

    def _append_locked(
        self, conn: Connection, items: Sequence[Submission], isolate: bool
    ) -> tuple[merkle.Frontier, bytes, list[Appended | Error]]:
        size = tree_size(conn)
        frontier, last_leaf = self._current_frontier(conn, size)
        view = DbView(conn)
        results: list[Appended | Error] = []
        entries: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        payloads: list[dict[str, Any]] = []
        seen = find_duplicates(conn, [item.digest for item in items])
        for position, item in enumerate(items):
            dup = seen.get(item.digest)
            if dup is not None:
                results.append(dup)
                continue
            index, logged_at = frontier.size, now_timestamp()
            prev = last_leaf.hex() if index else ZERO_HASH_HEX
            try:
                changes = rules.evaluate(view, item.statement, EntryContext(index, logged_at))
                data = entry_bytes(index, logged_at, prev, item.envelope, detached=item.detached)
                if len(data) > MAX_ENTRY_SIZE:
                    raise TooLarge(
                        f"the entry would be {len(data)} bytes; tlog-tiles entries are at most "
                        f"{MAX_ENTRY_SIZE} bytes",
                        limit=MAX_ENTRY_SIZE,
                    )
            except Error as exc:
                if not isolate:
                    raise _at_item(exc, position, len(items)) from None
                results.append(exc)  # this item alone is refused; nothing of it was applied
                continue
            view.apply(changes)
            leaf = merkle.leaf_hash(data)
            for level, idx, digest in frontier.append(leaf):
                nodes.append({"level": level, "idx": idx, "hash": digest})
            if item.detached:
                payloads.append({"digest": item.digest, "data": item.envelope.payload})
            entries.append(
                {
                    "idx": index,
                    "leaf_hash": leaf,
                    "payload_digest": item.digest,
                    "kind": item.statement.kind,
                    "signer": item.statement.signer,
                    "logged_at": logged_at,
                    "data": data,
                }
            )
            last_leaf = leaf
            appended = Appended(index, leaf)
            seen[item.digest] = Appended(index, leaf, duplicate=True)
            results.append(appended)
        if entries:
            store_rows(conn, entries, nodes)
            _insert_many(conn, PAYLOAD_TABLE, payloads)
            self._publish_checkpoint(conn, frontier)
        return frontier, last_leaf, results

    def _publish_checkpoint(self, conn: Connection, frontier: merkle.Frontier) -> None:
        root = frontier.root()
        note = self.signer.sign(format_checkpoint(Checkpoint(self.origin, frontier.size, root)))
        row = {
            "size": frontier.size,
            "root_hash": root,
            "note": note,
            "created_at": now_timestamp(),
        }
        _insert_many(conn, CHECKPOINT_TABLE, [row])


def decode_entry(data: bytes) -> dict[str, Any]:
    """An entry's JSON with its statement decoded, for display."""
    entry: dict[str, Any] = parse_json(data)
    envelope = entry["envelope"]
    if "payloadSha256" in envelope:  # an EPCIS document, served at /log/payload/<sha256>
        entry["statement"] = {"kind": "epcis.capture", "payloadSha256": envelope["payloadSha256"]}
    else:
        entry["statement"] = parse_json(base64.b64decode(envelope["payload"]))
    return entry
