"""C2SP tlog-tiles: index encoding, paths, tile counts, tile contents and entry bundles."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provenance.errors import NotFound
from provenance.log import merkle, tiles
from provenance.log.errors import VerificationError
from provenance.log.tiles import TileRef
from tests.paths import VECTORS

VECTORS = json.loads((VECTORS / "c2sp_tiles" / "tlog_tiles_math.json").read_text())[
    "tlog_tiles_math"
]


# --- tile index -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["tile_index_path"], ids=lambda c: str(c["n"]))
def test_spec_tile_index(case: dict[str, Any]) -> None:
    assert tiles.encode_tile_index(case["n"]) == case["path"]
    assert tiles.parse_tile_index(case["path"]) == case["n"]


@pytest.mark.parametrize(
    ("n", "path"),
    [
        (0, "000"),
        (7, "007"),
        (999, "999"),
        (1000, "x001/000"),
        (1_000_000, "x001/x000/000"),
        (2**64 - 1, "x018/x446/x744/x073/x709/x551/615"),
    ],
)
def test_tile_index_encoding(n: int, path: str) -> None:
    assert tiles.encode_tile_index(n) == path
    assert tiles.parse_tile_index(path) == n


def test_tile_index_round_trip() -> None:
    for n in [*range(0, 3000), 999_999, 1_000_001, 123_456_789_012]:
        assert tiles.parse_tile_index(tiles.encode_tile_index(n)) == n


@pytest.mark.parametrize(
    "path",
    [
        "",
        "0",
        "00",
        "0000",
        "x001",
        "001/000",
        "x000/001",
        "x001/x000",
        "X001/000",
        "x001//000",
        "x001/000/",
        "/000",
        "x1/000",
        "x0001/000",
        "-01",
        "+01",
        " 01",
        "٠٠١",
        "x018/x446/x744/x073/x709/x551/616",
        "x001/x001/x001/x001/x001/x001/x001/000",
    ],
)
def test_tile_index_rejects_non_canonical(path: str) -> None:
    with pytest.raises(NotFound):
        tiles.parse_tile_index(path)


# --- tile counts (spec's worked examples) -------------------------------------------------------


def tiles_at(level: int | None, size: int) -> tuple[int, int]:
    """(full tiles, partial width) at a level, found by asking available_width tile by tile."""
    full, index = 0, 0
    while (width := tiles.available_width(level, index, size)) == tiles.TILE_WIDTH:
        full += 1
        index += 1
    return full, width


@pytest.mark.parametrize("case", VECTORS["tiles_for_tree_size"], ids=lambda c: str(c["size"]))
def test_spec_tile_counts(case: dict[str, Any]) -> None:
    size, want = case["size"], case["want"]
    for level in range(4):
        full, partial = tiles_at(level, size)
        assert full == want.get(f"L{level}_full", 0)
        assert partial == want.get(f"L{level}_partial_width", 0)
        # Spec rule: partial width = floor(s / 256**l) mod 256.
        assert partial == (size // 256**level) % 256
    assert tiles_at(None, size) == tiles_at(0, size)


def test_available_width() -> None:
    assert tiles.available_width(0, 0, 0) == 0
    assert tiles.available_width(0, 0, 1) == 1
    assert tiles.available_width(0, 0, 300) == 256
    assert tiles.available_width(0, 1, 300) == 44
    assert tiles.available_width(0, 2, 300) == 0
    assert tiles.available_width(None, 1, 300) == 44
    assert tiles.available_width(1, 0, 256) == 1
    assert tiles.available_width(1, 0, 511) == 1
    assert tiles.available_width(63, 0, 2**64 - 1) == 0


def test_tile_contents_are_the_stored_complete_nodes() -> None:
    size = 256 * 256 + 256 * 3 + 7
    data = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    frontier = merkle.Frontier()
    nodes: dict[merkle.NodeAddr, bytes] = {}
    for leaf in data:
        for level, index, h in frontier.append(leaf):
            nodes[level, index] = h
    for level in range(3):
        full, partial = tiles_at(level, size)
        for index in range(full + (partial > 0)):
            width = tiles.available_width(level, index, size)
            tree_level, first, end = tiles.tile_node_range(level, index, width)
            tile = tiles.tile_from_hashes([nodes[tree_level, i] for i in range(first, end)])
            assert len(tile) == 32 * width
            hashes = tiles.hashes_from_tile(tile)
            # Spec: hash i of tile n at level l is MTH(D[(n*256+i)*256**l : (n*256+i+1)*256**l]).
            for i in (0, width - 1):
                lo = (index * 256 + i) * 256**level
                assert hashes[i] == merkle.root_from_leaf_hashes(data[lo : lo + 256**level])


# --- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "ref"),
    [
        ("0/x001/x234/067", TileRef(0, 1234067)),
        ("1/000.p/17", TileRef(1, 0, 17)),
        ("entries/000.p/5", TileRef(None, 0, 5)),
        ("entries/x001/000", TileRef(None, 1000)),
        ("63/000", TileRef(63, 0)),
        ("2/x001/999.p/255", TileRef(2, 1999, 255)),
        ("0/000.p/1", TileRef(0, 0, 1)),
    ],
)
def test_tile_paths(path: str, ref: TileRef) -> None:
    assert tiles.parse_tile_path(path) == ref
    assert tiles.tile_path(ref) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "0",
        "0/",
        "entries",
        "entry/000",
        "data/000",
        "tile/0/000",
        "64/000",
        "01/000",
        "-1/000",
        "+1/000",
        "0x1/000",
        "1 /000",
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/017",
        "0/000.p/",
        "0/000.p",
        "0/000.p/5/6",
        "0/000.p/1.p/2",
        "0/x001.p/5",
        "0/x001.p/x234/067",
        "0/001/000",
        "entries/x000/001",
        "0/000/",
        "0/000.P/5",
    ],
)
def test_tile_path_rejections(path: str) -> None:
    with pytest.raises(NotFound):
        tiles.parse_tile_path(path)


def test_tile_ref_validation() -> None:
    for args in [(64, 0, None), (-1, 0, None), (0, -1, None), (0, 0, 0), (0, 0, 256)]:
        with pytest.raises(ValueError):
            TileRef(*args)
    assert TileRef(0, 3).count == 256
    assert TileRef(None, 3, 9).count == 9
    assert TileRef(None, 3).is_entries


def test_tile_node_range() -> None:
    assert tiles.tile_node_range(0, 0, 256) == (0, 0, 256)
    assert tiles.tile_node_range(1, 2, 17) == (8, 512, 529)
    assert tiles.tile_node_range(2, 0, 1) == (16, 0, 1)


# --- tile and bundle encoding -----------------------------------------------------------------


def test_tile_encoding() -> None:
    hashes = [bytes([i]) * 32 for i in range(256)]
    tile = tiles.tile_from_hashes(hashes)
    assert len(tile) == 8192
    assert tiles.hashes_from_tile(tile) == hashes
    for bad_hashes in ([], [b"short"], [bytes(32)] * 257):
        with pytest.raises(ValueError):
            tiles.tile_from_hashes(bad_hashes)
    for bad_tile in (b"", bytes(31), bytes(33), bytes(8192 + 32)):
        with pytest.raises(VerificationError):
            tiles.hashes_from_tile(bad_tile)


def test_entry_bundle_round_trip() -> None:
    entries = [b"", b"a", b"\x00\x01", bytes(range(256)) * 4, b"x" * tiles.MAX_ENTRY_SIZE]
    bundle = tiles.encode_entry_bundle(entries)
    assert bundle[:5] == b"\x00\x00\x00\x01a"
    assert len(bundle) == 2 * len(entries) + sum(map(len, entries))
    assert tiles.parse_entry_bundle(bundle) == entries
    assert tiles.parse_entry_bundle(bundle, count=5) == entries
    assert tiles.encode_entry_bundle([]) == b""
    assert tiles.parse_entry_bundle(b"") == []


def test_entry_bundle_rejects_oversized_entry() -> None:
    with pytest.raises(ValueError):
        tiles.encode_entry_bundle([b"ok", b"x" * (tiles.MAX_ENTRY_SIZE + 1)])


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x02a", b"\x00\x00\x00", b"\xff\xff" + bytes(10)])
def test_entry_bundle_rejects_truncation(data: bytes) -> None:
    with pytest.raises(VerificationError):
        tiles.parse_entry_bundle(data)


def test_entry_bundle_count_mismatch() -> None:
    with pytest.raises(VerificationError):
        tiles.parse_entry_bundle(tiles.encode_entry_bundle([b"a", b"b"]), count=3)
