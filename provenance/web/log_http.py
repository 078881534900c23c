"""C2SP endpoints: checkpoint, verifier key, tiles, entry bundles, receipts, detached payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Response, current_app, request
from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.access.rules import PUBLIC, Facts, Rule, entry_reader
from provenance.errors import BadParameter, NotFound
from provenance.log import cosignatures, reader, tiles
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.recent import Recent
from provenance.web.context import service
from provenance.web.headers import public_read

bp = Blueprint("log", __name__, url_prefix="/log")

TEXT = "text/plain; charset=utf-8"
# The checkpoint moves with every append; tlog-tiles asks that it not be cached beyond seconds.
MUTABLE = "no-cache"
# Full tiles and full entry bundles never change again; hash tiles are public, so any cache may
# keep them. Entry bundles and payloads are for some readers only: a shared cache (a CDN, a
# proxy) must not keep them, since it would hand them to everyone after.
IMMUTABLE = "public, max-age=31536000, immutable"
IMMUTABLE_PRIVATE = "private, max-age=31536000, immutable"
# A partial tile is a prefix of its full tile; it is correct forever but will be superseded.
PARTIAL = "public, max-age=60"
PARTIAL_PRIVATE = "private, max-age=60"
#: Full hash tiles each process keeps (8 KiB each): they never change, so a read of a popular
#: tile needs only the checkpoint that shows it exists.
FULL_TILES_KEPT = 2048
_FULL_TILES = "provenance.full_hash_tiles"
_KEPT_NODES = "provenance.kept_tree_hashes"
MAX_INDEX = 2**62
T = TypeVar("T")


def checked_index(index: int) -> int:
    if index >= MAX_INDEX:
        raise NotFound(f"no entry at index {index}")
    return index


def min_witnesses() -> tuple[int, bool]:
    """The `witnesses` query parameter: how many witnesses must have cosigned (default 1), and
    whether the log asks that many at all (if not, no search through its cosignatures)."""
    value = request.args.get("witnesses", "1")
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 2**16):
        raise BadParameter(f"witnesses is a number of witnesses from 1, not {value!r}")
    return int(value), int(value) <= len(service().settings.witnesses)


@bp.get("/checkpoint")
@public_read
def checkpoint() -> Response:
    """The latest checkpoint, with the cosignatures gathered so far for exactly it."""
    with read_connection(service().engine) as conn:
        latest = cosignatures.cosigned(conn, reader.require_checkpoint(conn))
    return Response(
        latest.note, mimetype=None, content_type=TEXT, headers={"Cache-Control": MUTABLE}
    )


@bp.get("/checkpoint/cosigned")
@public_read
def cosigned_checkpoint() -> Response:
    """The largest checkpoint cosigned by at least `?witnesses=k` witnesses (default 1)."""
    wanted, possible = min_witnesses()
    with read_connection(service().engine) as conn:
        found = cosignatures.latest_cosigned(conn, wanted) if possible else None
    if found is None:
        raise NotFound(f"no checkpoint has been cosigned by {wanted} witness(es) yet")
    return Response(
        found.note, mimetype=None, content_type=TEXT, headers={"Cache-Control": MUTABLE}
    )


@bp.get("/key")
@public_read
def verifier_key() -> Response:
    return Response(
        service().verifier_key() + "\n",
        content_type=TEXT,
        headers={"Cache-Control": "public, max-age=3600"},
    )


@bp.get("/tile/<path:tile_path>")
@public_read
def tile(tile_path: str) -> Response:
    ref = tiles.parse_tile_path(tile_path)
    width = ref.width or tiles.TILE_WIDTH
    with read_connection(service().engine) as conn:
        latest = reader.require_checkpoint(conn)
        available = tiles.available_width(ref.level, ref.index, latest.size)
        # Serve exactly the width asked for when the tree has at least that many; a full tile
        # only once it is complete (C2SP tlog-tiles).
        if available < width or (ref.width is None and available != tiles.TILE_WIDTH):
            raise NotFound(f"tile {tile_path} is not available at tree size {latest.size}")
        if ref.level is None:
            data = reader.entry_bundle(conn, ref.index, width)
        elif ref.width is None:
            data = _full_hash_tile(conn, ref.level, ref.index)
        else:
            data = reader.hash_tile(conn, ref.level, ref.index, width)
    if ref.level is None:
        cache = IMMUTABLE_PRIVATE if ref.width is None else PARTIAL_PRIVATE
    else:
        cache = IMMUTABLE if ref.width is None else PARTIAL
    return Response(data, content_type="application/octet-stream", headers={"Cache-Control": cache})


def _app_cache(name: str, make: Callable[[], T]) -> T:
    """This app's cache by name, made by the first request that needs it."""
    kept: T | None = current_app.extensions.get(name)
    if kept is None:
        kept = current_app.extensions.setdefault(name, make())
    return kept


def _full_hash_tile(conn: Connection, level: int, index: int) -> bytes:
    kept: Recent[tuple[int, int], bytes] = _app_cache(_FULL_TILES, lambda: Recent(FULL_TILES_KEPT))
    data = kept.get((level, index))
    if data is None:
        data = reader.hash_tile(conn, level, index, tiles.TILE_WIDTH)
        kept.put((level, index), data)
    return data


@bp.get("/receipt/<int:index>")
def receipt(index: int) -> Response:
    wanted, possible = min_witnesses()
    with read_connection(service().engine) as conn:
        proof = reader.receipt(
            conn,
            checked_index(index),
            wanted if possible else None,
            _app_cache(_KEPT_NODES, reader.kept_nodes),
        )
    return Response(
        proof,
        content_type=TEXT,
        headers={
            "Cache-Control": MUTABLE,
            "Content-Disposition": f'inline; filename="entry-{index}.tlog-proof"',
        },
    )


@bp.get("/payload/<digest>")
def payload(digest: str) -> Response:
    """The bytes a detached entry names by SHA-256 (an EPCIS document as signed), served as the
    payload type its envelope was signed with."""
    try:
        key = bytes.fromhex(digest)
    except ValueError:
        raise NotFound("a payload is named by its SHA-256 in hex") from None
    with read_connection(service().engine) as conn:
        data = logdb.payload_data(conn, key)
        payload_type = logdb.payload_type(conn, key)
    if data is None:
        raise NotFound(f"no payload {digest}")
    return Response(
        data,
        mimetype=payload_type or "application/octet-stream",
        headers={"Cache-Control": IMMUTABLE_PRIVATE},
    )


def _tile_readers(who: Principal, facts: Facts) -> bool:
    # Hash tiles hold only hashes: anyone checks consistency and witnesses cosign from them.
    # Entry bundles hold entries: a reader allowed some entries of a bundle is not allowed all.
    return not str(facts.args.get("tile_path", "")).startswith("entries/") or who.regulator


def _payload_readers(who: Principal, facts: Facts) -> bool:
    try:
        digest = bytes.fromhex(str(facts.args.get("digest", "")))
    except ValueError:
        return who.authenticated  # a malformed name answers 404 to a signed-in reader
    index = logdb.entry_of_payload(facts.conn, digest)
    return facts.readers().may_read(who, index) if index is not None else who.authenticated


ACCESS: dict[str, Rule] = {
    "log.checkpoint": PUBLIC,
    "log.cosigned_checkpoint": PUBLIC,
    "log.verifier_key": PUBLIC,
    "log.tile": Rule("anyone for hash tiles; regulators for entry bundles", _tile_readers),
    "log.receipt": entry_reader(),
    "log.payload": Rule("the readers of the entry that logged it", _payload_readers),
}
