"""Never sign over a state the log cannot vouch for: before a checkpoint is signed, the stored
right edge of the tree and every checkpoint kept outside the database must agree with it."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from provenance.errors import Error
from provenance.log import merkle
from provenance.log.errors import LogStateUnvouched, StorageDamaged
from provenance.log.note import Checkpoint, Signer, parse_note
from provenance.log.outside import CHECKPOINTS_DIR, OutsideRecord, checkpoint_of
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.log.store.faults import RESTORE, quick_check

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Edge:
    """The vouched right edge of the stored tree: what the next append builds on."""

    frontier: merkle.Frontier
    last_leaf: bytes
    logged_at: str  # of the last entry ("" for an empty log)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


class StateGuard:
    """Checks, inside the append transaction, that the store still holds what the log signed."""

    def __init__(self, signer: Signer, outside: OutsideRecord | None = None) -> None:
        self.signer = signer
        self.outside = outside
        self.damaged: Error | None = None  # found at start: refuses every append until restart
        self._ours = ""  # the last stored checkpoint note known to be this log's

    def signed(self, note: str) -> None:
        """A note this log has just signed (no need to check it when it is read back)."""
        self._ours = note

    def start(self, engine: Engine) -> Error | None:
        """The check at start, with SQLite's own check of the file: what would refuse appends
        (logged), or None."""
        found = quick_check(engine)
        if found is not None:
            self.damaged = StorageDamaged(f"SQLite's quick_check found: {found}. {RESTORE}")
        try:
            with read_connection(engine) as conn:
                self.edge(conn, logdb.tree_size(conn))
        except Error as exc:
            log.error("appends are refused: %s", exc.detail)
            return exc
        return None

    def edge(self, conn: Connection, size: int, cached: merkle.Frontier | None = None) -> Edge:
        """The stored right edge of a tree of `size`, once (a) it gives the root of the latest
        stored checkpoint, which is of that size and signed by this log, and its last leaf is
        its last entry's, and (b) every outside checkpoint is contained in the stored tree.
        O(log n) stored hashes, two rows; LogStateUnvouched otherwise."""
        if self.damaged is not None:
            raise self.damaged.with_context()
        latest = logdb.latest_checkpoint(conn)
        outside = self.outside.known() if self.outside is not None else []
        sizes = {cp.size for _, cp in outside if 0 < cp.size <= size}
        edge_addrs = merkle.frontier_addrs(size)
        wanted = {*edge_addrs, *(a for m in sizes for a in merkle.root_addrs(m))}
        nodes = logdb.fetch_nodes(conn, [*wanted, (0, size - 1)] if size else wanted)
        edge = self._stored_edge(conn, size, nodes, edge_addrs)
        if cached is not None and cached.size == size and cached.hashes() != edge.frontier.hashes():
            raise LogStateUnvouched(
                f"the stored right edge of the tree (size {size}) changed since this process "
                f"appended: a tree hash was edited. {RESTORE}",
                stored_size=size,
            )
        self._check_latest(latest, edge.frontier)
        for name, checkpoint in outside:
            self._check_outside(name, checkpoint, size, nodes)
        return edge

    def _stored_edge(
        self,
        conn: Connection,
        size: int,
        nodes: dict[merkle.NodeAddr, bytes],
        addrs: list[merkle.NodeAddr],
    ) -> Edge:
        if not size:
            return Edge(merkle.Frontier(), bytes(32), "")
        missing = [addr for addr in addrs if addr not in nodes]
        last = logdb.last_entry(conn, size)
        if missing or last is None:
            what = f"tree hashes {missing}" if missing else f"entry {size - 1}"
            raise LogStateUnvouched(
                f"{what} of the stored tree's right edge (size {size}) are missing. {RESTORE}",
                stored_size=size,
            )
        leaf, logged_at, data = last
        if merkle.leaf_hash(data) != leaf or nodes.get((0, size - 1)) != leaf:
            raise LogStateUnvouched(
                f"entry {size - 1}, its leaf hash and its stored tree hash disagree. {RESTORE}",
                stored_size=size,
            )
        return Edge(merkle.Frontier(size, [nodes[a] for a in addrs]), leaf, logged_at)

    def _check_latest(self, latest: logdb.StoredCheckpoint | None, edge: merkle.Frontier) -> None:
        size = edge.size
        if latest is None:
            if size:
                raise LogStateUnvouched(
                    f"the database holds {size} entries but no checkpoint. {RESTORE}",
                    stored_size=size,
                )
            return
        noted = checkpoint_of(latest.note, self.signer.name)
        if noted is None or (noted.size, noted.root_hash) != (latest.size, latest.root_hash):
            raise LogStateUnvouched(
                f"the latest stored checkpoint (size {latest.size}) differs from its signed "
                f"note. {RESTORE}",
                checkpoint_size=latest.size,
            )
        if latest.note != self._ours:
            # Ed25519 signatures are deterministic (RFC 8032 §5.1.6): signing the text again
            # is an exact check that this log's key made the note, and cheaper than verifying.
            if self.signer.sign(parse_note(latest.note).text) != latest.note:
                raise LogStateUnvouched(
                    f"the latest stored checkpoint (size {latest.size}) is not signed by this "
                    f"log's key as {self.signer.name}. {RESTORE}",
                    checkpoint_size=latest.size,
                )
            self._ours = latest.note
        if latest.size != size:
            raise LogStateUnvouched(
                f"the database holds {size} entries but its latest checkpoint is of size "
                f"{latest.size}. {RESTORE}",
                stored_size=size,
                checkpoint_size=latest.size,
            )
        if edge.root() != latest.root_hash:
            raise LogStateUnvouched(
                f"the stored tree hashes give size {size} the root {_b64(edge.root())}, but "
                f"the signed checkpoint of that size says {_b64(latest.root_hash)}: a tree "
                f"hash was changed. {RESTORE}",
                stored_size=size,
                checkpoint_size=size,
                checkpoint_root=_b64(latest.root_hash),
            )

    def _check_outside(
        self, name: str, cp: Checkpoint, size: int, nodes: dict[merkle.NodeAddr, bytes]
    ) -> None:
        if cp.size <= size:
            try:
                root = merkle.fold_right([nodes[a] for a in merkle.root_addrs(cp.size)])
            except KeyError:
                root = b""
            if root == cp.root_hash:
                return
            held = f"gives size {cp.size} another root"
        else:
            held = f"holds only {size} entries"
        if self.outside is None or not self.outside.signed_by_log(name):
            return
        raise LogStateUnvouched(
            f"this log published checkpoint {cp.size} (root {_b64(cp.root_hash)}; kept in "
            f"{CHECKPOINTS_DIR}/{name}), but the database {held}: it lost or changed what was "
            f"signed. {RESTORE}",
            checkpoint_size=cp.size,
            checkpoint_root=_b64(cp.root_hash),
            stored_size=size,
            source=f"{CHECKPOINTS_DIR}/{name}",
        )
