"""A real HTTP server on a free loopback port, for tests that talk to the service over TCP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gunicorn(
    tmp_path: Path, env: dict[str, str], cwd: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """The service under gunicorn with the deployment's configuration, on a free port, once
    `/healthz` answers: (the master, its port, the file its stderr goes to)."""
    port = free_port()
    stderr = tmp_path / "gunicorn.log"
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), **env}
    with stderr.open("w") as errors:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:provenance.web.gunicorn_conf",
             "--bind", f"127.0.0.1:{port}", "provenance.app:create_app()"],
            cwd=cwd, env=environment, stdout=subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180  # each worker imports the whole app first
            while not _healthy(port):
                assert time.monotonic() < deadline, stderr.read_text()
                time.sleep(0.3)
            yield server, port, stderr
        finally:
            server.terminate()
            server.wait(timeout=60)


def _healthy(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return conn.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def log_in(browser: object, url: str, app: Flask, party: PartyKey) -> None:
    """Log a WebDriver browser in as `party`, as a person would: ask for a one-time link with
    a signed request (`provenance login`), then open it."""
    answer = app.test_client().post(
        "/api/v1/login-links", headers=signed(party, "POST", "/api/v1/login-links")
    )
    assert answer.status_code == 201, answer.get_json()
    path = urlsplit(answer.get_json()["url"]).path
    browser.get(url + path)  # type: ignore[attr-defined]
