"""Dataset bytes as streams read from the start as often as needed, gzip or zlib (DSJC) undone."""

from __future__ import annotations

import contextlib
import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from trials.errors import BadDataset

#: At most this many bytes come out of one compressed file: a small upload cannot expand without
#: bound (the cell limit bounds the rows, this bounds a few enormous values).
MAX_EXPANDED = 16 * 1024**3
GZIP_MAGIC = b"\x1f\x8b"
# RFC 1950 headers with a 32 KiB window and each compression level: what zlib writes.
_ZLIB_HEADERS = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")
_CHUNK = 1 << 20


def compression_of(head: bytes) -> str | None:
    """The compression of a stream: gzip (RFC 1952), zlib (RFC 1950: the compressed form of
    Dataset-JSON 1.1, DSJC) or None."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head[:2] in _ZLIB_HEADERS:
        return "zlib"
    return None


class Source:
    """Bytes in memory or in a file, opened afresh for each pass, decompressed if need be."""

    def __init__(self, opener: Callable[[], IO[bytes]], path: Path | None = None) -> None:
        self._opener = opener
        #: The file the bytes are read from, if they are a file's.
        self.path = path
        with self._raw() as raw:
            self.compression = compression_of(raw.read(2))

    @classmethod
    def of_bytes(cls, data: bytes) -> Source:
        return cls(lambda: io.BytesIO(data))

    @classmethod
    def of_path(cls, path: Path) -> Source:
        return cls(lambda: path.open("rb"), path)

    @contextlib.contextmanager
    def _raw(self) -> Iterator[IO[bytes]]:
        stream = self._opener()
        try:
            yield stream
        finally:
            stream.close()

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """The content from its first byte, decompressed."""
        with self._raw() as raw:
            if self.compression is None:
                yield raw
            else:
                yield io.BufferedReader(_Expanded(raw, self.compression), _CHUNK)

    def head(self, size: int = 4096) -> bytes:
        with self.open() as stream:
            return stream.read(size)


class _Expanded(io.RawIOBase):
    """A gzip or zlib stream decompressed as it is read; damage becomes BadDataset."""

    def __init__(self, raw: IO[bytes], compression: str) -> None:
        self._raw = raw
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb") if compression == "gzip" else None
        self._zlib = zlib.decompressobj() if compression == "zlib" else None
        self._pending = b""
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._read(len(buffer))
        except (OSError, EOFError, zlib.error) as exc:
            raise BadDataset(f"the compressed dataset is damaged or cut short: {exc}") from exc
        self._total += len(data)
        if self._total > MAX_EXPANDED:
            raise BadDataset(
                f"the compressed dataset expands past {MAX_EXPANDED} bytes", limit=MAX_EXPANDED
            )
        buffer[: len(data)] = data
        return len(data)

    def _read(self, size: int) -> bytes:
        if self._gzip is not None:
            return self._gzip.read(size)
        assert self._zlib is not None
        while not self._pending:
            if self._zlib.eof:
                return b""
            # Output is bounded per call, so input may wait in the tail before more is read.
            chunk = self._zlib.unconsumed_tail or self._raw.read(_CHUNK)
            if not chunk:
                raise EOFError("the zlib stream ends before its end marker")
            self._pending = self._zlib.decompress(chunk, _CHUNK)
        data, self._pending = self._pending[:size], self._pending[size:]
        return data
