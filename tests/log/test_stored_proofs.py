"""Proofs read from stored tree hashes, on SQLite and PostgreSQL, with and without kept nodes."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from provenance.log import merkle, reader
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection, write_transaction
from provenance.log.store.logdb import NodeAddr
from provenance.web.context import service
from tests.backends import app_on_each_backend  # noqa: F401  (the `app` fixture)
from tests.parties import PartyKey

GROWN = 3_000  # deep enough for tree hashes at level 10 and up (1,024 leaves each)


def engine_of(app: Flask) -> Engine:
    with app.app_context():
        return service().engine


def grow(engine: Engine, to_size: int) -> tuple[int, dict[int, bytes], dict[int, bytes]]:
    """Store the tree hashes of synthetic leaves after the log's own entries, as an append
    does; (first synthetic index, their leaf hashes by index, the root at every size)."""
    with read_connection(engine) as conn:
        start = logdb.tree_size(conn)
        addrs = merkle.frontier_addrs(start)
        stored = logdb.fetch_nodes(conn, addrs)
    frontier = merkle.Frontier(start, [stored[a] for a in addrs])
    leaves, roots, rows = {}, {}, []
    for i in range(start, to_size):
        leaves[i] = merkle.leaf_hash(hashlib.sha256(b"leaf %d" % i).digest())
        rows += [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in frontier.append(leaves[i])]
        roots[i + 1] = frontier.root()
    with write_transaction(engine) as conn:
        logdb.insert_rows(conn, "log_node", rows)
    return start, leaves, roots


class Spy:
    """Records the addresses each `fetch_nodes` call asks the database for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.asked: list[set[NodeAddr]] = []
        real = logdb.fetch_nodes

        def fetch(conn: object, addrs: Iterable[NodeAddr]) -> dict[NodeAddr, bytes]:
            wanted = set(addrs)
            self.asked.append(wanted)
            return real(conn, wanted)  # type: ignore[arg-type]

        monkeypatch.setattr(logdb, "fetch_nodes", fetch)


def test_fetch_nodes_returns_exactly_the_stored_hashes(app: Flask) -> None:
    engine = engine_of(app)
    grow(engine, GROWN)
    rng = random.Random(7)
    # More addresses than one query takes, some of them never stored (beyond the tree's edge,
    # or at a level no complete subtree reaches).
    wanted = {(lv, rng.randrange(GROWN >> lv)) for lv in range(12) for _ in range(40)}
    missing = {(0, GROWN + 5), (3, GROWN), (20, 0)}
    with read_connection(engine) as conn:
        found = logdb.fetch_nodes(conn, wanted | missing)
        one_by_one = {a: logdb.node_range(conn, a[0], a[1], a[1] + 1) for a in wanted}
    assert len(wanted) > 250
    assert set(found) == wanted
    assert all(found[a] == one_by_one[a][0] for a in wanted)


def test_proofs_are_the_same_with_kept_nodes(app: Flask) -> None:
    engine = engine_of(app)
    start, leaves, roots = grow(engine, GROWN)
    kept = reader.kept_nodes()
    rng = random.Random(11)
    with read_connection(engine) as conn:
        for _ in range(60):
            size = rng.randrange(start + 1, GROWN + 1)
            index = rng.randrange(start, size)
            plain = reader.inclusion_proof(conn, index, size)
            assert reader.inclusion_proof(conn, index, size, kept) == plain
            merkle.verify_inclusion(index, size, leaves[index], plain, roots[size])
            old, new = sorted(rng.sample(range(start + 1, GROWN + 1), 2))
            plain = reader.consistency_proof(conn, old, new)
            assert reader.consistency_proof(conn, old, new, kept) == plain
            merkle.verify_consistency(old, new, plain, roots[old], roots[new])
    held = kept.keys()
    assert held, "proofs in a tree of 3,000 leaves name hashes from level 10 up"
    assert all(level >= reader.KEPT_FROM_LEVEL for level, _ in held)


def test_kept_nodes_are_not_read_again(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engine_of(app)
    grow(engine, GROWN)
    kept = reader.kept_nodes()
    spy = Spy(monkeypatch)
    with read_connection(engine) as conn:
        reader.inclusion_proof(conn, 100, GROWN, kept)
        reader.inclusion_proof(conn, 2_900, GROWN, kept)
        first, second = spy.asked
        assert any(level >= reader.KEPT_FROM_LEVEL for level, _ in first)
        # Both leaves share the tree's top: the second proof reads only its own low levels.
        upper = {a for a in first if a[0] >= reader.KEPT_FROM_LEVEL}
        assert not upper & second
        assert {a for a in second if a[0] < reader.KEPT_FROM_LEVEL}
        reader.inclusion_proof(conn, 100, GROWN, kept)
        assert spy.asked[2] == {a for a in first if a[0] < reader.KEPT_FROM_LEVEL}


def test_receipts_keep_the_tree_hashes_they_read(
    app: Flask, client: FlaskClient, manufacturer: PartyKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The log holds only the genesis and a registered party's entries: keep every level, so
    # that the receipt route's kept nodes show at that size.
    monkeypatch.setattr(reader, "KEPT_FROM_LEVEL", 0)
    with read_connection(engine_of(app)) as conn:
        size = logdb.tree_size(conn)
    assert size >= 2
    spy = Spy(monkeypatch)
    first = client.get(f"/log/receipt/{size - 1}")
    again = client.get(f"/log/receipt/{size - 1}")
    assert first.status_code == again.status_code == 200
    assert first.data == again.data
    assert spy.asked[0] and not spy.asked[1]
