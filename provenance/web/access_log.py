"""One JSON line per answered request (time, method, route template, status, duration, the
party's key id), and the process's log handler where no one configured logging."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request
from werkzeug.wsgi import ClosingIterator

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: The logger of the access lines (INFO): one JSON object a line, the message alone.
ACCESS_LOGGER = "provenance.access"
_ROUTE = "provenance.route"
_KEY_ID = "provenance.key_id"

log = logging.getLogger(ACCESS_LOGGER)
Observer = Callable[[str, str | None, int, float], None]


class AccessLog:
    """WSGI middleware: times each request to its last byte, then logs it and tells `observe`
    (the metrics). It sees no body, no header and no query: none of them is logged."""

    def __init__(self, app: WSGIApplication, observe: Observer) -> None:
        self.app = app
        self.observe = observe

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        statuses: list[int] = []

        def starting(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, starting)
        except BaseException:
            self._done(environ, started, 500)
            raise
        return ClosingIterator(
            body, lambda: self._done(environ, started, statuses[-1] if statuses else 500)
        )

    def _done(self, environ: WSGIEnvironment, started: float, status: int) -> None:
        seconds = time.perf_counter() - started
        method = str(environ.get("REQUEST_METHOD", ""))
        route = environ.get(_ROUTE)
        self.observe(method, route, status, seconds)
        if not log.isEnabledFor(logging.INFO):
            return
        record: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        key_id = environ.get(_KEY_ID)
        if key_id:
            record["key_id"] = key_id
        log.info(json.dumps(record, separators=(",", ":")))


def install(app: Flask, observe: Observer) -> None:
    """Log every request the app answers, as it ends, and hand it to `observe`."""

    @app.after_request
    def _note(response: Response) -> Response:
        # What the middleware may log: the route's template (never the path, which names lots,
        # serials and trials) and the key id of the party that proved who it is.
        rule = request.url_rule
        request.environ[_ROUTE] = rule.rule if rule is not None else None
        who = g.get("principal")
        key_id = getattr(who, "key_id", None)
        if key_id:
            request.environ[_KEY_ID] = key_id
        return response

    app.wsgi_app = AccessLog(app.wsgi_app, observe)  # type: ignore[method-assign]
    configure_logging()


def configure_logging() -> None:
    """Where the process has no logging set up (gunicorn, waitress and `flask` set none for
    the app), send the service's records to stderr: errors with their tracebacks, and the
    access lines. A deployment that configured logging itself keeps its own."""
    service_log = logging.getLogger("provenance")
    if logging.getLogger().handlers or service_log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    service_log.addHandler(handler)
    service_log.setLevel(logging.INFO)


class _Formatter(logging.Formatter):
    """Access lines as they are (JSON); any other record with its time, level and logger."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.name == ACCESS_LOGGER:
            return record.getMessage()
        return super().format(record)
