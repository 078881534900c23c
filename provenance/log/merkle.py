"""RFC 9162 SHA-256 Merkle trees over stored complete subtrees: proof plans, proofs, frontier."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from provenance.log.errors import IntegrityError, InvalidProof

HASH_SIZE = 32
_sha256 = hashlib.sha256
EMPTY_ROOT: bytes = _sha256(b"").digest()

#: (level, index): the perfect subtree over leaves [index * 2**level, (index + 1) * 2**level).
NodeAddr = tuple[int, int]


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d}) = SHA-256(0x00 || d)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x01 || MTH(left) || MTH(right))."""
    return _sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from the RFC 9162 §2.1.1 definition: the reference for tests."""

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaf_hashes[lo]
        k = 1 << ((hi - lo - 1).bit_length() - 1)  # largest power of two < n
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth(0, len(leaf_hashes)) if leaf_hashes else EMPTY_ROOT


def subtree_addrs(start: int, end: int) -> list[NodeAddr]:
    """Perfect subtrees, largest first, whose right fold is the RFC 9162 subtree [start, end).

    `start` must be 0 or a multiple of bit_ceil(end - start), as every subtree MTH recurses on is.
    """
    n = end - start
    if start < 0 or n < 0:
        raise ValueError(f"bad subtree range [{start}, {end})")
    if start and n and start & ((1 << (n - 1).bit_length()) - 1):
        raise ValueError(f"[{start}, {end}) is not an aligned subtree")
    addrs: list[NodeAddr] = []
    pos = start
    for level in range(n.bit_length() - 1, -1, -1):
        if n >> level & 1:
            addrs.append((level, pos >> level))
            pos += 1 << level
    return addrs


def root_addrs(size: int) -> list[NodeAddr]:
    """Nodes whose right fold is the root of a tree of `size` leaves (none for the empty tree)."""
    return subtree_addrs(0, size)


def frontier_addrs(size: int) -> list[NodeAddr]:
    """The right edge of a tree of `size`: exactly the nodes a Frontier holds, largest first."""
    return subtree_addrs(0, size)


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Hash of a subtree from its perfect-subtree decomposition (largest first)."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = _sha256(b"\x01" + h + acc).digest()
    return acc


def inclusion_proof_addrs(index: int, size: int) -> list[list[NodeAddr]]:
    """Plan of PATH(index, D[size]) (RFC 9162 §2.1.3.1), one node list per element, leaf to root."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    plan: list[list[NodeAddr]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        level = k.bit_length() - 1
        if index < lo + k:
            # Only the first right sibling can touch the ragged right edge of the tree.
            plan.append(subtree_addrs(lo + k, hi))
            hi = lo + k
        else:
            plan.append([(level, lo >> level)])
            lo += k
    plan.reverse()
    return plan


def consistency_proof_addrs(size1: int, size2: int) -> list[list[NodeAddr]]:
    """Plan of PROOF(size1, D[size2]) (RFC 9162 §2.1.4.1), one node list per element."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    plan: list[list[NodeAddr]] = []
    lo, hi, whole = 0, size2, True
    while size1 != hi:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        level = k.bit_length() - 1
        if size1 <= lo + k:
            plan.append(subtree_addrs(lo + k, hi))
            hi = lo + k
        else:
            plan.append([(level, lo >> level)])
            lo += k
            whole = False
    # SUBPROOF(m, D[m], false) = {MTH(D[m])}; with b = true the old root is known to the verifier.
    if not whole:
        plan.append(subtree_addrs(lo, hi))
    plan.reverse()
    return plan


def plan_addrs(plan: Iterable[Iterable[NodeAddr]]) -> list[NodeAddr]:
    """Every distinct node a plan needs, for fetching them in a single query."""
    return list(dict.fromkeys(addr for element in plan for addr in element))


def assemble(plan: list[list[NodeAddr]], nodes: Mapping[NodeAddr, bytes]) -> list[bytes]:
    """Proof hashes for a plan from fetched node hashes."""
    try:
        return [fold_right([nodes[addr] for addr in element]) for element in plan]
    except KeyError as exc:
        raise IntegrityError(f"node {exc.args[0]} needed for a proof is not stored") from None


def _check_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise InvalidProof(f"proof element {i} is {len(h)} bytes, want {HASH_SIZE}")


def _decomp_inclusion(index: int, size: int) -> tuple[int, int]:
    # Audit path = `inner` siblings below the point where the path leaves the right edge, then
    # `border` left siblings along the right edge (transparency-dev/merkle decompInclProof).
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def _chain(seed: bytes, proof: Sequence[bytes], inner: int, index: int) -> bytes:
    for i in range(inner):
        seed = node_hash(proof[i], seed) if index >> i & 1 else node_hash(seed, proof[i])
    for h in proof[inner:]:
        seed = node_hash(h, seed)
    return seed


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof implies (RFC 9162 §2.1.3.2); InvalidProof if malformed."""
    # Step 1.
    if not 0 <= index < size:
        raise InvalidProof(f"leaf index {index} is not below tree size {size}")
    if len(leaf) != HASH_SIZE:
        raise InvalidProof(f"leaf hash is {len(leaf)} bytes, want {HASH_SIZE}")
    # Step 5's "sn must end at 0" (and step 4's early stop) is an exact proof length, checked first.
    inner, border = _decomp_inclusion(index, size)
    if len(proof) != inner + border:
        raise InvalidProof(
            f"inclusion proof for leaf {index} of {size} has {len(proof)} hashes, "
            f"want {inner + border}"
        )
    _check_hashes(proof)
    # Steps 2-4: below the split from the right edge the bits of the index pick the side.
    return _chain(leaf, proof, inner, index)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: raise InvalidProof unless `leaf` is leaf `index` of the tree `root`."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise InvalidProof(
            f"inclusion proof for leaf {index} does not lead to the tree {size} root"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """RFC 9162 §2.1.4.2 with transparency-dev/merkle edge cases; InvalidProof on failure.

    size1 == 0 is rejected (nothing to be consistent with), and equal sizes need an empty proof
    and equal roots.
    """
    if size1 < 0 or size2 < size1:
        raise InvalidProof(f"cannot prove size {size1} consistent with smaller size {size2}")
    if size1 == 0:
        raise InvalidProof("consistency with the empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise InvalidProof(f"sizes are equal ({size1}) but the proof is not empty")
        if root1 != root2:
            raise InvalidProof(f"sizes are equal ({size1}) but the roots differ")
        return
    # Step 1.
    if not proof:
        raise InvalidProof(f"empty consistency proof from size {size1} to {size2}")
    # Steps 2-4: when size1 is a power of two the old root is itself the first node of the path;
    # trailing one bits of size1 - 1 are levels the proof skips. Step 7's "sn must end at 0" is an
    # exact proof length, checked first.
    shift = (size1 & -size1).bit_length() - 1
    inner, border = _decomp_inclusion(size1 - 1, size2)
    inner -= shift
    start = 0 if size1 == 1 << shift else 1
    if len(proof) != start + inner + border:
        raise InvalidProof(
            f"consistency proof {size1}->{size2} has {len(proof)} hashes, "
            f"want {start + inner + border}"
        )
    _check_hashes(proof)
    seed = proof[0] if start else root1
    path = proof[start:]
    mask = (size1 - 1) >> shift
    # Steps 5-6: fr (hash1) folds in only left siblings, sr (hash2) all of them; step 7 compares.
    hash1 = seed
    for i in range(inner):
        if mask >> i & 1:
            hash1 = node_hash(path[i], hash1)
    for h in path[inner:]:
        hash1 = node_hash(h, hash1)
    if hash1 != root1:
        raise InvalidProof(f"consistency proof {size1}->{size2} does not lead to the old root")
    if _chain(seed, path, inner, mask) != root2:
        raise InvalidProof(f"consistency proof {size1}->{size2} does not lead to the new root")


class Frontier:
    """Right edge of a growing tree (its perfect-subtree roots, largest first): O(log n) memory."""

    __slots__ = ("size", "_hashes")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} hashes")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError("frontier hashes must be 32 bytes")
        self.size = size
        self._hashes = list(hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the nodes it completes as (level, index, hash), level 0 first."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("append takes a 32-byte leaf hash")
        stack = self._hashes
        idx = self.size
        out = [(0, idx, leaf)]
        h = leaf
        level = 0
        while idx & 1:
            h = _sha256(b"\x01" + stack.pop() + h).digest()
            level += 1
            idx >>= 1
            out.append((level, idx, h))
        stack.append(h)
        self.size += 1
        return out

    def root(self) -> bytes:
        return fold_right(self._hashes)

    def hashes(self) -> list[bytes]:
        """The right-edge node hashes, in the order of frontier_addrs(size)."""
        return list(self._hashes)

    def copy(self) -> Frontier:
        return Frontier(self.size, self._hashes)
