"""Logs and witnesses for the witness tests: signed checkpoints of made-up trees, proofs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from provenance.log import merkle
from provenance.log.note import Checkpoint, Signer, format_checkpoint
from provenance.log.witness_protocol import format_add_checkpoint
from provenance.witness.store import WitnessStore

ORIGIN = "example.org/test-log"


def leaves(count: int, branch: str = "main") -> list[bytes]:
    """Leaf hashes of a tree of `count` entries; trees of two branches differ from index 0."""
    return [merkle.leaf_hash(f"{branch} entry {i}".encode()) for i in range(count)]


def forked(common: int, count: int) -> list[bytes]:
    """A tree that shares its first `common` entries with the main branch, then differs."""
    return leaves(common) + leaves(count, "fork")[common:]


def root(tree: Sequence[bytes]) -> bytes:
    return merkle.root_from_leaf_hashes(tree)


def consistency(tree: Sequence[bytes], old: int, new: int) -> list[bytes]:
    """PROOF(old, D[new]) from the leaf hashes alone (RFC 9162 §2.1.4)."""
    if old in (0, new):
        return []
    plan = merkle.consistency_proof_addrs(old, new)
    node = {
        (level, idx): root(tree[idx << level : (idx + 1) << level])
        for element in plan
        for level, idx in element
    }
    return merkle.assemble(plan, node)


class TestLog:
    """A log key that signs checkpoints of any tree (an operator may sign a fork, too)."""

    __test__ = False  # not a pytest class

    def __init__(self, origin: str = ORIGIN) -> None:
        self.signer = Signer(origin, ed25519.Ed25519PrivateKey.generate())
        self.origin = origin

    @property
    def vkey(self) -> str:
        return self.signer.verifier_key_line()

    def checkpoint(self, tree: Sequence[bytes]) -> str:
        return self.signer.sign(format_checkpoint(Checkpoint(self.origin, len(tree), root(tree))))

    def request(
        self, tree: Sequence[bytes], old: int, proof: Sequence[bytes] | None = None
    ) -> bytes:
        """An add-checkpoint body for the checkpoint of `tree`, from the old size `old`."""
        if proof is None:
            proof = consistency(tree, old, len(tree))
        return format_add_checkpoint(old, proof, self.checkpoint(tree))


def make_witness(directory: Path, name: str, *logs: TestLog) -> WitnessStore:
    store = WitnessStore.create(directory, name)
    for log in logs:
        store.add_log(log.vkey)
    return store
