"""Several OS processes appending at once never fork the chain or skip an index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from provenance.client import save_private_key
from provenance.log.merkle import leaf_hash
from provenance.log.service import Service
from provenance.log.settings import Settings
from provenance.log.signing import generate_private_key
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from tests.log.members import MEMBER, core_registry
from tests.parties import ORIGIN, Authority, PartyKey
from tests.paths import PROJECT, TESTS

WORKER = TESTS / "workers" / "appender.py"
PROCESSES, PER_PROCESS = 4, 250
GLNS = ["5412345000013", "5412345000020", "5412345000037", "5412345000044"]


def prepare(tmp_path: Path, url: str) -> tuple[Service, list[Path]]:
    settings = Settings.from_config({"DATA_DIR": str(tmp_path), "DATABASE_URL": url})
    service = Service(settings, core_registry())
    service.initialise()
    from provenance.log import keystore

    authority = Authority(keystore.load_authority_key(service.settings.keys))
    keys = []
    for n, gln in enumerate(GLNS):
        party = PartyKey(generate_private_key(), gln)
        body = {
            "gln": gln,
            "name": f"P{n}",
            "roles": [MEMBER],
            "public_key": party.public_b64,
        }
        service.log.submit(authority.envelope("party.register", body))
        path = tmp_path / f"p{n}.pem"
        save_private_key(path, party.key)
        keys.append(path)
    return service, keys


def run_workers(
    tmp_path: Path, url: str, keys: list[Path], tags: list[str], count: int
) -> list[list[int]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(tmp_path), url, str(key), tag, str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for key, tag in zip(keys, tags, strict=True)
    ]
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0
        outputs.append([int(line) for line in out.split()])
    return outputs


def check_log(service: Service, expected_size: int) -> None:
    with read_connection(service.engine) as conn:
        rows = [(e.idx, e.data) for page in logdb.entry_pages(conn) for e in page]
        checkpoints = [c.size for c in logdb.checkpoints(conn)]
    assert [r[0] for r in rows] == list(range(expected_size))
    prev = "0" * 64
    for idx, data in rows:
        entry = json.loads(data)
        assert entry["index"] == idx and entry["prev"] == prev
        prev = leaf_hash(bytes(data)).hex()
    assert max(checkpoints) == expected_size
    report = service.verify(workers=2)
    assert report.ok, report.summary()
    assert report.entries == expected_size and report.checkpoints == len(checkpoints)


def concurrent_appends(tmp_path: Path, url: str) -> None:
    service, keys = prepare(tmp_path, url)
    try:
        base = 1 + len(GLNS)
        tags = [f"w{n}" for n in range(PROCESSES)]
        outputs = run_workers(tmp_path, url, keys, tags, PER_PROCESS)
        everything = sorted(i for out in outputs for i in out)
        assert everything == list(range(base, base + PROCESSES * PER_PROCESS))
        assert all(len(set(out)) == PER_PROCESS for out in outputs)
        check_log(service, base + PROCESSES * PER_PROCESS)
    finally:
        service.close()


def test_four_processes_sqlite(tmp_path: Path) -> None:
    concurrent_appends(tmp_path, f"sqlite:///{tmp_path / 'log.db'}")


def test_four_processes_postgres(tmp_path: Path, postgres_database: str) -> None:
    concurrent_appends(tmp_path, postgres_database)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_same_statement_from_four_processes_is_logged_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'log.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_database")
    )
    service, keys = prepare(tmp_path, url)
    # Same key and same tag: each process signs the same statements (issued_at may differ by
    # a millisecond, so share one pre-signed file instead).
    from provenance.client import build_envelope, load_private_key

    envelope = build_envelope(
        load_private_key(keys[0]), "attestation", {"subject": "shared", "claim": {}}, log=ORIGIN
    )
    script = (
        "import json,sys; sys.path.insert(0, sys.argv[3]);"
        "from provenance.log.service import Service; from provenance.log.settings import Settings;"
        "from tests.log.members import core_registry;"
        "s = Service(Settings.from_config({'DATA_DIR': sys.argv[1], 'DATABASE_URL': sys.argv[2]}),"
        " core_registry());"
        "print(s.log.submit(json.loads(sys.argv[4])).index)"
    )
    root = str(PROJECT)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), url, root, json.dumps(envelope)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        indices = {int(p.communicate(timeout=120)[0]) for p in procs}
        assert indices == {1 + len(GLNS)}
        check_log(service, 2 + len(GLNS))
    finally:
        service.close()
