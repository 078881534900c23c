"""Checkpoints kept outside the database, in `<data_dir>/checkpoints/`: the log's own latest,
written after every publish, and the latest a witness cosigned."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from provenance.log.errors import VerificationError
from provenance.log.files import replace_file
from provenance.log.note import Checkpoint, Verifier, open_checkpoint, parse_checkpoint, parse_note

#: Under the data directory: checkpoints kept outside the database.
CHECKPOINTS_DIR = "checkpoints"
#: The log's own last published checkpoint, written after every publish.
LATEST = "latest"
#: The last checkpoint a witness cosigned, with its cosignatures (written by the pusher).
COSIGNED = "cosigned"
log = logging.getLogger(__name__)


def checkpoint_of(note: str, origin: str) -> Checkpoint | None:
    """The checkpoint a note carries if it is one of `origin` (signatures not checked)."""
    try:
        checkpoint = parse_checkpoint(parse_note(note).text)
    except VerificationError:
        return None
    return checkpoint if checkpoint.origin == origin else None


@dataclass
class _Seen:
    """One outside file as last read: its identity on disk and its checkpoint."""

    stamp: tuple[int, int, int]  # inode, size, mtime: a change means read it again
    note: str
    checkpoint: Checkpoint | None
    trusted: bool | None = None  # whether this log signed it; None until that matters


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class OutsideRecord:
    """The checkpoints kept outside the database, in `<data_dir>/checkpoints/`.

    The files are read again only when one changed on disk, and their signatures are checked
    only when one would stop the log: a file that does not verify is ignored, with a warning
    (whoever can write the directory could delete a genuine file anyway).
    """

    def __init__(self, directory: Path, verifier: Verifier, origin: str) -> None:
        self.directory = directory
        self.verifier = verifier
        self.origin = origin
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def known(self) -> list[tuple[str, Checkpoint]]:
        """(file name, checkpoint) of each outside checkpoint not known to be forged."""
        found = []
        with self._lock:
            for name in (LATEST, COSIGNED):
                seen = self._refresh(name)
                if seen is not None and seen.checkpoint is not None and seen.trusted is not False:
                    found.append((name, seen.checkpoint))
        return found

    def _refresh(self, name: str) -> _Seen | None:
        path = self.directory / name
        try:
            stat = path.stat()
            stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            seen = self._seen.get(name)
            if seen is None or seen.stamp != stamp:
                note = path.read_bytes().decode("utf-8", errors="replace")
                seen = self._seen[name] = _Seen(stamp, note, checkpoint_of(note, self.origin))
                if seen.checkpoint is None:
                    log.warning("ignoring %s: not a checkpoint of %s", path, self.origin)
        except FileNotFoundError:
            self._seen.pop(name, None)
            return None
        return seen

    def signed_by_log(self, name: str) -> bool:
        """Whether the outside file `name`, as last read, carries this log's signature."""
        with self._lock:
            seen = self._seen.get(name)
            if seen is None:
                return False
            if seen.trusted is None:
                try:
                    open_checkpoint(seen.note, self.verifier, self.origin)
                    seen.trusted = True
                except VerificationError as exc:
                    seen.trusted = False
                    log.warning("ignoring %s: %s", self.directory / name, exc.detail)
            return seen.trusted

    def record(self, note: str) -> None:
        """After a publish: `latest` holds `note`, unless it holds a larger checkpoint already
        (several processes publish, and their callbacks may run in any order)."""
        checkpoint = checkpoint_of(note, self.origin)
        if checkpoint is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / LATEST
        with _file_lock(self.directory / f".{LATEST}.lock"), self._lock:
            held = self._refresh(LATEST)
            kept = held.checkpoint if held is not None and held.trusted is not False else None
            if kept is not None and kept.size >= checkpoint.size:
                return
            replace_file(path, note.encode())
            stat = path.stat()
            stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            self._seen[LATEST] = _Seen(stamp, note, checkpoint, trusted=True)
