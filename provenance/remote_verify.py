"""Verify a log a server publishes, over HTTP: its checkpoint with the log's public key, the tree
recomputed from its entry bundles against the checkpoint's root and every hash tile, and every
entry replayed (links, rules, signatures) as the database verify replays it."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.client import ClientError, http_request
from provenance.log import tiles
from provenance.log.damage import VerifyReport
from provenance.log.errors import VerificationError
from provenance.log.note import Checkpoint, Verifier, open_checkpoint
from provenance.log.personality import Registry
from provenance.log.replay import Replay
from provenance.log.sigcheck import SignatureChecks
from provenance.log.statements import now_timestamp
from provenance.log.tree_check import CheckpointRoots, Completed, TreeCheck
from provenance.log.verify import PARALLEL_FROM


class HttpLog:
    """The C2SP endpoints of one server; requests are signed with `key` when one is given (entry
    bundles and detached payloads are for regulators)."""

    def __init__(self, url: str, key: ec.EllipticCurvePrivateKey | None = None) -> None:
        self.url = url.rstrip("/")
        self.key = key

    def get(self, path: str) -> bytes | None:
        """The body at `path`, or None if the server has nothing there (404)."""
        try:
            _, body = http_request(f"{self.url}{path}", key=self.key)
        except ClientError as exc:
            problem = exc.extensions.get("problem") or {}
            if problem.get("status") == 404 or exc.detail.startswith("HTTP 404 "):
                return None
            raise
        return body

    def checkpoint(self, verifier: Verifier) -> tuple[str, Checkpoint]:
        """The latest checkpoint, opened with the log's key (its name is the log's origin)."""
        found = self.get("/log/checkpoint")
        if found is None:
            raise ClientError(f"{self.url} publishes no checkpoint: the log is empty")
        note = found.decode(errors="replace")
        return note, open_checkpoint(note, verifier, verifier.name)

    def tile(self, level: int | None, index: int, width: int) -> bytes | None:
        ref = tiles.TileRef(level, index, None if width == tiles.TILE_WIDTH else width)
        return self.get(f"/log/tile/{tiles.tile_path(ref)}")

    def payload(self, digest: bytes) -> bytes | None:
        return self.get(f"/log/payload/{digest.hex()}")


def fetch_vkey(url: str) -> str:
    """The verifier key a server publishes at /log/key (trusting it is the caller's choice)."""
    _, body = http_request(f"{url.rstrip('/')}/log/key")
    return body.decode(errors="replace")


class HashTiles:
    """The stored nodes of a published tree at the levels tiles carry (every 8th), a tile per
    level at a time: replayed nodes complete in order, so each tile is fetched once."""

    def __init__(self, log: HttpLog, size: int, report: VerifyReport) -> None:
        self.log = log
        self.size = size
        self.report = report
        self.held: dict[int, tuple[int, list[bytes]]] = {}  # tile level -> (index, hashes)

    def _hashes(self, level: int, index: int) -> list[bytes]:
        held = self.held.get(level)
        if held is not None and held[0] == index:
            return held[1]
        width = tiles.available_width(level, index, self.size)
        data = self.log.tile(level, index, width)
        hashes: list[bytes] = []
        if data is not None:
            try:
                hashes = tiles.hashes_from_tile(data)
            except VerificationError as exc:
                first = (index * tiles.TILE_WIDTH) << (tiles.TILE_HEIGHT * level)
                self.report.add(first, "edited tree hash", f"tile {level}/{index}: {exc.detail}")
        self.held[level] = (index, hashes)
        return hashes

    def stored(self, completed: Sequence[Completed]) -> dict[tuple[int, int], object]:
        found: dict[tuple[int, int], object] = {}
        for level, idx, _ in completed:
            tile_level, offset = divmod(level, tiles.TILE_HEIGHT)
            if offset:
                continue
            hashes = self._hashes(tile_level, idx // tiles.TILE_WIDTH)
            if idx % tiles.TILE_WIDTH < len(hashes):
                found[(level, idx)] = hashes[idx % tiles.TILE_WIDTH]
        return found


def _bundles(log: HttpLog, size: int, report: VerifyReport) -> Iterator[tuple[int, list[bytes]]]:
    """(first index, entries) of each entry bundle of a tree of `size`, until one is missing."""
    for index in range(-(-size // tiles.TILE_WIDTH)):
        start = index * tiles.TILE_WIDTH
        width = tiles.available_width(None, index, size)
        data = log.tile(None, index, width)
        if data is None:
            report.add(start, "missing entry", f"entry bundle {index} is not served")
            return
        try:
            entries = tiles.parse_entry_bundle(data)
        except VerificationError as exc:
            report.add(start, "edited entry", f"entry bundle {index}: {exc.detail}")
            return
        yield start, entries[:width]
        if len(entries) != width:
            found = start + min(len(entries), width)
            what = "missing entry" if len(entries) < width else "extra entry"
            report.add(
                found, what, f"entry bundle {index} holds {len(entries)} entries, not {width}"
            )
            return


def verify_remote(
    url: str,
    registry: Registry,
    verifier: Verifier,
    *,
    key: ec.EllipticCurvePrivateKey | None = None,
    external: Sequence[str] = (),
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify the log published at `url` up to its latest checkpoint; problems name the entry
    index where they start, as `verify_log`'s do. `key` signs the requests (a regulator's)."""
    started = time.perf_counter()
    report = VerifyReport()
    log = HttpLog(url, key)
    note, checkpoint = log.checkpoint(verifier)
    origin = verifier.name
    kept = [open_checkpoint(text, verifier, origin) for text in external]
    size = report.size = checkpoint.size
    roots = CheckpointRoots(
        report,
        verifier,
        origin,
        [(checkpoint.size, checkpoint.root_hash, note)],
        [(c.size, c.root_hash) for c in kept],
    )
    if workers is None:
        workers = 1 if size < PARALLEL_FROM else os.cpu_count() or 1
    sigs = SignatureChecks(workers)
    with contextlib.ExitStack() as stack:
        stack.callback(sigs.abandon)
        replay = Replay(report, roots, sigs, registry, log.payload, stored_leaves=False)
        tree = TreeCheck(report)
        hash_tiles = HashTiles(log, size, report)
        for start, entries in _bundles(log, size, report):
            for offset, data in enumerate(entries):
                replay.entry(start + offset, None, data)
            # Tiles carry every 8th level of the tree: the others are not published.
            completed = [c for c in replay.take_completed() if c[0] % tiles.TILE_HEIGHT == 0]
            tree.compare(completed, hash_tiles.stored(completed))
            report.entries += len(entries)
            if progress is not None:
                progress(len(entries))
        for index in sigs.finish():
            report.add(index, "bad signature", "the envelope signature does not verify")
        report.signatures = sigs.count
        replay.finish()
    report.verified_at = now_timestamp()
    report.seconds = time.perf_counter() - started
    return report
