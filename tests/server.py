"""A real HTTP server on a free loopback port, for tests that talk to the service over TCP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import make_app
from tests.parties import PartyKey, signed


@contextmanager
def live_server(data_dir: Path, *, demo: bool = False) -> Iterator[tuple[str, Flask]]:
    server = make_server("127.0.0.1", 0, Flask(__name__), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    # Links and the log-out form's origin check use the public URL: make it this server's.
    app = make_app(data_dir, demo=demo, public_url=url)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def log_in(browser: object, url: str, app: Flask, party: PartyKey) -> None:
    """Log a WebDriver browser in as `party`, as a person would: ask for a one-time link with
    a signed request (`provenance login`), then open it."""
    answer = app.test_client().post(
        "/api/v1/login-links", headers=signed(party, "POST", "/api/v1/login-links")
    )
    assert answer.status_code == 201, answer.get_json()
    path = urlsplit(answer.get_json()["url"]).path
    browser.get(url + path)  # type: ignore[attr-defined]
