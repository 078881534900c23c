"""A real HTTP server on a free loopback port, for tests that talk to the service over TCP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import make_app


@contextmanager
def live_server(data_dir: Path, *, demo: bool = False) -> Iterator[tuple[str, Flask]]:
    app = make_app(data_dir, demo=demo)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
