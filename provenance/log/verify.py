"""Verify a stored log with public keys only: entry bytes, chain links, tree hashes, checkpoints
and signatures, all of it or (resuming) what was appended since the last verification."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from provenance.errors import Error
from provenance.log.damage import KINDS_OF_DAMAGE, Problem, VerifyReport, blob
from provenance.log.note import Verifier, open_checkpoint
from provenance.log.personality import Registry
from provenance.log.replay import Replay
from provenance.log.sigcheck import SignatureChecks
from provenance.log.statements import now_timestamp
from provenance.log.store import logdb, verification
from provenance.log.store.engine import read_connection, write_transaction
from provenance.log.tree_check import CheckpointRoots, Completed, TreeCheck
from provenance.log.verify_resume import resume_state
from provenance.log.verify_state import (
    VerifiedState,
    encode,
    registry_fingerprint,
    savable,
)

log = logging.getLogger(__name__)

#: Below this many entries to check, starting signature-checking processes costs more than it
#: saves.
PARALLEL_FROM = 5000
#: Levels a tree of at most 2**63 leaves can have nodes at.
LEVELS = 64

__all__ = ["KINDS_OF_DAMAGE", "PARALLEL_FROM", "Problem", "VerifyReport", "verify_log"]


def _spans(completed: Sequence[Completed]) -> list[tuple[int, int, int]]:
    """(level, first idx, last idx) of the nodes a page completed: one range per level."""
    spans: dict[int, tuple[int, int]] = {}
    for level, idx, _ in completed:
        low, high = spans.get(level, (idx, idx))
        spans[level] = (min(low, idx), max(high, idx))
    return [(level, low, high) for level, (low, high) in sorted(spans.items())]


def _stored_nodes(
    conn: Connection, completed: Sequence[Completed], odd: list[tuple[Any, Any]]
) -> dict[tuple[int, int], object]:
    stored: dict[tuple[int, int], object] = {}
    for level, idx, digest in logdb.raw_nodes(conn, _spans(completed)):
        if type(level) is int and type(idx) is int:
            stored[(level, idx)] = digest
        elif len(odd) < 10:
            odd.append((level, idx))
    return stored


def _checkpoint_rows(conn: Connection, after: int) -> Iterator[tuple[Any, Any, Any]]:
    while rows := logdb.raw_checkpoints(conn, after):
        yield from rows
        after = rows[-1][0]


def _extra_nodes(conn: Connection, size: int, report: VerifyReport, full: bool) -> None:
    """Stored nodes that cover entries the log does not hold (or are no node at all)."""
    found: list[tuple[Any, Any]] = []
    for level in range(LEVELS):
        beyond = logdb.raw_node_beyond(conn, level, size >> level)
        if beyond is not None:
            found.append(beyond)
    # A full run also looks for rows at no level, which needs a scan of every stored node.
    odd = logdb.raw_odd_node(conn, LEVELS) if full else None
    for level, idx in [*found, *([odd] if odd is not None else [])]:
        where = f"stored node (level {level!r}, index {idx!r})"
        if type(level) is int and type(idx) is int and 0 <= level < LEVELS and idx >= 0:
            # Named at the first missing entry it covers: a truncation shows as missing entries.
            report.add(
                max(idx << level, size), "extra tree hash", f"{where} covers missing entries"
            )
        else:
            report.add(size, "extra tree hash", f"{where} is not a node of any tree")


def _scope(
    report: VerifyReport,
    resumed: VerifiedState | None,
    refused: str,
    size: int,
) -> None:
    report.size = size
    report.resume_refused = refused
    if resumed is not None:
        report.resumed_from = resumed.point.size
        report.full_size, report.full_at = resumed.full_size, resumed.full_at


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
    resume: bool = False,
    save: bool = True,
) -> VerifyReport:
    """Check everything the log claims; every problem names the entry index it starts at.

    Only public keys are needed: the checkpoints' `verifier` (with the log's `origin`) and the
    party keys the log itself registers. `registry` names the kinds the log may hold.
    `external` are signed checkpoints kept outside the database (by an auditor or a witness):
    the log must still contain and agree with them, even if stored checkpoints were removed.
    `conn`, if given, is a read transaction to verify in, so a caller's other reads describe the
    same snapshot. `progress` is told how many more entries were checked, a page at a time.
    `resume`: start from the state the last verification that found the log intact stored, once
    it agrees with the signed checkpoint and the stored entries at its size (else check all).
    `save`: store this run's state for the next to resume from, if the log is intact.
    """
    started = time.perf_counter()
    report = VerifyReport()
    kept = [open_checkpoint(note, verifier, origin) for note in external]
    with contextlib.ExitStack() as stack:
        if conn is None:
            conn = stack.enter_context(read_connection(engine))
        size = logdb.tree_size(conn)
        resumed, refused = None, ""
        if resume:
            resumed, refused = resume_state(
                conn, registry, verifier, origin, [(c.size, c.root_hash) for c in kept]
            )
        start = resumed.point if resumed is not None else None
        done = start.size if start is not None else 0
        _scope(report, resumed, refused, size)
        if progress is not None and done:
            progress(done)
        if workers is None:
            workers = 1 if size - done < PARALLEL_FROM else os.cpu_count() or 1
        sigs = stack.enter_context(_signature_checks(workers))
        roots = CheckpointRoots(
            report,
            verifier,
            origin,
            _checkpoint_rows(conn, done),
            [(c.size, c.root_hash) for c in kept if c.size > done],
            start=done,
        )
        fetch = functools.partial(_payload, conn)
        replay = Replay(report, roots, sigs, registry, fetch, start)
        tree = TreeCheck(report)
        odd: list[tuple[Any, Any]] = []
        first = logdb.first_index(conn)
        if isinstance(first, int) and first < 0:
            report.add(0, "extra entry", f"a row at index {first} precedes entry 0")
        while page := logdb.raw_entries(conn, replay.next_index - 1):
            for idx, stored_leaf, data in page:
                replay.entry(idx, stored_leaf, data)
            completed = replay.take_completed()
            if completed:
                tree.compare(completed, _stored_nodes(conn, completed, odd))
            report.entries += len(page)
            if progress is not None:
                progress(len(page))
        for index in sigs.finish():
            report.add(index, "bad signature", "the envelope signature does not verify")
        report.signatures = sigs.count
        replay.finish()
        size = report.size = replay.next_index
        if replay.tree_intact:
            _extra_nodes(conn, size, report, full=resumed is None)
        for level, idx in odd:
            report.add(size, "extra tree hash", f"stored node ({level!r}, {idx!r}) is no node")
    report.verified_at = now_timestamp()
    if save and report.ok and size and replay.tree_intact:
        report.saved = _save(engine, report, replay, registry, origin, resumed)
    report.seconds = time.perf_counter() - started
    return report


def _payload(conn: Connection, digest: bytes) -> bytes | None:
    found = logdb.raw_payload(conn, digest)
    data = blob(found)
    if found is not None and data is None:
        raise ValueError(f"the stored payload is a value of type {type(found).__name__}")
    return data


@contextlib.contextmanager
def _signature_checks(workers: int) -> Iterator[SignatureChecks]:
    sigs = SignatureChecks(workers)
    try:
        yield sigs
    finally:
        sigs.abandon()  # after finish() there is nothing left to stop


def _save(
    engine: Engine,
    report: VerifyReport,
    replay: Replay,
    registry: Registry,
    origin: str,
    resumed: VerifiedState | None,
) -> bool:
    """Store where this run stopped; a database this process may not write is only logged."""
    point = replay.resume_point()
    if not savable(point):
        return False
    if resumed is None:
        report.full_size, report.full_at = point.size, report.verified_at
    state = VerifiedState(
        point,
        replay.frontier.root(),
        origin,
        registry_fingerprint(registry),
        report.full_size,
        report.full_at,
    )
    try:
        with write_transaction(engine) as conn:
            if not verification.present(conn):
                return False
            verification.save(conn, point.size, state.root, encode(state), report.verified_at)
    except (DBAPIError, Error) as exc:
        log.warning("the verification state was not stored: %s", exc)
        return False
    return True
