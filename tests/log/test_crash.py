"""kill -9 of a writer in the middle of a large ingest: everything committed stays intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from provenance.log.store.engine import read_connection
from provenance.log.store.logdb import tree_size
from tests.log.test_concurrency import WORKER, prepare


def crash_and_recover(tmp_path: Path, url: str) -> None:
    service, keys = prepare(tmp_path, url)
    try:
        writer = subprocess.Popen(
            [sys.executable, str(WORKER), str(tmp_path), url, str(keys[0]), "big", "20000", "500"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        committed = [int(writer.stdout.readline()) for _ in range(3)]
        os.kill(writer.pid, signal.SIGKILL)  # most likely inside the next batch's transaction
        writer.wait(timeout=30)
        # Lines printed before the kill may still be in the pipe.
        committed += [int(line) for line in writer.stdout.read().split()]
        assert writer.returncode == -signal.SIGKILL
        writer.stdout.close()

        with read_connection(service.engine) as conn:
            size = tree_size(conn)
        assert size >= committed[-1]
        assert (size - committed[0]) % 500 == 0, "a partial batch is visible"
        report = service.verify(
            workers=2,
        )
        assert report.ok, report.summary()
        assert report.entries == size

        # The log goes on from where it stood.
        after = subprocess.run(
            [sys.executable, str(WORKER), str(tmp_path), url, str(keys[1]), "after", "50"],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        assert [int(i) for i in after.stdout.split()] == list(range(size, size + 50))
        assert service.verify(workers=2).ok
    finally:
        service.close()


def test_kill_writer_sqlite(tmp_path: Path) -> None:
    crash_and_recover(tmp_path, f"sqlite:///{tmp_path / 'log.db'}")


def test_kill_writer_postgres(tmp_path: Path, postgres_database: str) -> None:
    crash_and_recover(tmp_path, postgres_database)


@pytest.mark.parametrize("when", ["before", "after"])
def test_stale_writer_cache_is_reloaded(tmp_path: Path, when: str) -> None:
    """A process whose cached tree edge is stale (another process appended) reloads it."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    service, keys = prepare(tmp_path, url)
    try:
        subprocess.run(
            [sys.executable, str(WORKER), str(tmp_path), url, str(keys[0]), when, "7"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        from provenance.client import load_private_key
        from tests.parties import PartyKey, attestation

        party = PartyKey(load_private_key(keys[1]))
        appended = service.log.submit(attestation(party, f"{when}/here"))
        assert appended.index == 1 + 4 + 7
        assert service.verify(workers=1).ok
    finally:
        service.close()
