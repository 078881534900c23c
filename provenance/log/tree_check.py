"""Checks a replay makes as the tree grows: each completed node against the stored one, and the
root at each size a checkpoint signed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from provenance.errors import Error
from provenance.log import merkle
from provenance.log.damage import VerifyReport, blob, described
from provenance.log.errors import BadStatement
from provenance.log.note import Verifier, open_checkpoint

Completed = tuple[int, int, bytes]  # (level, index, hash) of a node the frontier completed


class CheckpointRoots:
    """Signed roots by tree size, handed out as the replay reaches each size.

    `rows` are stored checkpoints (size, root hash, signed note) in size order, read lazily so
    any number of them fits in memory; `kept` are checkpoints kept outside the source (already
    opened), whose sizes may be anywhere.
    """

    def __init__(
        self,
        report: VerifyReport,
        verifier: Verifier,
        origin: str,
        rows: Iterable[tuple[Any, Any, Any]],
        kept: Iterable[tuple[int, bytes]] = (),
        start: int = 0,
    ) -> None:
        self.report = report
        self.verifier = verifier
        self.origin = origin
        self.rows: Iterator[tuple[Any, Any, Any]] = iter(rows)
        self.pending: tuple[int, bytes] | None = None
        self.extra: dict[int, list[tuple[bytes, str]]] = {}
        #: The largest size any valid signed checkpoint names (a resumed run starts at one).
        self.largest = start
        #: The largest size a stored checkpoint row claims, whether or not its note verifies.
        self.stored_largest = start
        for size, root in kept:
            self.extra.setdefault(size, []).append((root, "a checkpoint kept outside"))
            self.largest = max(self.largest, size)

    def _open(self, size: object, root: object, note: object) -> tuple[int, bytes] | None:
        self.report.checkpoints += 1
        at = max(size - 1, 0) if isinstance(size, int) else 0
        if isinstance(size, int):
            self.stored_largest = max(self.stored_largest, size)
        try:
            text = note.decode() if isinstance(note, bytes) else note
            if not isinstance(text, str):
                raise BadStatement(f"the stored note is {described(note)}")
            checkpoint = open_checkpoint(text, self.verifier, self.origin)
        except (Error, UnicodeDecodeError) as exc:
            detail = exc.detail if isinstance(exc, Error) else "the stored note is not UTF-8"
            self.report.add(at, "bad checkpoint", f"checkpoint of size {size}: {detail}")
            return None
        self.largest = max(self.largest, checkpoint.size)
        if checkpoint.size != size or checkpoint.root_hash != blob(root):
            self.report.add(at, "bad checkpoint", "stored size/root differ from the signed note")
            if checkpoint.size != size:
                # Compared where it belongs, if the replay still gets there.
                roots = self.extra.setdefault(checkpoint.size, [])
                roots.append((checkpoint.root_hash, "its checkpoint"))
                return None
        return checkpoint.size, checkpoint.root_hash

    def _peek(self) -> tuple[int, bytes] | None:
        while self.pending is None:
            row = next(self.rows, None)
            if row is None:
                return None
            self.pending = self._open(*row)
        return self.pending

    def at(self, size: int) -> list[tuple[bytes, str]]:
        """The roots signed for a tree of `size` (sizes passed on the way are dropped)."""
        roots = self.extra.pop(size, [])
        while (pending := self._peek()) is not None and pending[0] <= size:
            self.pending = None
            if pending[0] == size:
                roots.append((pending[1], "its checkpoint"))
        return roots

    def drain(self) -> None:
        """Open every checkpoint not reached (they still say how large the log was)."""
        while self._peek() is not None:
            self.pending = None


class TreeCheck:
    """Stored tree hashes serve proofs: each must equal the node recomputed from the entries.

    A wrong entry makes every node above it differ too; only the lowest differing node is
    reported, so the report points at where the damage starts. `differing` holds the leaf
    ranges of differing nodes no compared node above has covered yet: O(log n) of them.
    """

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        self.differing: list[tuple[int, int]] = []

    def compare(
        self, completed: Sequence[Completed], stored: Mapping[tuple[int, int], object]
    ) -> None:
        for level, idx, digest in completed:
            start = idx << level
            covered = False
            while self.differing and self.differing[-1][0] >= start:
                self.differing.pop()
                covered = True
            raw = stored.get((level, idx))
            if raw is not None:
                self.report.nodes += 1
            if blob(raw) == digest:
                continue
            self.differing.append((start, (idx + 1) << level))
            if covered:
                continue
            where = f"stored node (level {level}, index {idx})"
            if raw is None:
                self.report.add(start, "missing tree hash", f"{where} is missing")
            elif blob(raw) is None or len(blob(raw) or b"") != merkle.HASH_SIZE:
                self.report.add(start, "edited tree hash", f"{where} is {described(raw)}")
            else:
                self.report.add(start, "edited tree hash", f"{where} differs from the entries")
