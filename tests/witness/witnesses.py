"""Witness servers for the log's tests, reached through a transport function or over TCP."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from provenance.log.cosign import parse_witness_vkey
from provenance.log.note import Verifier
from provenance.log.witnessing import WitnessPusher
from provenance.web.context import service
from provenance.witness.http import create_witness_app
from provenance.witness.store import WitnessStore


class Witnesses:
    """Witness apps, each on its own directory; `transport` answers a pusher's POSTs from them.

    A witness named in `down` refuses connections; one in `hung` answers only once `release`
    is set (a witness that accepted the connection and never answers)."""

    def __init__(self, directory: Path, count: int) -> None:
        self.dirs: dict[str, Path] = {}
        self.apps: dict[str, Flask] = {}
        self.vkeys: dict[str, str] = {}
        for i in range(1, count + 1):
            url, where = f"http://w{i}.test", directory / f"witness-{i}"
            store = WitnessStore.create(where, f"witness.test/w{i}")
            self.vkeys[url] = store.signer.vkey()
            store.close()
            self.dirs[url], self.apps[url] = where, create_witness_app(where)
        self.down: set[str] = set()
        self.hung: set[str] = set()
        self.release = threading.Event()

    def transport(self, url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        prefix = url.removesuffix("/add-checkpoint")
        if prefix in self.down:
            raise OSError(f"cannot reach {url}: connection refused")
        if prefix in self.hung:
            self.release.wait(timeout)
            raise OSError(f"{url}: timed out")
        answer = self.apps[prefix].test_client().post("/add-checkpoint", data=body)
        return answer.status_code, answer.get_data()

    def entries(self) -> list[str]:
        return [f"{vkey}={url}" for url, vkey in self.vkeys.items()]

    def verifiers(self) -> list[Verifier]:
        return [parse_witness_vkey(vkey) for vkey in self.vkeys.values()]

    def follow(self, log_vkey: str) -> None:
        for where in self.dirs.values():
            store = WitnessStore(where)
            store.add_log(log_vkey)
            store.close()

    def sizes(self) -> list[int]:
        """The latest size each witness cosigned of the (one) log it follows."""
        found = []
        for where in self.dirs.values():
            store = WitnessStore(where)
            found.append(store.logs()[0].size)
            store.close()
        return found

    def evidence(self) -> list[int]:
        """How many inconsistent checkpoints each witness kept."""
        found = []
        for where in self.dirs.values():
            store = WitnessStore(where)
            found.append(len(store.evidence()))
            store.close()
        return found


def pusher(app: Flask) -> WitnessPusher:
    with app.app_context():
        found = service().witnessing
    assert found is not None
    return found


@contextlib.contextmanager
def witnessed_app(
    data_dir: Path,
    entries: list[str],
    witnesses: Witnesses | None,
    database_url: str | None = None,
) -> Iterator[Flask]:
    """An app over the log in `data_dir` (made if new) that pushes to `entries`, through
    `witnesses`' transport if given (else over HTTP); its witness threads stop afterwards."""
    config: dict[str, object] = {"TESTING": True, "DATA_DIR": str(data_dir), "WITNESSES": entries}
    if database_url is not None:
        config["DATABASE_URL"] = database_url
    app = create_app(config)
    push = pusher(app)
    if witnesses is not None:
        push.transport = witnesses.transport
    push.backoff = (0.05, 0.2)
    push.timeout = 5.0
    try:
        with app.app_context():
            service().initialise()
        yield app
    finally:
        with app.app_context():
            service().close()


def copy_log(source: Path, target: Path) -> None:
    """A copy of a deployment's database and keys as they are now (a backup)."""
    target.mkdir(parents=True)
    (target / "keys").mkdir(mode=0o700)
    for key in (source / "keys").iterdir():
        (target / "keys" / key.name).write_bytes(key.read_bytes())
        (target / "keys" / key.name).chmod(0o600)
    with (
        contextlib.closing(sqlite3.connect(source / "provenance.db")) as src,
        contextlib.closing(sqlite3.connect(target / "provenance.db")) as dst,
    ):
        src.backup(dst)


@contextlib.contextmanager
def served_witness(directory: Path) -> Iterator[str]:
    """A witness over TCP on a free loopback port; its submission URL."""
    server = make_server("127.0.0.1", 0, create_witness_app(directory), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
