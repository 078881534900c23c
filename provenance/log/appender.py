"""One appender per log for every worker process: workers check signatures, one process appends.

Worker processes parse each envelope and check its signature (so checks run on every core),
then hand the envelope over a Unix socket to the appender process. One thread there serves
every worker connection: everything that arrived while it committed the previous batch goes into
the next transaction and its one signed checkpoint, with no thread hand-off per statement. A
worker that cannot reach the appender appends in its own process: the database's write lock
keeps that correct, and an envelope the appender may already have logged is answered as a
duplicate (statements are deduplicated by payload digest).

Frames are a 4-byte big-endian length and a JSON value; nothing is unpickled. Whoever can
connect to the socket is trusted not to forge the "signature checked" claim (nor the payload's
canonical form, checked with it), so the socket lives in a directory only the service's user can
open (the same user can write the database anyway)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from provenance.errors import Error

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
#: Largest frame either side accepts: an EPCIS document is at most a request body (64 MiB).
MAX_FRAME = 80 * 1024 * 1024


class AppenderUnavailable(Exception):
    """The appender could not be asked, or did not answer (the caller appends itself)."""


def _send(sock: socket.socket, value: Any) -> None:
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    sock.sendall(_LENGTH.pack(len(data)) + data)


def _receive_exactly(sock: socket.socket, count: int) -> bytes:
    chunks, left = [], count
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(sock: socket.socket) -> Any:
    (length,) = _LENGTH.unpack(_receive_exactly(sock, _LENGTH.size))
    if length > MAX_FRAME:
        raise ConnectionError(f"a frame of {length} bytes is over the limit")
    return json.loads(_receive_exactly(sock, length))


def _error_classes() -> dict[str, type[Error]]:
    found: dict[str, type[Error]] = {}
    todo: list[type[Error]] = [Error]
    while todo:
        cls = todo.pop()
        found[f"{cls.__module__}:{cls.__qualname__}"] = cls
        todo.extend(cls.__subclasses__())
    return found


def error_to_wire(error: Error) -> dict[str, Any]:
    cls = type(error)
    return {
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "detail": error.detail,
        "extensions": error.extensions,
    }


def error_from_wire(wire: dict[str, Any]) -> Error:
    """The error the appender raised, as the same class (one of this process's Error classes)."""
    cls = _error_classes().get(str(wire.get("class")), Error)
    return cls(str(wire.get("detail")), **dict(wire.get("extensions") or {}))


class AppenderClient:
    """A worker's side: one connection per thread, opened on first use and kept until `close`."""

    def __init__(self, path: str | Path, timeout: float = 60.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._local = threading.local()
        self._open: set[socket.socket] = set()
        self._opening = threading.Lock()

    def _connection(self) -> socket.socket:
        sock: socket.socket | None = getattr(self._local, "sock", None)
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                # A blocking connect waits for room in the listen queue; with a timeout set
                # first, a full queue would fail at once with EAGAIN.
                sock.connect(self.path)
                sock.settimeout(self.timeout)
            except OSError:
                sock.close()
                raise
            self._local.sock = sock
            with self._opening:
                self._open.add(sock)
        return sock

    def _drop(self) -> None:
        sock = getattr(self._local, "sock", None)
        self._local.sock = None
        if sock is not None:
            with self._opening:
                self._open.discard(sock)
            sock.close()

    def append(self, envelope_json: Any) -> dict[str, Any]:
        """The appender's answer for an envelope whose signature this process checked: the
        appended entry as a dict, or the Error the appender refused it with (raised)."""
        try:
            sock = self._connection()
            _send(sock, {"envelope": envelope_json})
            answer = _receive(sock)
        except (OSError, ValueError) as exc:  # connection, timeout, or a torn frame
            self._drop()
            raise AppenderUnavailable(str(exc)) from exc
        if not isinstance(answer, dict):
            self._drop()
            raise AppenderUnavailable("the appender answered something else than an object")
        if "error" in answer:
            raise error_from_wire(answer["error"])
        return answer

    def close(self) -> None:
        """Close every thread's connection (threads that append later open a new one)."""
        with self._opening:
            opened, self._open = self._open, set()
        for sock in opened:
            sock.close()
        self._local = threading.local()


#: One answer per envelope (the entry as a dict; an Error to send back; any other exception
#: drops that connection, and its worker appends for itself), and what to run once every answer
#: is sent (the checkpoint's callbacks: its file, the witnesses).
Answer = dict[str, Any] | BaseException
BatchFunction = Callable[[list[Any]], tuple[list[Answer], Callable[[], None]]]


def no_follow_up() -> None:
    """What a batch runs after its answers when it published no checkpoint."""


class _Connection:
    __slots__ = ("sock", "buffer")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()


class AppenderServer:
    """The appender's side: one thread serves every worker connection. Whatever arrived while
    the previous batch was being committed is committed as the next batch (one transaction and
    one checkpoint), so no thread hand-off or lock is needed to share transactions.

    `window` (seconds): after the first request, wait that long for more, or until every
    connection has one waiting."""

    #: Every worker thread keeps a connection: room for all of them connecting at once.
    request_queue_size = 256
    #: A worker that does not take its answer in this long loses its connection.
    send_timeout = 30.0

    def __init__(
        self,
        path: str | Path,
        *,
        batch: BatchFunction,
        window: float = 0.0,
    ) -> None:
        self.batch = batch
        self.window = window
        path = Path(path)
        if path.exists():
            path.unlink()  # a socket left by an appender that did not stop cleanly
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is the service user's alone
        try:
            self.listener.bind(str(path))
        finally:
            os.umask(old)
        self.listener.listen(self.request_queue_size)
        self.listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ, None)
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._connections: dict[socket.socket, _Connection] = {}
        self._stop = False
        self._idle = threading.Event()
        self._idle.set()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Answer requests until `shutdown`."""
        self._idle.clear()
        try:
            while not self._stop:
                ready = self._read(poll_interval)
                if ready and self.window > 0:
                    deadline = time.monotonic() + self.window
                    while not self._stop and len(ready) < len(self._connections):
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        ready += self._read(left)
                if ready:
                    self._answer(ready)
        finally:
            self._idle.set()

    def shutdown(self) -> None:
        """Stop `serve_forever` after the batch it is committing; wait until it has."""
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_write.send(b"\0")
        self._idle.wait()

    def server_close(self) -> None:
        for connection in list(self._connections.values()):
            self._close(connection)
        self._selector.close()
        self.listener.close()
        self._wake_read.close()
        self._wake_write.close()

    def _read(self, timeout: float) -> list[tuple[_Connection, bytes]]:
        """The whole frames that arrived within `timeout`, by connection, in order."""
        ready: list[tuple[_Connection, bytes]] = []
        for key, _ in self._selector.select(timeout):
            if key.fileobj is self.listener:
                self._accept()
            elif key.fileobj is self._wake_read:
                with contextlib.suppress(OSError):
                    self._wake_read.recv(64)
            else:
                self._receive(key.data, ready)
        return ready

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                log.exception("the appender could not accept a connection")
                return
            sock.settimeout(self.send_timeout)
            connection = _Connection(sock)
            self._connections[sock] = connection
            self._selector.register(sock, selectors.EVENT_READ, connection)

    def _receive(self, connection: _Connection, ready: list[tuple[_Connection, bytes]]) -> None:
        try:
            chunk = connection.sock.recv(1 << 20)  # readable: returns at once
        except OSError:
            chunk = b""
        if not chunk:
            self._close(connection)  # the worker closed its connection
            return
        buffer = connection.buffer
        buffer += chunk
        while len(buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer)
            if length > MAX_FRAME:
                self._close(connection)
                return
            end = _LENGTH.size + length
            if len(buffer) < end:
                return
            ready.append((connection, bytes(buffer[_LENGTH.size : end])))
            del buffer[:end]

    def _close(self, connection: _Connection) -> None:
        if self._connections.pop(connection.sock, None) is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(connection.sock)
        connection.sock.close()

    def _answer(self, ready: list[tuple[_Connection, bytes]]) -> None:
        asking: list[_Connection] = []
        envelopes: list[Any] = []
        for connection, frame in ready:
            try:
                request = json.loads(frame)
                if not isinstance(request, dict) or "envelope" not in request:
                    raise ValueError("a request is an object with an envelope")
            except ValueError:
                self._close(connection)  # garbage: nothing to answer
                continue
            asking.append(connection)
            envelopes.append(request["envelope"])
        if not envelopes:
            return
        try:
            answers, then = self.batch(envelopes)
        except Error as exc:  # the whole transaction was refused: every member with it
            answers, then = [exc] * len(envelopes), no_follow_up
        except Exception as exc:  # never answered as an Error: the workers log it themselves
            answers, then = [exc] * len(envelopes), no_follow_up
        failed = False
        for connection, answer in zip(asking, answers, strict=True):
            if isinstance(answer, Error):
                answer = {"error": error_to_wire(answer)}
            elif isinstance(answer, BaseException):
                failed = True
                self._close(connection)
                continue
            try:
                _send(connection.sock, answer)
            except OSError:
                self._close(connection)
        if failed:
            log.error("the appender failed on a request", exc_info=_first_failure(answers))
        try:
            then()
        except Exception:
            log.exception("the appender's after-commit work failed")


def _first_failure(answers: list[Answer]) -> BaseException | None:
    for answer in answers:
        if isinstance(answer, BaseException) and not isinstance(answer, Error):
            return answer
    return None
