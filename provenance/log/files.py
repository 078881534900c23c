"""Files kept beside the database: secrets created once, public files replaced atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_secret(path: Path, data: bytes) -> None:
    """Create a file readable by its owner only; never overwrite an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def replace_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so that a reader, or a crash, leaves the old file or the new
    one whole: written beside it, synced, renamed over it, and the directory synced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)  # whatever the umask
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    # The rename itself survives a crash only once its directory is synced.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def private_sqlite(data_dir: Path, database: str | None) -> None:
    """The data directory (keys, database) for its owner only (0700), and the SQLite file
    `database`, where it is a file yet to be made, created 0600: SQLite gives its -wal and -shm
    files the database file's mode. A directory this process may not change keeps its mode."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(PermissionError):
        os.chmod(data_dir, 0o700)
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
