"""gunicorn's threaded worker, with the errors gunicorn answers itself (a request line or a
header too long, a malformed request) as RFC 9457 problem+json like every other error."""

from __future__ import annotations

import json
import socket
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from provenance.errors import PROBLEM_BASE

#: gunicorn's statuses for requests it refuses before the app sees them, as the app names them.
_SLUGS = {400: "bad-request", 403: "forbidden", 500: "internal"}


def problem_bytes(status: int, reason: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer carrying the problem; the connection is closed after it."""
    body = json.dumps(
        {
            "type": PROBLEM_BASE + _SLUGS.get(status, f"http-{status}"),
            "title": reason,
            "status": status,
            "detail": detail or reason,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


def write_problem(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """What gunicorn writes for a request it refused (in place of its HTML page)."""
    util.write_nonblock(sock, problem_bytes(status_int, reason, mesg))


class ProblemThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker whose own error answers are problem+json.

    gunicorn writes them with `gunicorn.util.write_error` and has no setting for their form;
    the worker process replaces that one function before it serves anything. The test of
    this worker runs a real gunicorn, so a release that writes its errors another way fails
    it rather than going back to HTML unnoticed."""

    def init_process(self) -> Any:
        util.write_error = write_problem
        return super().init_process()
