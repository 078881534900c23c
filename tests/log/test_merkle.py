"""RFC 9162 Merkle trees: upstream vectors, probes and exhaustive checks against the definitions."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from collections.abc import Sequence
from typing import Any

import pytest

from provenance.log import merkle
from provenance.log.errors import IntegrityError, InvalidProof
from provenance.log.merkle import NodeAddr
from tests.paths import VECTORS

VECTORS = VECTORS / "merkle"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def unhex(value: str | None) -> bytes:
    return bytes.fromhex(value or "")


HASHING = load("rfc6962_hashing.json")
GOLDEN = load("golden_proofs.json")
INCLUSION_PROBES = load("inclusion_probes.json")["probes"]
CONSISTENCY_PROBES = load("consistency_probes.json")["probes"]
REF = HASHING["reference_tree"]
REF_LEAVES = [merkle.leaf_hash(unhex(d)) for d in REF["leaf_inputs_hex"]]


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def all_nodes(leaf_hashes: Sequence[bytes]) -> dict[NodeAddr, bytes]:
    """Every complete subtree of the tree, as the store would hold it."""
    frontier = merkle.Frontier()
    nodes: dict[NodeAddr, bytes] = {}
    for leaf in leaf_hashes:
        for level, index, h in frontier.append(leaf):
            nodes[level, index] = h
    return nodes


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) exactly as RFC 9162 §2.1.3.1 writes it."""
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, d[:k]) + [merkle.root_from_leaf_hashes(d[k:])]
    return ref_path(m - k, d[k:]) + [merkle.root_from_leaf_hashes(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) exactly as RFC 9162 §2.1.4.1 writes it."""
    if m == len(d):
        return [] if b else [merkle.root_from_leaf_hashes(d)]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [merkle.root_from_leaf_hashes(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [merkle.root_from_leaf_hashes(d[:k])]


def complete_in(plan: list[list[NodeAddr]], size: int) -> bool:
    return all((index + 1) << level <= size for element in plan for level, index in element)


# --- hashing vectors -------------------------------------------------------------------------


@pytest.mark.parametrize("vector", HASHING["hasher_unit_vectors"], ids=lambda v: v["desc"])
def test_hasher_unit_vectors(vector: dict[str, Any]) -> None:
    if "left_hex" in vector:
        got = merkle.node_hash(unhex(vector["left_hex"]), unhex(vector["right_hex"]))
    elif "leaf_hex" in vector:
        got = merkle.leaf_hash(unhex(vector["leaf_hex"]))
    else:
        got = merkle.EMPTY_ROOT
    assert got.hex() == vector["want"]


def test_reference_tree_node_hashes_by_level() -> None:
    nodes = all_nodes(REF_LEAVES)
    want = {
        (level, index): h
        for level, row in enumerate(REF["node_hashes_by_level"])
        for index, h in enumerate(row)
    }
    assert {addr: h.hex() for addr, h in nodes.items()} == want


@pytest.mark.parametrize("size", range(9))
def test_reference_tree_roots(size: int) -> None:
    want = REF["root_by_tree_size"][str(size)]
    assert merkle.root_from_leaf_hashes(REF_LEAVES[:size]).hex() == want
    frontier = merkle.Frontier()
    for leaf in REF_LEAVES[:size]:
        frontier.append(leaf)
    assert frontier.root().hex() == want
    nodes = all_nodes(REF_LEAVES)
    assert merkle.fold_right([nodes[a] for a in merkle.root_addrs(size)]).hex() == want


def _subtree_digest(first_end: int, with_empty: bool) -> str:
    data = [merkle.leaf_hash(bytes([i])) for i in range(130)]
    nodes = all_nodes(data)
    h = hashlib.sha256()
    for end in range(first_end, 131):
        for start in range(end + 1 if with_empty else end):
            span = end - start
            if start and span and start % (1 << (span - 1).bit_length()):
                continue  # not a valid subtree; subtree_addrs must refuse it
            got = merkle.fold_right([nodes[a] for a in merkle.subtree_addrs(start, end)])
            assert start == end or got == merkle.root_from_leaf_hashes(data[start:end])
            h.update(b"[%d, %d) %s\n" % (start, end, got.hex().encode()))
    return h.hexdigest()


def test_accumulated_subtree_hash_digest() -> None:
    vector = HASHING["accumulated_subtree_vectors"]["subtree_hash_digest"]
    assert _subtree_digest(0, with_empty=True) == vector["want"]
    # Upstream testonly/vectors_test.go @ ccde87d: end 1..130, start < end.
    assert _subtree_digest(1, with_empty=False) == (
        "94a95384a8c69acea9b50d035a58285b3a777cb7a724005faa5e1f1e1190007f"
    )


def test_subtree_addrs_rejects_unaligned_ranges() -> None:
    for start, end in [(1, 3), (2, 5), (4, 9), (6, 10), (3, 2), (-1, 1)]:
        with pytest.raises(ValueError):
            merkle.subtree_addrs(start, end)
    assert merkle.subtree_addrs(4, 7) == [(1, 2), (0, 6)]
    assert merkle.subtree_addrs(5, 5) == []


# --- golden proofs over the 8-leaf tree --------------------------------------------------------

REF_NODES = all_nodes(REF_LEAVES)


@pytest.mark.parametrize(
    "case", GOLDEN["inclusion"], ids=lambda c: f"{c['leaf_index']}-of-{c['tree_size']}"
)
def test_golden_inclusion(case: dict[str, Any]) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    proof = merkle.assemble(merkle.inclusion_proof_addrs(index, size), REF_NODES)
    assert [p.hex() for p in proof] == case["proof"]
    root = merkle.root_from_leaf_hashes(REF_LEAVES[:size])
    merkle.verify_inclusion(index, size, REF_LEAVES[index], proof, root)


@pytest.mark.parametrize("case", GOLDEN["consistency"], ids=lambda c: f"{c['size1']}-{c['size2']}")
def test_golden_consistency(case: dict[str, Any]) -> None:
    m, n = case["size1"], case["size2"]
    proof = merkle.assemble(merkle.consistency_proof_addrs(m, n), REF_NODES)
    assert [p.hex() for p in proof] == case["proof"]
    roots = [merkle.root_from_leaf_hashes(REF_LEAVES[:s]) for s in (m, n)]
    merkle.verify_consistency(m, n, proof, *roots)


# --- upstream probes: valid ones verify, everything else is InvalidProof -----------------------


@pytest.mark.parametrize("probe", INCLUSION_PROBES, ids=lambda p: p["file"])
def test_inclusion_probe(probe: dict[str, Any]) -> None:
    args = (
        probe["leaf_index"],
        probe["tree_size"],
        unhex(probe["leaf_hash"]),
        [unhex(h) for h in probe["proof"] or []],
        unhex(probe["root"]),
    )
    if probe["want_err"]:
        with pytest.raises(InvalidProof):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("probe", CONSISTENCY_PROBES, ids=lambda p: p["file"])
def test_consistency_probe(probe: dict[str, Any]) -> None:
    args = (
        probe["size1"],
        probe["size2"],
        [unhex(h) for h in probe["proof"] or []],
        unhex(probe["root1"]),
        unhex(probe["root2"]),
    )
    if probe["want_err"]:
        with pytest.raises(InvalidProof):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def test_probe_counts() -> None:
    for probes in (INCLUSION_PROBES, CONSISTENCY_PROBES):
        assert len(probes) == 98
        assert sum(not p["want_err"] for p in probes) == 6


# --- exhaustive checks against the RFC definitions --------------------------------------------

LEAVES = leaves(70)
NODES = all_nodes(LEAVES)


@pytest.mark.parametrize("size", range(1, 71))
def test_inclusion_proofs_for_every_index(size: int) -> None:
    root = merkle.root_from_leaf_hashes(LEAVES[:size])
    for index in range(size):
        plan = merkle.inclusion_proof_addrs(index, size)
        assert complete_in(plan, size)
        proof = merkle.assemble(plan, NODES)
        assert proof == ref_path(index, LEAVES[:size])
        merkle.verify_inclusion(index, size, LEAVES[index], proof, root)
        if proof:
            with pytest.raises(InvalidProof):
                merkle.verify_inclusion(index, size, LEAVES[index], proof[:-1], root)
        wrong = LEAVES[index - 1] if size > 1 else merkle.EMPTY_ROOT
        with pytest.raises(InvalidProof):
            merkle.verify_inclusion(index, size, wrong, proof, root)


@pytest.mark.parametrize("n", range(1, 41))
def test_consistency_proofs(n: int) -> None:
    root2 = merkle.root_from_leaf_hashes(LEAVES[:n])
    for m in range(1, n + 1):
        root1 = merkle.root_from_leaf_hashes(LEAVES[:m])
        plan = merkle.consistency_proof_addrs(m, n)
        assert complete_in(plan, n)
        proof = merkle.assemble(plan, NODES)
        assert proof == ref_subproof(m, LEAVES[:n], True)
        merkle.verify_consistency(m, n, proof, root1, root2)
        if m < n:
            with pytest.raises(InvalidProof):
                merkle.verify_consistency(m, n, proof, root2, root2)


def test_mutated_proofs_only_ever_raise_invalid_proof() -> None:
    rng = random.Random(6962)
    size, index = 37, 21
    root = merkle.root_from_leaf_hashes(LEAVES[:size])
    proof = merkle.assemble(merkle.inclusion_proof_addrs(index, size), NODES)
    for _ in range(500):
        bad = list(proof)
        i = rng.randrange(len(bad))
        bad[i] = rng.choice([b"", bad[i][:31], bytes(32), rng.randbytes(rng.randrange(64))])
        rand_index = rng.choice([index, -1, size, 2**64, rng.randrange(size)])
        rand_size = rng.choice([size, 0, -5, size * 2, 2**70])
        with contextlib.suppress(InvalidProof):
            merkle.verify_inclusion(rand_index, rand_size, LEAVES[index], bad, root)
        with contextlib.suppress(InvalidProof):
            merkle.verify_consistency(rand_index, rand_size, bad, root, root)


def test_plans_refuse_impossible_requests() -> None:
    for index, size in [(0, 0), (5, 5), (-1, 3)]:
        with pytest.raises(ValueError):
            merkle.inclusion_proof_addrs(index, size)
    for m, n in [(0, 5), (6, 5), (-1, 2)]:
        with pytest.raises(ValueError):
            merkle.consistency_proof_addrs(m, n)
    assert merkle.consistency_proof_addrs(7, 7) == []


def test_assemble_reports_missing_nodes() -> None:
    plan = merkle.inclusion_proof_addrs(3, 70)
    needed = merkle.plan_addrs(plan)
    assert len(needed) == len(set(needed)) == sum(len(e) for e in plan)
    partial = {a: NODES[a] for a in needed[1:]}
    with pytest.raises(IntegrityError):
        merkle.assemble(plan, partial)


# --- Frontier -----------------------------------------------------------------------------------


def test_frontier_matches_reference_and_emits_every_complete_subtree() -> None:
    data = leaves(600)
    frontier = merkle.Frontier()
    assert frontier.root() == merkle.EMPTY_ROOT
    emitted: dict[NodeAddr, bytes] = {}
    for size, leaf in enumerate(data, start=1):
        new = frontier.append(leaf)
        assert [level for level, _, _ in new] == list(range(len(new)))
        assert new[0] == (0, size - 1, leaf)
        for level, index, h in new:
            assert (level, index) not in emitted
            emitted[level, index] = h
        assert frontier.size == size
        assert frontier.root() == merkle.root_from_leaf_hashes(data[:size])
        assert frontier.hashes() == [emitted[a] for a in merkle.frontier_addrs(size)]
    complete = {(lv, i) for lv in range(10) for i in range(600 >> lv)}
    assert set(emitted) == complete
    for (level, index), h in emitted.items():
        assert h == merkle.root_from_leaf_hashes(data[index << level : (index + 1) << level])


def test_frontier_rebuilt_from_stored_nodes_continues_identically() -> None:
    for size in (0, 1, 5, 64, 69):
        rebuilt = merkle.Frontier(size, [NODES[a] for a in merkle.frontier_addrs(size)])
        assert rebuilt.root() == merkle.root_from_leaf_hashes(LEAVES[:size])
        twin = rebuilt.copy()
        rebuilt.append(LEAVES[size])
        assert twin.size == size
        assert rebuilt.root() == merkle.root_from_leaf_hashes(LEAVES[: size + 1])


def test_frontier_rejects_bad_state() -> None:
    with pytest.raises(ValueError):
        merkle.Frontier(3, [bytes(32)])
    with pytest.raises(ValueError):
        merkle.Frontier(1, [b"short"])
    with pytest.raises(ValueError):
        merkle.Frontier().append(b"not a hash")
