"""A live log behind one URL whose app can be swapped (an operator replacing the database), and
the parties and files a monitor or a bundle check works with."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from flask import Flask
from werkzeug.serving import make_server

from provenance.cli import main
from provenance.client import save_private_key
from provenance.web.context import service
from tests.conftest import make_app
from tests.parties import Authority, PartyKey, attestation, post, register_party

REGULATOR_GLN = "5412345000044"


class Switch:
    """A WSGI app that hands every request to the app it currently points at."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


@dataclass
class Live:
    url: str
    switch: Switch
    directory: Path

    @property
    def app(self) -> Flask:
        return self.switch.app


@contextmanager
def live_log(directory: Path) -> Iterator[Live]:
    app = make_app(directory / "data")
    switch = Switch(app)
    server = make_server("127.0.0.1", 0, switch, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", switch, directory)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        for made in {app, switch.app}:
            with made.app_context():
                service().close()


def fork(app: Flask, directory: Path) -> Flask:
    """A copy of the app's log as it is now (the same keys), as a new app: what an operator
    who keeps a copy of the database can serve later."""
    source = Path(app.config["DATA_DIR"])
    target = directory / "data"
    target.mkdir(parents=True)
    shutil.copytree(source / "keys", target / "keys")
    old, new = sqlite3.connect(source / "provenance.db"), sqlite3.connect(target / "provenance.db")
    try:
        old.backup(new)  # a consistent copy, whatever the write-ahead log holds
    finally:
        old.close()
        new.close()
    return make_app(target)


def size(app: Flask) -> int:
    return int(app.test_client().get("/api/v1/log").get_json()["size"])


def attest(app: Flask, party: PartyKey, count: int, subject: str = "batch/1") -> None:
    """`count` attestations by `party` in one batch request (one checkpoint)."""
    envelopes = [attestation(party, subject, n=n) for n in range(count)]
    response = app.test_client().post("/api/v1/statements/batch", json=envelopes)
    assert response.status_code == 201, response.get_json()


def regulator(app: Flask) -> PartyKey:
    client = app.test_client()
    return register_party(
        client, Authority.from_app(app), "Regulator", REGULATOR_GLN, ["regulator"]
    )


def key_file(party: PartyKey, path: Path) -> Path:
    save_private_key(path, party.key)
    return path


def vkey_file(live: Live) -> Path:
    path = live.directory / "log.vkey"
    path.write_text(live.app.test_client().get("/log/key").text)
    return path


def submit(app: Flask, envelopes: Iterable[dict[str, Any]]) -> None:
    client = app.test_client()
    for envelope in envelopes:
        response = post(client, envelope)
        assert response.status_code == 201, response.get_json()


def run(*args: str | Path) -> Result:
    """`provenance ARGS`, as typed."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
