"""The tree of one checkpoint read from its hash tiles only: nodes, proofs, checked leaf hashes.

A tile at level L holds the hashes of the complete subtrees of height 8*L (c2sp.org/tlog-tiles),
so any complete node is the Merkle fold of at most 128 consecutive hashes of one tile. Nothing a
tile says is taken on trust: `verify_root` folds the right-edge tiles into the checkpoint's
root, and a full tile counts only once its fold equals its parent's hash one level up, up to a
tile that the root already covers.
"""

from __future__ import annotations

from collections.abc import Callable

from provenance.audit.errors import Inconsistent
from provenance.errors import Error
from provenance.log import merkle
from provenance.log.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileRef,
    available_width,
    hashes_from_tile,
    tile_path,
)

#: Reads one tile's bytes (`tile_path(ref)` under the log's /tile/).
TileFetch = Callable[[TileRef], bytes]


class TileTree:
    """The tree of size `size`, its hashes read tile by tile through `fetch` and kept."""

    def __init__(self, size: int, fetch: TileFetch) -> None:
        self.size = size
        self._fetch = fetch
        self._tiles: dict[tuple[int, int], list[bytes]] = {}
        self._checked: set[tuple[int, int]] = set()
        self._root_checked = False

    def tile(self, level: int, index: int) -> list[bytes]:
        """The hashes of tile `index` at `level`, as wide as this tree makes it."""
        found = self._tiles.get((level, index))
        if found is not None:
            return found
        width = available_width(level, index, self.size)
        if width == 0:
            raise ValueError(f"no tile {level}/{index} in a tree of size {self.size}")
        ref = TileRef(level, index, None if width == TILE_WIDTH else width)
        try:
            hashes = hashes_from_tile(self._fetch(ref))
        except Inconsistent:
            raise
        except Error as exc:
            raise Inconsistent(f"tile {tile_path(ref)}: {exc.detail}") from exc
        if len(hashes) != width:
            raise Inconsistent(
                f"tile {tile_path(ref)} holds {len(hashes)} hashes; at size {self.size} it has "
                f"{width}"
            )
        self._tiles[(level, index)] = hashes
        return hashes

    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree (level, index) of this tree."""
        tile_level, height = divmod(level, TILE_HEIGHT)
        first = index << height
        tile_index, offset = divmod(first, TILE_WIDTH)
        hashes = self.tile(tile_level, tile_index)[offset : offset + (1 << height)]
        if len(hashes) != 1 << height:
            raise ValueError(f"node ({level}, {index}) is not complete at size {self.size}")
        return merkle.root_from_leaf_hashes(hashes)

    def root(self) -> bytes:
        """The root the tiles imply (RFC 9162 MTH over the tree's right-edge subtrees)."""
        return merkle.fold_right([self.node(*addr) for addr in merkle.root_addrs(self.size)])

    def verify_root(self, root: bytes) -> None:
        """The tiles' root is the checkpoint's; every partial tile is then covered by it."""
        if self.size == 0:
            return
        if self.root() != root:
            raise Inconsistent(
                f"the hash tiles of size {self.size} do not lead to the root of its checkpoint"
            )
        self._root_checked = True

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """PROOF(old_size, D[size]) (RFC 9162 §2.1.4.1) from tile hashes."""
        plan = merkle.consistency_proof_addrs(old_size, self.size)
        return merkle.assemble(plan, {a: self.node(*a) for a in merkle.plan_addrs(plan)})

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """The leaf hashes [start, end), each from a level-0 tile checked up to the root."""
        if not self._root_checked:
            raise ValueError("verify_root first: leaf hashes count only under a checked root")
        hashes: list[bytes] = []
        for tile_index in range(start // TILE_WIDTH, (end - 1) // TILE_WIDTH + 1 if end else 0):
            self._check_tile(0, tile_index)
            tile = self.tile(0, tile_index)
            base = tile_index * TILE_WIDTH
            hashes.extend(tile[max(start - base, 0) : min(end - base, len(tile))])
        return hashes

    def _check_tile(self, level: int, index: int) -> None:
        # A full tile's fold is the node one tile level up; a partial tile lies on the right
        # edge, whose every hash verify_root folded into the checkpoint's root.
        while (level, index) not in self._checked:
            hashes = self.tile(level, index)
            if len(hashes) < TILE_WIDTH:
                self._checked.add((level, index))
                return
            parent, position = divmod(index, TILE_WIDTH)
            if merkle.root_from_leaf_hashes(hashes) != self.tile(level + 1, parent)[position]:
                raise Inconsistent(
                    f"tile {tile_path(TileRef(level, index))} does not hash to hash {position} "
                    f"of tile {self._path(level + 1, parent)} at size {self.size}"
                )
            self._checked.add((level, index))
            level, index = level + 1, parent

    def _path(self, level: int, index: int) -> str:
        width = available_width(level, index, self.size)
        return tile_path(TileRef(level, index, None if width == TILE_WIDTH else width))
