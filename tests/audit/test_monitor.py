"""`provenance monitor` against a live log: it remembers, checks what is new, and names a split
view, a rollback, a rewritten history, a tampered tile and a tampered entry (exit 1)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from provenance.audit.errors import Inconsistent
from provenance.audit.state import CHECKPOINT_FILE, STATE_FILE
from provenance.audit.tiletree import TileFetch, TileTree
from provenance.log import merkle, tiles
from provenance.log.tiles import TileRef
from provenance.web.context import service
from tests.audit.live import (
    Live,
    attest,
    fork,
    key_file,
    live_log,
    regulator,
    run,
    size,
    vkey_file,
)
from tests.parties import Authority, register_party


def tree(n: int) -> tuple[list[bytes], dict[tuple[int, int], bytes], bytes]:
    """Leaf hashes, every complete node and the root of a tree of `n` made-up leaves."""
    frontier = merkle.Frontier()
    leaves = [hashlib.sha256(b"leaf %d" % i).digest() for i in range(n)]
    nodes: dict[tuple[int, int], bytes] = {}
    for leaf in leaves:
        for level, index, digest in frontier.append(leaf):
            nodes[(level, index)] = digest
    return leaves, nodes, frontier.root()


def served(nodes: dict[tuple[int, int], bytes]) -> TileFetch:
    def fetch(ref: TileRef) -> bytes:
        assert ref.level is not None
        level, first, end = tiles.tile_node_range(ref.level, ref.index, ref.count)
        return b"".join(nodes[(level, i)] for i in range(first, end))

    return fetch


@pytest.mark.parametrize("n", [1, 2, 255, 256, 257, 513, 65_536 + 300])
def test_tiles_alone_give_consistency_proofs_and_checked_leaf_hashes(n: int) -> None:
    leaves, nodes, root = tree(n)
    fetched: list[TileRef] = []
    fetch = served(nodes)

    def counted(ref: TileRef) -> bytes:
        fetched.append(ref)
        return fetch(ref)

    tiletree = TileTree(n, counted)
    tiletree.verify_root(root)
    start = max(n - 300, 0)
    assert tiletree.leaf_hashes(start, n) == leaves[start:]
    for old in sorted({1, n // 3 or 1, n - 1 or 1}):
        if old < n:
            _, _, old_root = tree(old)
            merkle.verify_consistency(old, n, tiletree.consistency_proof(old), old_root, root)
    # Each tile is read once, however many nodes and proofs it serves.
    assert len(fetched) == len(set(fetched))


def test_a_tampered_tile_is_named() -> None:
    leaves, nodes, root = tree(600)
    full = dict(nodes)
    full[(0, 5)] = bytes(32)  # inside the full tile 0/000
    tiletree = TileTree(600, served(full))
    tiletree.verify_root(root)  # the root folds tile 1/000.p/2, not tile 0/000
    with pytest.raises(
        Inconsistent, match=r"tile 0/000 does not hash to hash 0 of tile 1/000\.p/2"
    ):
        tiletree.leaf_hashes(0, 600)
    partial = dict(nodes)
    partial[(0, 599)] = bytes(32)  # on the right edge, in 0/002.p/88
    with pytest.raises(Inconsistent, match="do not lead to the root"):
        TileTree(600, served(partial)).verify_root(root)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_log(tmp_path) as made:
        yield made


def monitor(live: Live, state: Path, *options: str | Path) -> tuple[int, str]:
    result = run(
        "monitor", "--url", live.url, "--vkey", vkey_file(live), "--state", state, *options
    )
    return result.exit_code, result.output


def test_first_run_remembers_and_the_next_checks_the_new_entries(
    live: Live, tmp_path: Path
) -> None:
    reg = key_file(regulator(live.app), tmp_path / "regulator.pem")
    authority = Authority.from_app(live.app)
    maker = register_party(
        live.app.test_client(), authority, "Acme", "5412345000013", ["manufacturer"]
    )
    attest(live.app, maker, 5)
    first = size(live.app)
    state = tmp_path / "state"
    code, output = monitor(live, state, "--key", reg)
    assert code == 0, output
    assert f"first run: checkpoint size {first}" in output
    assert f"{first} new entries checked" in output
    kept = json.loads((state / STATE_FILE).read_text())
    assert kept["replay"]["next_index"] == first
    assert (state / CHECKPOINT_FILE).read_text().startswith(f"{kept['origin']}\n{first}\n")

    attest(live.app, maker, 300)  # over a tile boundary: entry bundles 0/000 and x001.p/…
    code, output = monitor(live, state, "--key", reg)
    assert code == 0, output
    assert f"size {first + 300} " in output and f"consistent with size {first}" in output
    assert "300 new entries checked" in output and "skipped" not in output
    code, output = monitor(live, state, "--key", reg)
    assert code == 0 and "nothing new" in output

    # Another party reads what it may, entry by entry, and counts the rest.
    other = register_party(
        live.app.test_client(), authority, "Other", "5412345000020", ["wholesaler"]
    )
    code, output = monitor(live, tmp_path / "other", "--key", key_file(other, tmp_path / "o.pem"))
    assert code == 0, output
    assert "305 not readable by this party skipped" in output  # the maker's attestations
    code, output = monitor(live, tmp_path / "anonymous")
    assert code == 0 and "skipped" in output, output


def test_a_fork_at_the_same_size_is_a_split_view(live: Live, tmp_path: Path) -> None:
    maker = register_party(
        live.app.test_client(),
        Authority.from_app(live.app),
        "Acme",
        "5412345000013",
        ["manufacturer"],
    )
    copy = fork(live.app, tmp_path / "fork")
    attest(live.app, maker, 3, "the truth")
    code, output = monitor(live, tmp_path / "state")
    assert code == 0, output
    accepted = size(live.app)
    attest(copy, maker, 3, "another story")
    assert size(copy) == accepted
    live.switch.app = copy  # the operator serves another database with the same key
    code, output = monitor(live, tmp_path / "state")
    assert code == 1
    assert f"split view at size {accepted}" in output and "differs from root" in output


def test_a_rollback_is_named(live: Live, tmp_path: Path) -> None:
    maker = register_party(
        live.app.test_client(),
        Authority.from_app(live.app),
        "Acme",
        "5412345000013",
        ["manufacturer"],
    )
    copy = fork(live.app, tmp_path / "fork")
    attest(live.app, maker, 2)
    code, output = monitor(live, tmp_path / "state")
    assert code == 0, output
    accepted = size(live.app)
    live.switch.app = copy
    code, output = monitor(live, tmp_path / "state")
    assert code == 1
    assert (
        f"rollback: the log's checkpoint has size {size(copy)}, smaller than size {accepted} "
        "accepted before"
    ) in output


def test_a_rewritten_history_is_not_consistent(live: Live, tmp_path: Path) -> None:
    maker = register_party(
        live.app.test_client(),
        Authority.from_app(live.app),
        "Acme",
        "5412345000013",
        ["manufacturer"],
    )
    copy = fork(live.app, tmp_path / "fork")
    attest(live.app, maker, 2, "the truth")
    code, output = monitor(live, tmp_path / "state")
    assert code == 0, output
    accepted = size(live.app)
    attest(copy, maker, 5, "another story")
    live.switch.app = copy
    code, output = monitor(live, tmp_path / "state")
    assert code == 1
    assert f"size {size(copy)} is not consistent with size {accepted} accepted before" in output


def attacker(app: Flask) -> sqlite3.Connection:
    """The database file opened by someone who drops its append-only guards."""
    with app.app_context():
        service().engine.dispose()
    conn = sqlite3.connect(Path(app.config["DATA_DIR"]) / "provenance.db", isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    return conn


def test_a_tampered_tile_fails(live: Live, tmp_path: Path) -> None:
    maker = register_party(
        live.app.test_client(),
        Authority.from_app(live.app),
        "Acme",
        "5412345000013",
        ["manufacturer"],
    )
    code, output = monitor(live, tmp_path / "state")
    assert code == 0, output
    attest(live.app, maker, 4)
    victim = size(live.app) - 2
    attacker(live.app).execute(
        "UPDATE log_node SET hash = ? WHERE level = 0 AND idx = ?", (bytes(32), victim)
    )
    code, output = monitor(live, tmp_path / "state")
    assert code == 1
    assert f"the hash tiles of size {size(live.app)} do not lead to the root" in output


def test_a_tampered_entry_is_named(live: Live, tmp_path: Path) -> None:
    reg = key_file(regulator(live.app), tmp_path / "regulator.pem")
    maker = register_party(
        live.app.test_client(),
        Authority.from_app(live.app),
        "Acme",
        "5412345000013",
        ["manufacturer"],
    )
    attest(live.app, maker, 3)
    victim = size(live.app) - 2
    conn = attacker(live.app)
    (data,) = conn.execute("SELECT data FROM log_entry WHERE idx = ?", (victim,)).fetchone()
    conn.execute(
        "UPDATE log_entry SET data = ? WHERE idx = ?",
        (data.replace(b'"logged_at":"2', b'"logged_at":"1'), victim),
    )
    code, output = monitor(live, tmp_path / "state", "--key", reg)
    assert code == 1
    assert f"entry {victim}: its bytes do not hash to its leaf hash" in output
    assert not (tmp_path / "state" / STATE_FILE).exists()  # nothing bad is ever accepted


def test_an_unreachable_log_is_exit_status_2(live: Live, tmp_path: Path) -> None:
    vkey = vkey_file(live)
    result = run(
        "monitor", "--url", "http://127.0.0.1:9", "--vkey", vkey, "--state", tmp_path / "s"
    )
    assert result.exit_code == 2 and "cannot reach" in result.output
    result = run(
        "monitor",
        "--url",
        live.url,
        "--vkey",
        vkey,
        "--state",
        tmp_path / "s",
        "--min-witnesses",
        "1",
    )
    assert result.exit_code == 2 and "--witness" in result.output


def test_watch_stops_at_the_first_inconsistency(live: Live, tmp_path: Path) -> None:
    maker = register_party(
        live.app.test_client(),
        Authority.from_app(live.app),
        "Acme",
        "5412345000013",
        ["manufacturer"],
    )
    copy = fork(live.app, tmp_path / "fork")
    attest(live.app, maker, 2)
    watcher = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "provenance"),
            "monitor",
            "--url",
            live.url,
            "--vkey",
            str(vkey_file(live)),
            "--state",
            str(tmp_path / "state"),
            "--watch",
            "--interval",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "state" / STATE_FILE).exists():
            assert watcher.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        attest(live.app, maker, 1)  # growing is fine
        time.sleep(0.5)
        assert watcher.poll() is None
        live.switch.app = copy
        out, err = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
    assert watcher.returncode == 1
    assert "rollback" in err


def test_entry_checks_replay_the_rules(app: Flask, tmp_path: Path) -> None:
    """Entries whose hashes are consistent (an operator with the log key re-signs the tree)
    still have to carry valid signatures by registered keys, in a chain."""
    from provenance.audit.errors import BadEntry
    from provenance.audit.replay import EntryChecker, ReplayState
    from provenance.log.canonical import canonical_bytes, parse_json
    from provenance.log.merkle import leaf_hash
    from provenance.log.sigcheck import SignatureChecks
    from provenance.log.store import logdb
    from provenance.log.store.engine import read_connection

    maker = register_party(
        app.test_client(), Authority.from_app(app), "Acme", "5412345000013", ["manufacturer"]
    )
    attest(app, maker, 2)
    with app.app_context():
        registry, vkey = service().registry, service().verifier_key()
        with read_connection(service().engine) as conn:
            stored = [logdb.entry_data(conn, i) for i in range(size(app))]
    entries = [data for data in stored if data is not None]

    def check(data: list[bytes]) -> ReplayState:
        state = ReplayState()
        checker = EntryChecker(registry, state, vkey)
        for index, entry in enumerate(data):
            checker.check(index, leaf_hash(entry), entry, lambda digest: None)
        return state

    assert check(entries).next_index == len(stored)
    last = parse_json(entries[-1])
    signature = last["envelope"]["signatures"][0]
    signature["sig"] = parse_json(entries[-2])["envelope"]["signatures"][0]["sig"]
    forged = [*entries[:-1], canonical_bytes(last)]
    with pytest.raises(BadEntry, match=f"entry {len(entries) - 1}: Signature does not verify"):
        check(forged)
    # A monitor checks signatures in a pool, and names the first bad one once all are in.
    pool = SignatureChecks(1)
    checker = EntryChecker(registry, ReplayState(), vkey, pool)
    for index, entry in enumerate(forged):
        checker.check(index, leaf_hash(entry), entry, lambda digest: None)
    assert pool.finish() == [len(entries) - 1]
    with pytest.raises(BadEntry, match="entry 2: it holds the entry for index 3"):
        check([entries[0], entries[1], entries[3]])
    with pytest.raises(BadEntry, match="entry 0: the genesis entry names another log key"):
        EntryChecker(registry, ReplayState(), "other+00000000+AA==").check(
            0,
            leaf_hash(entries[0]),
            entries[0],
            lambda digest: None,
        )


def test_witness_cosignatures_are_required_when_named(live: Live, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from provenance.log import cosign, cosignatures
    from provenance.log.store import logdb

    witness = cosign.CosignatureSigner("witness.example/w1", ed25519.Ed25519PrivateKey.generate())
    (tmp_path / "w1.vkey").write_text(witness.vkey() + "\n")
    options = ("--witness", tmp_path / "w1.vkey", "--min-witnesses", "1")

    def cosign_latest() -> int:
        with live.app.app_context():
            engine = service().engine
            with engine.connect() as conn:
                latest = logdb.latest_checkpoint(conn)
            assert latest is not None
            body = latest.note[: latest.note.index("\n\n") + 1]
            note = cosign.with_cosignatures(latest.note, [witness.cosign(body, 1_780_000_000)])
            cosignatures.store(engine, latest, cosign.cosignatures(note, [witness.verifier]))
        return latest.size

    code, output = monitor(live, tmp_path / "state", *options)
    assert code == 1 and "cosignatures by 0 of the 1 witnesses required" in output
    first = cosign_latest()
    code, output = monitor(live, tmp_path / "state", *options)
    assert code == 0 and f"checkpoint size {first}" in output, output
    register_party(
        live.app.test_client(),
        Authority.from_app(live.app),
        "Acme",
        "5412345000013",
        ["manufacturer"],
    )
    second = cosign_latest()
    code, output = monitor(live, tmp_path / "state", *options)
    assert code == 0 and f"size {second} " in output and f"consistent with size {first}" in output
