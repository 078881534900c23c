"""One appender per log for every worker process: workers check signatures, one process appends.

Worker processes parse each envelope and check its signature (so checks run on every core),
then hand the envelope over a Unix socket to the appender process, whose group commit puts
everything that arrived while the previous transaction ran into one transaction and one signed
checkpoint. A worker that cannot reach the appender appends in its own process: the database's
write lock keeps that correct, and an envelope the appender may already have logged is answered
as a duplicate (statements are deduplicated by payload digest).

Frames are a 4-byte big-endian length and a JSON value; nothing is unpickled. Whoever can
connect to the socket is trusted not to forge the "signature checked" claim, so the socket lives
in a directory only the service's user can open (the same user can write the database anyway).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import struct
import threading
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


#: What the server does with one envelope: the entry as a dict, or raises an Error.
AppendFunction = Callable[[Any], dict[str, Any]]


class _Handler(socketserver.BaseRequestHandler):
    server: AppenderServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        while True:
            try:
                request = _receive(sock)
            except (OSError, ValueError):
                return  # the worker closed its connection (or sent garbage)
            try:
                if not isinstance(request, dict) or "envelope" not in request:
                    raise ValueError("a request is an object with an envelope")
                answer = self.server.append(request["envelope"])
            except Error as exc:
                answer = {"error": error_to_wire(exc)}
            except Exception:  # never answered as an Error: the worker logs it itself
                log.exception("the appender failed on a request")
                return
            try:
                _send(sock, answer)
            except OSError:
                return


class AppenderServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The appender's side: a thread per worker connection, all feeding one append function
    (which is the log's group commit, so concurrent requests share a transaction)."""

    daemon_threads = True
    #: Every worker thread keeps a connection: room for all of them connecting at once.
    request_queue_size = 256

    def __init__(self, path: str | Path, append: AppendFunction) -> None:
        self.append = append
        path = Path(path)
        if path.exists():
            path.unlink()  # a socket left by an appender that did not stop cleanly
        old = os.umask(0o177)  # the socket is the service user's alone
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old)
