"""Sending a large upload: `Expect: 100-continue`, so a refusal (413) is read, not a broken pipe."""

from __future__ import annotations

import json
import mmap
import select
import socket
import ssl
import urllib.parse
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.access.http_signatures import sign_request
from provenance.client import TIMEOUT, ClientError

#: How long to wait for the server's "100 Continue" (or its refusal) before sending the body
#: anyway, as RFC 9110 §10.1.1 lets a client do with a server that ignores the expectation.
CONTINUE_WAIT = 3.0
_CHUNK = 1 << 20
#: Bytes a second the server is assumed to read a dataset through at, at the least.
ANSWER_RATE = 250_000


def post_large(
    url: str, body: bytes | mmap.mmap, headers: dict[str, str], key: ec.EllipticCurvePrivateKey
) -> dict[str, Any]:
    """POST `body` (bytes, or a memory-mapped file) in a request signed with `key`; the JSON
    answer. The body is sent only once the server has not refused the request's headers; a
    server that stops reading mid-body is still heard out. A refusal becomes a ClientError
    carrying the problem."""
    target = urllib.parse.urlsplit(url)
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    signed = sign_request(
        key, method="POST", path=target.path or "/", query=target.query, body=cast(bytes, body)
    )
    connection_type = HTTPSConnection if target.scheme == "https" else HTTPConnection
    connection = connection_type(target.hostname or "", target.port, timeout=TIMEOUT)
    try:
        connection.putrequest("POST", path, skip_accept_encoding=True)
        sent = {
            **headers,
            **signed,
            "Content-Length": str(len(body)),
            "Accept": "application/json",
            "Expect": "100-continue",
        }
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders()
        if not _refused_before_body(connection):
            try:
                # Slices are copies: no view into a memory-mapped file outlives the call.
                for start in range(0, len(body), _CHUNK):
                    connection.send(body[start : start + _CHUNK])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server stopped reading: its answer says why
        if connection.sock is not None:
            connection.sock.settimeout(answer_timeout(len(body)))
        return _answer(connection, url)
    except TimeoutError as exc:
        raise ClientError(f"no answer from {url} in time: {exc}") from exc
    except (HTTPException, OSError) as exc:
        raise ClientError(
            f"cannot upload to {url}: {exc} (the server closed the connection without an "
            "answer; a payload over its upload limit is refused this way by some fronts)"
        ) from exc
    finally:
        connection.close()


def answer_timeout(size: int) -> float:
    """How long to wait for the answer to an upload of `size` bytes: the server reads a dataset
    through before it answers, at a few MB a second on a busy machine."""
    return TIMEOUT + size / ANSWER_RATE


def _refused_before_body(connection: HTTPConnection) -> bool:
    """Whether the server answered the headers with a final answer (a refusal) rather than
    "100 Continue" (which `getresponse` skips) or nothing yet."""
    sock = connection.sock
    if sock is None or isinstance(sock, ssl.SSLSocket):
        return False  # TLS cannot peek at what arrived: send, and read the answer after
    readable, _, _ = select.select([sock], [], [], CONTINUE_WAIT)
    if not readable:
        return False
    head = sock.recv(16, socket.MSG_PEEK)
    return bool(head) and not head.startswith((b"HTTP/1.1 100", b"HTTP/1.0 100"))


def _answer(connection: HTTPConnection, url: str) -> dict[str, Any]:
    response = connection.getresponse()
    body = response.read()
    if response.status >= 400:
        try:
            problem = json.loads(body)
            detail = f"{problem.get('title')}: {problem.get('detail')}"
        except ValueError:
            problem, detail = {}, body.decode(errors="replace")[:200]
        raise ClientError(f"HTTP {response.status} {detail}", problem=problem)
    try:
        answer: dict[str, Any] = json.loads(body)
    except ValueError as exc:
        raise ClientError(f"{url} did not answer JSON") from exc
    return answer
