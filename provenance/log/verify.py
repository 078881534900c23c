"""Re-verify a whole log: entry bytes, chain links, tree hashes, checkpoints and signatures."""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from provenance.errors import Error
from provenance.log import identity, merkle
from provenance.log.canonical import canonical_bytes, parse_json
from provenance.log.entries import ZERO_HASH_HEX, open_entry
from provenance.log.kinds import check_audience_and_age, signing_key_der
from provenance.log.note import Checkpoint, Verifier, open_checkpoint
from provenance.log.personality import Registry
from provenance.log.profile import LogProfile, entry_context, genesis_profile
from provenance.log.sigcheck import SignatureChecks
from provenance.log.signing import Envelope
from provenance.log.statements import Statement
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import MemoryView

#: When several problems start at one index, the one named first explains the others.
KINDS_OF_DAMAGE = (
    "missing entry",
    "moved entry",
    "edited entry",
    "broken link",
    "bad signature",
    "bad statement",
    "bad checkpoint",
    "root mismatch",
    "edited tree hash",
    "missing tree hash",
    "extra tree hash",
)


@dataclass(frozen=True)
class Problem:
    index: int
    what: str  # one of KINDS_OF_DAMAGE
    detail: str

    def sort_key(self) -> tuple[int, int]:
        return self.index, KINDS_OF_DAMAGE.index(self.what)


@dataclass
class VerifyReport:
    entries: int = 0
    signatures: int = 0
    checkpoints: int = 0
    nodes: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return min(self.problems, key=Problem.sort_key) if self.problems else None

    def summary(self) -> str:
        counts = (
            f"{self.entries} entries, {self.signatures} signatures, {self.checkpoints} "
            f"checkpoints, {self.nodes} tree hashes in {self.seconds:.1f}s"
        )
        first = self.first
        if first is None:
            return f"log intact: {counts}"
        return (
            f"LOG DAMAGED: first bad index {first.index}: {first.what}: {first.detail}\n"
            f"{len(self.problems)} problem(s) found; checked {counts}"
        )


class _Replay:
    """Walks entries in order, keeping the chain, the tree and who may sign."""

    def __init__(
        self,
        report: VerifyReport,
        checkpoints: dict[int, bytes],
        sigs: SignatureChecks,
        registry: Registry,
        opener: Callable[[dict[str, Any]], tuple[Envelope, Statement]],
    ):
        self.registry = registry
        self.opener = opener  # decodes an entry, fetching a detached payload
        self.report = report
        self.checkpoints = checkpoints
        self.sigs = sigs
        self.view = MemoryView(registry.key_columns)
        self.frontier = merkle.Frontier()
        self.levels: list[list[bytes]] = []
        self.prev = ZERO_HASH_HEX
        self.next_index = 0
        self.tree_intact = True
        self.profile: LogProfile | None = None  # what the genesis entry declares
        self.last_at = ""  # the latest logged_at so far

    def problem(self, index: int, what: str, detail: str) -> None:
        self.report.problems.append(Problem(index, what, detail))

    def entry(self, idx: int, stored_leaf: bytes, data: bytes) -> None:
        expected = self.next_index
        if idx != expected:
            self.problem(expected, "missing entry", f"entries {expected}..{idx - 1} are missing")
            self.tree_intact = False
        self.next_index = idx + 1
        leaf = merkle.leaf_hash(data)
        if leaf != stored_leaf:
            self.problem(idx, "edited entry", "entry bytes do not hash to the stored leaf hash")
        self._content(idx, leaf, data)
        self.prev = leaf.hex()
        if self.tree_intact:
            for level, _, digest in self.frontier.append(leaf):
                if level == len(self.levels):
                    self.levels.append([])
                self.levels[level].append(digest)
            root = self.checkpoints.get(self.frontier.size)
            if root is not None and root != self.frontier.root():
                self.problem(
                    idx,
                    "root mismatch",
                    f"tree root at size {self.frontier.size} differs from its checkpoint",
                )

    def _content(self, idx: int, leaf: bytes, data: bytes) -> None:
        try:
            entry = parse_json(data)
            if canonical_bytes(entry) != data:
                raise ValueError("entry is not RFC 8785 canonical")
            if entry.get("index") != idx:
                self.problem(
                    idx, "moved entry", f"row {idx} holds the entry for index {entry.get('index')}"
                )
            if entry.get("prev") != self.prev:
                self.problem(
                    idx,
                    "broken link",
                    f"prev {str(entry.get('prev'))[:16]}… is not the leaf hash of entry "
                    f"{idx - 1} ({self.prev[:16]}…)",
                )
            logged_at = str(entry["logged_at"])
            if self.profile is not None and self.profile.rules >= 2 and logged_at < self.last_at:
                self.problem(
                    idx,
                    "edited entry",
                    f"logged_at {logged_at} is before entry {idx - 1}'s ({self.last_at}); "
                    "the log's time never goes back",
                )
            self.last_at = max(self.last_at, logged_at)
            envelope, statement = self.opener(entry)
            ctx = entry_context(idx, logged_at, self.profile, statement.body)
            if idx == 0:
                changes: list[object] = list(identity.plan_genesis(statement, ctx))
                self.profile = genesis_profile(statement.body)
                der = signing_key_der(self.view, statement)
            else:
                rule, key = self.registry.check_signer(self.view, statement, ctx)
                check_audience_and_age(statement, ctx, rule.max_age)
                der = key.public_key
                changes = self.registry.replay_identity(self.view, rule, key, statement, ctx)
            if der is None:
                raise ValueError("no key to check the genesis signature with")
            self.sigs.add((idx, der, envelope.pae(), envelope.signatures[0].sig))
            self.view.apply(changes)
        except Error as exc:
            self.problem(idx, "bad statement", f"{exc.title}: {exc.detail}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.problem(idx, "edited entry", f"entry is not a well-formed log entry ({exc})")


def _check_checkpoints(
    conn: Connection, verifier: Verifier, origin: str, report: VerifyReport
) -> dict[int, bytes]:
    roots: dict[int, bytes] = {}
    for size, root_hash, note in logdb.checkpoints(conn):
        report.checkpoints += 1
        try:
            checkpoint: Checkpoint = open_checkpoint(note, verifier, origin)
        except Error as exc:
            report.problems.append(Problem(max(size - 1, 0), "bad checkpoint", exc.detail))
            continue
        if checkpoint.size != size or checkpoint.root_hash != root_hash:
            report.problems.append(
                Problem(
                    max(size - 1, 0),
                    "bad checkpoint",
                    "stored size/root differ from the signed note",
                )
            )
        roots[checkpoint.size] = checkpoint.root_hash
    return roots


def _check_nodes(conn: Connection, replay: _Replay, report: VerifyReport) -> None:
    """Stored tree hashes serve proofs: each must equal the hash recomputed from the entries.

    A wrong entry makes every node above it differ too; only the lowest differing node is
    reported, so the report points at where the damage starts.
    """
    below: set[int] = set()
    for level, hashes in enumerate(replay.levels):
        stored = logdb.nodes_at_level(conn, level)
        report.nodes += len(stored)
        differing: set[int] = set()
        for idx, digest in enumerate(hashes):
            found = stored.get(idx)
            if found is not None and found == digest:
                continue
            differing.add(idx)
            if level == 0 or not ({2 * idx, 2 * idx + 1} & below):
                what = "missing tree hash" if found is None else "edited tree hash"
                report.problems.append(
                    Problem(
                        idx << level,
                        what,
                        f"stored node (level {level}, index {idx}) "
                        f"{'is missing' if found is None else 'differs from the entries'}",
                    )
                )
        extra = set(stored) - set(range(len(hashes)))
        for idx in sorted(extra)[:1]:
            report.problems.append(
                Problem(
                    idx << level,
                    "extra tree hash",
                    f"stored node (level {level}, index {idx}) covers missing entries",
                )
            )
        below = differing


def verify_log(
    engine: Engine,
    registry: Registry,
    verifier: Verifier,
    origin: str,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    external: Sequence[str] = (),
    conn: Connection | None = None,
) -> VerifyReport:
    """Check everything the log claims; every problem names the entry index it starts at.

    Only public keys are needed: the checkpoints' `verifier` (with the log's `origin`) and the
    party keys the log itself registers. `registry` names the kinds the log may hold.
    `external` are signed checkpoints kept outside the database (by an auditor or a witness):
    the log must still contain and agree with them, even if stored checkpoints were removed.
    `conn`, if given, is a read transaction to verify in, so a caller's other reads describe the
    same snapshot. `progress` is told how many more entries were checked, a page at a time.
    """
    started = time.perf_counter()
    report = VerifyReport()
    workers = workers or os.cpu_count() or 1
    sigs = SignatureChecks(workers)
    try:
        with contextlib.ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(read_connection(engine))
            roots = _check_checkpoints(conn, verifier, origin, report)
            for note in external:
                checkpoint = open_checkpoint(note, verifier, origin)
                report.checkpoints += 1
                roots.setdefault(checkpoint.size, checkpoint.root_hash)
                if roots[checkpoint.size] != checkpoint.root_hash:
                    report.problems.append(
                        Problem(
                            max(checkpoint.size - 1, 0),
                            "bad checkpoint",
                            f"a checkpoint kept outside disagrees at size {checkpoint.size}",
                        )
                    )
            opener = functools.partial(open_entry, conn, registry=registry)
            replay = _Replay(report, roots, sigs, registry, opener)
            for page in logdb.entry_pages(conn):
                for idx, stored_leaf, data in page:
                    replay.entry(idx, stored_leaf, data)
                report.entries += len(page)
                if progress is not None:
                    progress(len(page))
            bad = sigs.finish()
            for index in bad:
                report.problems.append(
                    Problem(index, "bad signature", "the envelope signature does not verify")
                )
            report.signatures = sigs.count
            size = replay.next_index
            if roots and max(roots) > size:
                report.problems.append(
                    Problem(
                        size,
                        "missing entry",
                        f"the log holds {size} entries; "
                        f"a checkpoint of size {max(roots)} was signed",
                    )
                )
            if replay.tree_intact:
                _check_nodes(conn, replay, report)
    finally:
        sigs.abandon()
    report.seconds = time.perf_counter() - started
    return report
