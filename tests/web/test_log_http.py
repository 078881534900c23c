"""C2SP endpoints: checkpoint, verifier key, hash tiles, entry bundles and receipts."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from provenance import demo
from provenance.log import merkle, tiles
from provenance.log.canonical import parse_json
from provenance.log.note import open_checkpoint, parse_tlog_proof, parse_verifier_key
from provenance.web.context import installed, service
from tests.parties import PartyKey, read

SIZE = 600  # two full level-0 tiles and a partial one


@pytest.fixture
def big(demo_app: Flask) -> Flask:
    app = demo_app
    with app.app_context():
        demo.seed(service(), installed().plugins, SIZE - 7, stories=())
    return app


def regulator(app: Flask) -> PartyKey:
    """The demo regulator, who may read every entry (others read only their own)."""
    with app.app_context():
        key = demo.demo_key(service().settings.data_dir, "regulator")
    return PartyKey(key, "5412345000044")


def checkpoint(client: FlaskClient):  # type: ignore[no-untyped-def]
    vkey = client.get("/log/key").get_data(as_text=True).strip()
    response = client.get("/log/checkpoint")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    return open_checkpoint(response.get_data(as_text=True), parse_verifier_key(vkey))


def test_checkpoint_is_signed_by_the_published_key(client: FlaskClient) -> None:
    cp = checkpoint(client)
    assert cp.origin == "provenance.local/log" and cp.size == 1
    genesis = client.get("/api/v1/log/entries/0").get_json()
    assert cp.root_hash.hex() == genesis["leaf_hash"]


def test_tiles_rebuild_the_tree(big: Flask) -> None:
    client, inspector = big.test_client(), regulator(big)
    cp = checkpoint(client)
    assert cp.size == SIZE
    entries: list[bytes] = []
    leaves: list[bytes] = []
    for n in range(SIZE // 256):
        bundle = f"/log/tile/entries/{tiles.encode_tile_index(n)}"
        assert client.get(bundle).status_code == 401  # entries are not public; hashes are
        full = read(client, inspector, bundle)
        assert full.status_code == 200
        # Entries are for some readers only: no shared cache may keep them for the next one.
        assert full.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        entries += tiles.parse_entry_bundle(full.data)
        hashes = client.get(f"/log/tile/0/{tiles.encode_tile_index(n)}")
        assert hashes.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert client.get(f"/log/tile/0/{tiles.encode_tile_index(n)}").data == hashes.data
        leaves += tiles.hashes_from_tile(hashes.data)
    rest = SIZE % 256
    partial = read(client, inspector, f"/log/tile/entries/002.p/{rest}")
    assert partial.headers["Cache-Control"] == "private, max-age=60"
    assert client.get(f"/log/tile/0/002.p/{rest}").headers["Cache-Control"] == "public, max-age=60"
    entries += tiles.parse_entry_bundle(partial.data)
    leaves += tiles.hashes_from_tile(client.get(f"/log/tile/0/002.p/{rest}").data)
    assert [merkle.leaf_hash(e) for e in entries] == leaves
    assert merkle.root_from_leaf_hashes(leaves) == cp.root_hash
    assert [parse_json(e)["index"] for e in entries] == list(range(SIZE))
    # Level 1 holds the roots of full level-0 tiles: a partial tile of width 2 at this size.
    level1 = tiles.hashes_from_tile(client.get("/log/tile/1/000.p/2").data)
    assert level1 == [merkle.root_from_leaf_hashes(leaves[i * 256 : (i + 1) * 256]) for i in (0, 1)]


@pytest.mark.parametrize(
    "path",
    [
        "0/002",  # not full yet
        "0/002.p/89",  # wider than the tree
        "entries/003.p/1",  # beyond the tree
        "1/000",  # level 1 is partial
        "0/02",  # non-canonical index
        "0/000.p/0",
        "0/000.p/256",
        "64/000",
        "x/000",
    ],
)
def test_unavailable_tiles_are_404(big: Flask, path: str) -> None:
    response = read(big.test_client(), regulator(big), f"/log/tile/{path}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_partial_tile_of_a_full_tile_is_still_served(big: Flask) -> None:
    """Clients holding an older checkpoint still fetch the partial tile they need."""
    client = big.test_client()
    full = client.get("/log/tile/0/000").data
    partial = client.get("/log/tile/0/000.p/10")
    assert partial.status_code == 200 and partial.data == full[: 10 * 32]


def test_receipt_proves_inclusion_offline(big: Flask) -> None:
    client, inspector = big.test_client(), regulator(big)
    vkey = parse_verifier_key(client.get("/log/key").get_data(as_text=True).strip())
    assert client.get(f"/log/receipt/{SIZE - 1}").status_code == 401  # it carries the entry
    for index in (0, 1, 255, 256, 431, SIZE - 1):
        text = read(client, inspector, f"/log/receipt/{index}").get_data(as_text=True)
        proof = parse_tlog_proof(text)
        cp = open_checkpoint(proof.checkpoint, vkey)
        assert proof.index == index and proof.extra is not None
        merkle.verify_inclusion(
            index, cp.size, merkle.leaf_hash(proof.extra), list(proof.proof), cp.root_hash
        )
        assert parse_json(proof.extra)["index"] == index
    assert read(client, inspector, f"/log/receipt/{SIZE}").status_code == 404


def test_empty_log_has_no_checkpoint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    response = app.test_client().get("/log/checkpoint")
    assert response.status_code in (404, 503)
    assert response.mimetype == "application/problem+json"


def test_front_page_shows_checkpoint_parties_and_entries(big: Flask) -> None:
    client = big.test_client()
    page = read(client, regulator(big), "/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert client.get("/log/checkpoint").get_data(as_text=True) in html.replace("&#43;", "+")
    assert "Acme Pharmaceuticals" in html and "City Pharmacy" in html
    assert f'href="/api/v1/log/entries/{SIZE - 1}"' in html
    # Anyone sees the checkpoint and the parties, but only the entries it may read.
    public = client.get("/").get_data(as_text=True)
    assert "Acme Pharmaceuticals" in public
    assert f'href="/api/v1/log/entries/{SIZE - 1}"' not in public


@pytest.mark.parametrize(
    "path",
    [
        "/log/tile/0/x001/x234/067",
        "/log/tile/0/x000/000",
        "/log/tile/%00/000",
        "/log/tile/0/000.p/",
        "/log/tile/0/000.p/1/extra",
        "/log/tile/99999999999999999999/000",
        "/log/receipt/99999999999999999999999",
        "/log/receipt/-1",
        "/api/v1/log/entries/abc",
    ],
)
def test_odd_paths_are_404_problems(client: FlaskClient, manufacturer: PartyKey, path: str) -> None:
    response = read(client, manufacturer, path)
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


def test_entry_bundles_are_for_regulators(client: FlaskClient, manufacturer: PartyKey) -> None:
    """A bundle holds 256 entries of many parties: a party allowed some is not allowed all."""
    response = read(client, manufacturer, "/log/tile/entries/000.p/1")
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert client.get("/log/tile/0/000.p/1").status_code == 200
