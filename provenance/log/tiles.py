"""C2SP tlog-tiles addressing (tile/<L>/<N>[.p/<W>], tile/entries/...) and tile/bundle encoding.

What a tree of size s serves (c2sp.org/tlog-tiles, "Partial Tiles"): at level l there are
floor(s / 256**(l+1)) full tiles and, when floor(s / 256**l) mod 256 = W > 0, one partial tile of
width W; entry bundles follow level 0. A partial tile holds only hashes of *complete* subtrees of
height 8*l and is never hashed into the level above. Empty tiles MUST NOT be served.

Serving rule for the web layer, with `tree_size` the size of the latest *published* checkpoint and
`avail = available_width(level, index, tree_size)`:

* full tile `<N>`: serve iff avail == 256, else 404;
* partial tile `<N>.p/<W>`: serve iff W <= avail. Its bytes depend only on (L, N, W), so it is as
  immutable as a full tile. Once the tile is full the spec lets a log delete partial tiles, but
  does not require it; we keep serving them (clients that fetched a partial tile for an older
  checkpoint may retry it, and MAY also fall back to the full tile);
* headers: tiles and bundles are `application/octet-stream` and immutable ("caching headers SHOULD
  be long-lived"); entry bundles SHOULD be compressed (gzip without negotiation is allowed);
  `checkpoint` is `text/plain; charset=utf-8` and SHOULD NOT be cached beyond a few seconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from provenance.errors import NotFound
from provenance.log.errors import VerificationError

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF
HASH_SIZE = 32
#: Tile indexes above this cannot exist in a tree of at most 2**64 leaves.
_MAX_INDEX = (1 << 64) - 1

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_GROUP = re.compile(r"[0-9]{3}")


def encode_tile_index(n: int) -> str:
    """3-digit path elements, all but the last prefixed with x: 1234067 -> x001/x234/067."""
    if n < 0:
        raise ValueError(f"negative tile index {n}")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def parse_tile_index(path: str) -> int:
    """Strict inverse of encode_tile_index: any non-canonical spelling is NotFound."""
    parts = path.split("/")
    if len(parts) > 7:
        raise NotFound(f"tile index {path!r} is too large")
    n = 0
    for i, part in enumerate(parts):
        digits = part
        if i < len(parts) - 1:
            if not part.startswith("x"):
                raise NotFound(f"{path!r} is not a tile index")
            digits = part[1:]
        if not _GROUP.fullmatch(digits):
            raise NotFound(f"{path!r} is not a tile index")
        n = n * 1000 + int(digits)
    # Round-tripping rules out leading x000 groups, which would alias another path.
    if n > _MAX_INDEX or encode_tile_index(n) != path:
        raise NotFound(f"{path!r} is not a canonical tile index")
    return n


@dataclass(frozen=True)
class TileRef:
    """A tile (level 0..63) or entry bundle (level None); width None means full (256)."""

    level: int | None
    index: int
    width: int | None = None

    def __post_init__(self) -> None:
        if self.level is not None and not 0 <= self.level <= MAX_LEVEL:
            raise ValueError(f"tile level {self.level} outside 0..{MAX_LEVEL}")
        if not 0 <= self.index <= _MAX_INDEX:
            raise ValueError(f"tile index {self.index} out of range")
        if self.width is not None and not 0 < self.width < TILE_WIDTH:
            raise ValueError(f"partial tile width {self.width} outside 1..255")

    @property
    def is_entries(self) -> bool:
        return self.level is None

    @property
    def count(self) -> int:
        """Number of hashes (or entries) the resource holds."""
        return TILE_WIDTH if self.width is None else self.width


def parse_tile_path(path: str) -> TileRef:
    """Parse the part after `<prefix>/tile/`; anything malformed or non-canonical is NotFound."""
    level_part, sep, rest = path.partition("/")
    if not sep:
        raise NotFound(f"{path!r} is not a tile path")
    level: int | None = None
    if level_part != "entries":
        if not _DECIMAL.fullmatch(level_part) or int(level_part) > MAX_LEVEL:
            raise NotFound(f"{level_part!r} is not a tile level (0..{MAX_LEVEL})")
        level = int(level_part)
    width: int | None = None
    head, dot_p, width_part = rest.rpartition(".p/")
    if dot_p:
        if not _DECIMAL.fullmatch(width_part) or not 0 < int(width_part) < TILE_WIDTH:
            raise NotFound(f"{width_part!r} is not a partial tile width (1..255)")
        width, rest = int(width_part), head
    return TileRef(level, parse_tile_index(rest), width)


def tile_path(ref: TileRef) -> str:
    """The path after `<prefix>/tile/` for a tile or entry bundle."""
    level = "entries" if ref.level is None else str(ref.level)
    suffix = "" if ref.width is None else f".p/{ref.width}"
    return f"{level}/{encode_tile_index(ref.index)}{suffix}"


def tile_node_range(level: int, index: int, width: int) -> tuple[int, int, int]:
    """(tree level, first node index, end node index) of the stored nodes a tile is made of.

    Hash i of tile N at tile level l is MTH(D[(N*256 + i) * 256**l : (N*256 + i + 1) * 256**l]),
    i.e. the complete node (8*l, N*256 + i).
    """
    first = index * TILE_WIDTH
    return TILE_HEIGHT * level, first, first + width


def available_width(level: int | None, index: int, tree_size: int) -> int:
    """Hashes (entries, for level None) tile `index` has in a tree of `tree_size`: 0..256."""
    nodes = tree_size >> (TILE_HEIGHT * (level or 0))
    return max(0, min(TILE_WIDTH, nodes - index * TILE_WIDTH))


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Concatenated big-endian uint16 length-prefixed entries; ValueError if one is too long."""
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(f"entry {i} is {len(entry)} bytes, over {MAX_ENTRY_SIZE}")
        out += len(entry).to_bytes(2, "big")
        out += entry
    return bytes(out)


def parse_entry_bundle(data: bytes, count: int | None = None) -> list[bytes]:
    """Split an entry bundle; VerificationError if truncated or (given `count`) the wrong size."""
    entries: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 2:
            raise VerificationError(f"entry bundle truncated in a length prefix at byte {pos}")
        n = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if end - pos < n:
            raise VerificationError(f"entry bundle truncated in entry {len(entries)}")
        entries.append(bytes(data[pos : pos + n]))
        pos += n
    if count is not None and len(entries) != count:
        raise VerificationError(f"entry bundle has {len(entries)} entries, want {count}")
    return entries


def tile_from_hashes(hashes: Sequence[bytes]) -> bytes:
    """A tile is its hashes concatenated; a full tile is 8,192 bytes."""
    if not 0 < len(hashes) <= TILE_WIDTH or any(len(h) != HASH_SIZE for h in hashes):
        raise ValueError("a tile is 1..256 hashes of 32 bytes")
    return b"".join(hashes)


def hashes_from_tile(data: bytes) -> list[bytes]:
    """Split a tile into its hashes; VerificationError if its length is not 1..256 hashes."""
    if not data or len(data) % HASH_SIZE or len(data) > TILE_WIDTH * HASH_SIZE:
        raise VerificationError(f"a tile of {len(data)} bytes is not 1..256 hashes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
