"""The front `make run` serves through holds up against slow clients (slowloris)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import make_app

SLOW_CLIENTS = 16
THREADS = 4  # far fewer than the slow clients: each one holding a thread would stall reads


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the front exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the front did not start listening")


def test_sixteen_slow_clients_do_not_stall_reads(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    make_app(data_dir)  # a new log, initialised
    port = free_port()
    env = dict(os.environ, PROVENANCE_DATA_DIR=str(data_dir))
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "provenance.front", "--port", str(port)]
    process = subprocess.Popen([*command, "--threads", str(THREADS)], env=env)
    slow: list[socket.socket] = []
    try:
        wait_for(port, process)
        for n in range(SLOW_CLIENTS):
            client = socket.create_connection(("127.0.0.1", port))
            if n % 2:  # headers that never end
                client.sendall(b"GET /log/checkpoint HTTP/1.1\r\nHost: a\r\n")
            else:  # a body that trickles in
                client.sendall(
                    b"POST /api/v1/statements HTTP/1.1\r\nHost: a\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
                )
            slow.append(client)
        worst = 0.0
        for _ in range(10):
            for client in slow:  # each slow client sends a little more, never finishing
                client.sendall(b"X-Slow: 1\r\n" if slow.index(client) % 2 else b" ")
            started = time.perf_counter()
            url = f"http://127.0.0.1:{port}/log/checkpoint"
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert answer.status == 200 and answer.read().startswith(b"provenance.local/log")
            worst = max(worst, time.perf_counter() - started)
            time.sleep(0.1)
        assert worst < 2.0, f"a read took {worst:.2f} s beside {SLOW_CLIENTS} slow clients"
    finally:
        for client in slow:
            client.close()
        process.terminate()
        process.wait(timeout=10)
