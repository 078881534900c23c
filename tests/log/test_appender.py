"""One appender for several worker processes: workers check signatures, the appender appends
their statements in shared transactions, refusals keep their type, and a worker that cannot
reach it appends for itself."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from provenance.app import APP_METADATA
from provenance.errors import Error
from provenance.log import keystore
from provenance.log.append import parse_submission
from provenance.log.appender import (
    AppenderClient,
    AppenderServer,
    AppenderUnavailable,
    error_from_wire,
    error_to_wire,
)
from provenance.log.errors import BadEnvelope, BadSignature, RevokedKey, UnknownKey
from provenance.log.service import Service
from provenance.log.settings import Settings
from provenance.log.signing import generate_private_key
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.plugins import load_plugins
from provenance.web import appender_process
from tests.log.members import MEMBER, core_registry
from tests.parties import Authority, PartyKey
from tests.paths import PROJECT
from tests.server import gunicorn


@dataclasses.dataclass
class Appender:
    service: Service
    server: AppenderServer
    path: Path
    calls: list[Any]
    workers: list[Service] = dataclasses.field(default_factory=list)


@pytest.fixture
def appender(tmp_path: Path) -> Iterator[Appender]:
    settings = Settings.from_config({"DATA_DIR": str(tmp_path / "data")})
    service = Service(settings, core_registry())
    service.initialise()
    calls: list[Any] = []

    def batch(envelopes: list[Any]) -> tuple[list[Any], Callable[[], None]]:
        calls.extend(envelopes)
        return service.log.append_checked_batch(envelopes)

    # Socket paths are short (108 bytes); pytest's tmp_path may not be.
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"provenance-test-{os.getpid()}.sock"
    server = AppenderServer(path, batch=batch)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    made = Appender(service, server, path, calls)
    try:
        yield made
    finally:
        for worker in made.workers:
            worker.close()
        server.shutdown()
        server.server_close()
        thread.join()
        path.unlink(missing_ok=True)
        service.close()


def worker_of(appender: Appender, socket_path: Path | None = None) -> Service:
    """A second process's view of the same log (same settings), pointed at the appender; closed
    with the appender."""
    settings = dataclasses.replace(
        appender.service.settings, appender_socket=str(socket_path or appender.path)
    )
    worker = Service(settings, core_registry())
    appender.workers.append(worker)
    return worker


def checkpoint_count(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SELECT count(*) FROM log_checkpoint").scalar_one())


def register(service: Service, n: int, role: str = MEMBER) -> PartyKey:
    authority = Authority(keystore.load_authority_key(service.settings.keys))
    party = PartyKey(generate_private_key(), f"54123450000{n}")
    body = {"gln": party.gln, "name": f"P{n}", "roles": [role], "public_key": party.public_b64}
    service.log.submit(authority.envelope("party.register", body))
    return party


def statement(party: PartyKey, i: int) -> dict[str, Any]:
    return party.envelope("attestation", {"subject": f"s/{i}", "claim": {"i": i}})


def test_statements_of_many_threads_share_the_appenders_transactions(appender: Appender) -> None:
    parties = [register(appender.service, n) for n in (13, 20)]
    worker = worker_of(appender)
    envelopes = [statement(parties[i % 2], i) for i in range(60)]
    with read_connection(appender.service.engine) as conn:
        before = logdb.tree_size(conn)
        checkpoints_before = checkpoint_count(conn)
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(worker.log.submit, envelopes))
    indexes = sorted(r.index for r in results)
    assert indexes == list(range(before, before + 60))  # each once, none skipped
    assert not any(r.duplicate for r in results)
    assert len(appender.calls) == 60  # every one went through the appender
    with read_connection(appender.service.engine) as conn:
        assert logdb.tree_size(conn) == before + 60
        checkpoints = checkpoint_count(conn) - checkpoints_before
    assert 1 <= checkpoints <= 60
    # A second submission is answered as the duplicate it is, with the first index.
    again = worker.log.submit(envelopes[7])
    assert again.duplicate and again.index == results[7].index
    assert appender.service.verify().ok


def test_a_bad_signature_is_refused_by_the_worker_and_never_sent(appender: Appender) -> None:
    party = register(appender.service, 13)
    worker = worker_of(appender)
    worker.log.submit(statement(party, 0))  # the worker now knows the key
    forged = statement(party, 1)
    other = statement(party, 2)
    forged["signatures"][0]["sig"] = other["signatures"][0]["sig"]
    calls = len(appender.calls)
    with pytest.raises(BadSignature):
        worker.log.submit(forged)
    assert len(appender.calls) == calls


def test_a_refusal_under_the_write_lock_keeps_its_type_and_details(appender: Appender) -> None:
    party = register(appender.service, 13)
    worker = worker_of(appender)
    worker.log.submit(statement(party, 0))  # known key: checked without the database
    authority = Authority(keystore.load_authority_key(appender.service.settings.keys))
    revoke = {"key_id": party.key_id, "effective_at": "2020-01-01T00:00:00.000Z", "reason": "lost"}
    appender.service.log.submit(authority.envelope("key.revoke", revoke))
    with pytest.raises(RevokedKey) as raised:
        worker.log.submit(statement(party, 1))
    assert raised.value.status == 403
    assert raised.value.extensions["key_id"] == party.key_id
    assert "revoked" in raised.value.detail


def test_errors_cross_the_socket_as_their_own_class() -> None:
    error = RevokedKey("key is revoked from then", key_id="ab" * 32)
    back = error_from_wire(json.loads(json.dumps(error_to_wire(error))))
    assert type(back) is RevokedKey
    assert (back.detail, back.extensions) == (error.detail, error.extensions)
    # A class this process does not know is the base Error, never an import of the name.
    unknown = error_from_wire({"class": "os:system", "detail": "x", "extensions": {}})
    assert type(unknown) is Error


def test_a_worker_appends_itself_when_the_appender_is_unreachable(
    appender: Appender, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    party = register(appender.service, 13)
    worker = worker_of(appender, tmp_path / "nobody-listens.sock")
    result = worker.log.submit(statement(party, 0))
    assert not result.duplicate
    assert appender.calls == []
    assert "the appender is unavailable" in caplog.text
    with read_connection(appender.service.engine) as conn:
        assert logdb.tree_size(conn) == result.index + 1


def test_a_torn_answer_is_unavailable_and_the_worker_finds_its_entry(
    appender: Appender, tmp_path: Path
) -> None:
    """The appender logged the entry but the answer was lost: appending again in the worker
    answers it as the duplicate it is, with its index."""
    party = register(appender.service, 13)
    envelope = statement(party, 0)
    logged = appender.service.log.submit(envelope)
    path = tmp_path / "hangs-up.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()

    def hang_up() -> None:
        conn, _ = listener.accept()
        conn.recv(1 << 16)
        conn.close()

    thread = threading.Thread(target=hang_up)
    thread.start()
    client = AppenderClient(path, timeout=5)
    with pytest.raises(AppenderUnavailable):
        client.append(envelope)
    thread.join()
    listener.close()
    worker = worker_of(appender, path)
    again = worker.log.submit(envelope)  # nobody listens now: appended in process
    assert again.duplicate and again.index == logged.index


def test_a_commit_window_gathers_more_submissions_per_commit(tmp_path: Path) -> None:
    """With a window, the appender waits after a first request for more, and closes the window
    early once every connection has one waiting."""
    batches: list[list[Any]] = []

    def batch(envelopes: list[Any]) -> tuple[list[Any], Callable[[], None]]:
        batches.append(list(envelopes))
        return [{"echo": e} for e in envelopes], lambda: None

    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"provenance-window-{os.getpid()}.sock"
    server = AppenderServer(path, batch=batch, window=5.0)
    clients = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(3)]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    try:
        for client in clients:
            client.connect(str(path))
        thread.start()
        time.sleep(0.2)  # every connection accepted
        started = time.monotonic()
        for n, client in enumerate(clients):
            client.sendall(frame({"envelope": n}))
            time.sleep(0.05)
        answers = [read_frame(client) for client in clients]
        waited = time.monotonic() - started
        server.shutdown()
        thread.join()
    finally:
        server.server_close()
        path.unlink(missing_ok=True)
        for client in clients:
            client.close()
    assert answers == [{"echo": 0}, {"echo": 1}, {"echo": 2}]
    assert batches == [[0, 1, 2]]  # one commit for all three
    assert waited < 2.5  # the window closed early, once all three were waiting


def frame(value: Any) -> bytes:
    data = json.dumps(value).encode()
    return len(data).to_bytes(4, "big") + data


def read_frame(sock: socket.socket) -> Any:
    head = sock.recv(4, socket.MSG_WAITALL)
    if len(head) < 4:
        return None  # closed
    return json.loads(sock.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL))


def test_envelopes_that_arrive_together_are_one_batch_in_order(tmp_path: Path) -> None:
    """What every connection sent while the server was busy is committed as one batch; each
    connection gets its own answer, and garbage only costs its sender the connection."""
    batches: list[list[Any]] = []

    def batch(envelopes: list[Any]) -> tuple[list[Any], Callable[[], None]]:
        batches.append(list(envelopes))
        answers: list[Any] = [{"echo": e} for e in envelopes]
        answers[envelopes.index("refused")] = BadEnvelope("refused", item="x")
        return answers, lambda: batches.append(["after"])

    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"provenance-batch-{os.getpid()}.sock"
    server = AppenderServer(path, batch=batch)
    clients = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(5)]
    try:
        for client in clients:
            client.connect(str(path))
        for n, client in enumerate(clients[:3]):
            client.sendall(frame({"envelope": n}))
        clients[3].sendall(frame({"envelope": "refused"}))
        clients[4].sendall(frame(["not", "a", "request"]))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        answers = [read_frame(client) for client in clients]
        server.shutdown()
        thread.join()
    finally:
        server.server_close()
        path.unlink(missing_ok=True)
        for client in clients:
            client.close()
    assert answers[:3] == [{"echo": 0}, {"echo": 1}, {"echo": 2}]
    assert answers[3]["error"]["class"].endswith(":BadEnvelope")
    assert answers[4] is None  # garbage: the connection is closed, nothing answered
    assert batches == [[0, 1, 2, "refused"], ["after"]]


def test_one_refusal_in_a_batch_leaves_the_others_one_transaction(appender: Appender) -> None:
    party = register(appender.service, 13)
    stranger = PartyKey(generate_private_key(), "5412345000099")  # never registered
    envelopes = [statement(party, 0), statement(stranger, 1), statement(party, 2), {"x": 1}]
    log = appender.service.log
    with read_connection(appender.service.engine) as conn:
        size, checkpoints = logdb.tree_size(conn), checkpoint_count(conn)
    answers, then = log.append_checked_batch(envelopes)
    then()
    first, second = answers[0], answers[2]
    assert isinstance(first, dict) and isinstance(second, dict)
    assert [first["index"], second["index"]] == [size, size + 1]
    assert isinstance(answers[1], UnknownKey)
    assert isinstance(answers[3], BadEnvelope)
    with read_connection(appender.service.engine) as conn:
        assert logdb.tree_size(conn) == size + 2
        assert checkpoint_count(conn) == checkpoints + 1
    again, _ = log.append_checked_batch([envelopes[0], envelopes[0]])
    assert [a["index"] for a in again if isinstance(a, dict)] == [size, size]
    assert all(isinstance(a, dict) and a["duplicate"] for a in again)
    assert appender.service.verify().ok


def test_the_appender_reads_a_checked_envelope_as_the_worker_does(appender: Appender) -> None:
    party = register(appender.service, 13)
    registry = appender.service.registry
    envelope = statement(party, 0)
    assert parse_submission(envelope, registry, checked=True) == parse_submission(
        envelope, registry
    )
    other = register(appender.service, 20)
    mixed = dict(envelope, signatures=[{**envelope["signatures"][0], "keyid": other.key_id}])
    with pytest.raises(BadEnvelope):
        parse_submission(mixed, registry, checked=True)


def test_gunicorn_workers_share_one_appender(tmp_path: Path) -> None:
    """The deployment's gunicorn configuration starts the appender before its two workers,
    and stops it with them."""
    settings = Settings.from_config({"DATA_DIR": str(tmp_path / "data")})
    registry = load_plugins().registry
    service = Service(settings, registry, APP_METADATA)
    service.initialise()
    party = register(service, 13, "manufacturer")
    service.close()
    env = {
        "PROVENANCE_DATA_DIR": str(tmp_path / "data"),
        "WEB_CONCURRENCY": "2",
        "PROVENANCE_RATE_LIMIT_ADDRESS": "0",
        "PROVENANCE_RATE_LIMIT_PARTY": "0",
    }
    with gunicorn(tmp_path, env, cwd=PROJECT) as (server, port, stderr):
        children = child_processes(server.pid)
        assert len(children) == 3, stderr.read_text()  # the appender and two workers
        appender_pid = [p for p, cmd in children.items() if "appender_process" in cmd]
        assert len(appender_pid) == 1
        bodies = [json.dumps(statement(party, i)).encode() for i in range(40)]
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda b: post(port, b), bodies))
        assert statuses == [201] * 40, stderr.read_text()
        assert "appending in this process" not in stderr.read_text()
        # The appender dies: its supervisor starts it again, on the same socket.
        (first,) = child_processes(appender_pid[0])
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while set(child_processes(appender_pid[0])) in (set(), {first}):
            assert time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.1)
        (second,) = child_processes(appender_pid[0])
        socket_path = Path(child_processes(appender_pid[0])[second].split("\0")[4])
        while not appender_process._answers(socket_path):  # noqa: SLF001
            assert time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.1)
        bodies = [json.dumps(statement(party, i)).encode() for i in range(40, 80)]
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda b: post(port, b), bodies))
        assert statuses == [201] * 40, stderr.read_text()
        assert "the appender stopped (exit status -9): starting it again" in stderr.read_text()
    for pid in (appender_pid[0], second):
        assert not Path(f"/proc/{pid}").exists()  # stopped with the master
    service = Service(settings, registry, APP_METADATA)
    with read_connection(service.engine) as conn:
        assert logdb.tree_size(conn) == 2 + 80  # genesis, registration, 80 statements
    assert service.verify().ok
    service.close()


def child_processes(pid: int) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == pid:
                    command = (entry / "cmdline").read_bytes()
                    found[int(entry.name)] = command.decode(errors="replace")
            except OSError:
                continue
    return found


def post(port: int, body: bytes) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/api/v1/statements", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
