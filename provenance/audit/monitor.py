"""A monitor's run: the log's new checkpoint against the last one it accepted, and every new
entry it may read (no HTTP and no files here: a `LogSource` serves the log, the caller keeps
the state).

1. The checkpoint must carry the log's signature (and, if asked, enough witness cosignatures).
2. A smaller size than accepted before is a rollback; the same size with another root, or a
   larger one without an RFC 9162 consistency proof from the accepted one, is a split view.
3. The proof is built from hash tiles alone, and the tiles must fold into the signed root.
4. Each new entry is checked against its leaf hash in those tiles, its envelope signature and
   the log's rules (`replay`); the state advances only when everything holds.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from provenance.audit.errors import Inconsistent, bad_entry
from provenance.audit.replay import EntryChecker, ReplayState
from provenance.audit.tiletree import TileTree
from provenance.errors import Error
from provenance.log import merkle
from provenance.log.errors import InvalidProof
from provenance.log.note import Checkpoint, parse_checkpoint, parse_note
from provenance.log.personality import Registry
from provenance.log.sigcheck import SignatureChecks
from provenance.log.tiles import TileRef

#: Opens a signed checkpoint: the log's signature, and cosignatures where required.
CheckpointOpener = Callable[[str], Checkpoint]
#: New entries from which signatures are checked in worker processes.
PARALLEL_FROM = 5000
#: Given how many entries a run reads, a context that is told of each one read.
Progress = Callable[[int], AbstractContextManager[Callable[[int], None]]]


@contextlib.contextmanager
def _quiet(total: int) -> Iterator[Callable[[int], None]]:
    yield lambda done: None


class LogSource(Protocol):
    """Where a monitor reads the log: its checkpoint, hash tiles, entries and payloads."""

    def checkpoint(self) -> str: ...

    def tile(self, ref: TileRef) -> bytes: ...

    def entries(self, start: int, end: int, size: int) -> Iterator[tuple[int, bytes | None]]:
        """Entries [start, end) of the tree of `size` in order; None for one this reader may
        not read."""
        ...

    def payload(self, digest: bytes) -> bytes | None: ...


@dataclass
class MonitorState:
    """What a monitor accepted: the signed checkpoint, and the replay of its entries."""

    checkpoint: str | None = None
    replay: ReplayState = field(default_factory=ReplayState)

    def accepted(self) -> Checkpoint | None:
        if self.checkpoint is None:
            return None
        return parse_checkpoint(parse_note(self.checkpoint).text)


@dataclass(frozen=True)
class Outcome:
    """One run: from the accepted size (None on a first run) to the new one."""

    old_size: int | None
    size: int
    root_hash: bytes
    checked: int  # new entries read and checked
    skipped: int  # new entries this reader may not read
    unverifiable: int  # new entries read whose signer's registration it could not read


def check_log(
    source: LogSource,
    state: MonitorState,
    open_checkpoint: CheckpointOpener,
    registry: Registry,
    log_key: str,
    progress: Progress = _quiet,
) -> tuple[Outcome, MonitorState]:
    """Check the log's current checkpoint and new entries; the new state to keep, or
    Inconsistent / BadEntry naming the size or index and what is wrong."""
    note = source.checkpoint()
    # 1.
    try:
        new = open_checkpoint(note)
    except Error as exc:
        raise Inconsistent(f"the log's checkpoint does not verify: {exc.detail}") from exc
    old = state.accepted()
    # 2.
    if old is not None and new.size < old.size:
        raise Inconsistent(
            f"rollback: the log's checkpoint has size {new.size}, smaller than size "
            f"{old.size} accepted before"
        )
    if old is not None and new.size == old.size:
        if new.root_hash != old.root_hash:
            raise Inconsistent(
                f"split view at size {new.size}: root {new.root_hash.hex()} differs from root "
                f"{old.root_hash.hex()} accepted before"
            )
        return Outcome(old.size, new.size, new.root_hash, 0, 0, 0), state
    # 3.
    tree = TileTree(new.size, source.tile)
    tree.verify_root(new.root_hash)
    if old is not None and old.size > 0:
        proof = tree.consistency_proof(old.size)
        try:
            merkle.verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)
        except InvalidProof as exc:
            raise Inconsistent(
                f"split view: size {new.size} is not consistent with size {old.size} accepted "
                f"before, the log rewrote its history ({exc.detail})"
            ) from exc
    # 4.
    replay = ReplayState.from_json(state.replay.to_json())  # the kept state is left as it was
    start = replay.next_index
    if start != (old.size if old is not None else 0):
        raise ValueError(f"the monitor's state checked {start} entries of a checkpoint of {old}")
    leaves = tree.leaf_hashes(start, new.size)
    # Signatures are the slow part: over many entries, spread them over the machine's cores.
    workers = (os.cpu_count() or 1) if new.size - start >= PARALLEL_FROM else 1
    signatures = SignatureChecks(workers)
    checker = EntryChecker(registry, replay, log_key, signatures)
    skipped, unverifiable = replay.skipped, replay.unverifiable
    try:
        with progress(new.size - start) as tick:
            for index, data in source.entries(start, new.size, new.size):
                leaf = leaves[index - start]
                if data is None:
                    checker.skip(index, leaf)
                else:
                    checker.check(index, leaf, data, source.payload)
                tick(1)
        bad = signatures.finish()
    finally:
        signatures.abandon()
    if bad:
        raise bad_entry(min(bad), "its envelope signature does not verify")
    if replay.next_index != new.size:
        raise Inconsistent(
            f"the log served entries up to index {replay.next_index - 1}; its checkpoint has "
            f"size {new.size}"
        )
    skipped = replay.skipped - skipped
    unverifiable = replay.unverifiable - unverifiable
    checked = new.size - start - skipped
    outcome = Outcome(
        old.size if old else None, new.size, new.root_hash, checked, skipped, unverifiable
    )
    return outcome, MonitorState(note, replay)
