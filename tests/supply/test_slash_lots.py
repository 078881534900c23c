"""A lot and a serial holding "/" (GS1 character set 82) through every route: QR codes, label
sheets, the batch's JSON, the resolver, the scan API and the `provenance scan` command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from provenance import demo
from provenance.cli import main
from provenance.supply import demo as supply_demo
from provenance.web.context import installed, service
from tests.audit.test_bundles import verified
from tests.parties import demo_party, read, send
from tests.server import live_server
from tests.supply.chain import FUTURE, GTIN, JSON, Chain

LOT, SERIALS = "A/B-1", ["S/1", "S2"]
ENCODED = "A%2FB-1"
GS = "\x1d"


@pytest.fixture
def slashed(chain: Chain) -> Chain:
    chain.send(
        chain.maker,
        "batch.commission",
        {"gtin": GTIN, "lot": LOT, "expiry": FUTURE, "serials": SERIALS},
    )
    return chain


def decode(png: bytes) -> str:
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    return str(found.text)


def test_the_qr_code_carries_the_lot_percent_encoded_and_resolves(slashed: Chain) -> None:
    png = read(slashed.client, slashed.maker, f"/api/v1/batches/{GTIN}/{ENCODED}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    uri = decode(png.data)
    assert uri == f"http://127.0.0.1:8000/01/{GTIN}/10/{ENCODED}"
    resolved = slashed.client.get(uri.removeprefix("http://127.0.0.1:8000"), headers=JSON)
    assert resolved.get_json()["lot"] == LOT and resolved.get_json()["batch"] is not None
    svg = read(slashed.client, slashed.maker, f"/api/v1/batches/{GTIN}/{ENCODED}/qr.svg")
    assert svg.status_code == 200 and f"/10/{ENCODED}".encode() in svg.data


def test_the_label_sheet_prints_one_label_a_serial(slashed: Chain) -> None:
    for path in (
        f"/labels/{GTIN}/{ENCODED}",
        f"/labels/{GTIN}/{ENCODED}/",
        f"/labels/{GTIN}/{LOT}",
    ):
        sheet = read(slashed.client, slashed.maker, path)
        assert sheet.status_code == 200, path
        assert sheet.data.count(b'class="label"') == 2 and b"(10) A/B-1" in sheet.data
        assert b"(21) S/1" in sheet.data


def test_the_batch_json_reads_the_lot_either_way(slashed: Chain) -> None:
    for path in (
        f"/api/v1/batches/{GTIN}/{ENCODED}",
        f"/api/v1/batches/{GTIN}/{LOT}",
        f"/api/v1/batches/{GTIN}/{ENCODED}/",
    ):
        answer = read(slashed.client, slashed.maker, path)
        assert answer.status_code == 200, path
        assert answer.get_json()["lot"] == LOT and answer.get_json()["batch"]["commissioned"] == 2
    # The access rule reads the same lot as the route: the batch's stranger is refused.
    stranger = read(slashed.client, slashed.other_pharmacy, f"/api/v1/batches/{GTIN}/{ENCODED}")
    assert stranger.status_code == 403


def test_a_lot_ending_like_a_route_is_not_misread(slashed: Chain) -> None:
    # "X/qr.png" sent as one segment is a lot, not the QR route of lot "X".
    answer = read(slashed.client, slashed.maker, f"/api/v1/batches/{GTIN}/X%2Fqr.png/qr.png")
    assert answer.status_code == 404 and "X/qr.png" in answer.get_json()["detail"]


def test_the_resolver_and_the_scan_api_read_the_lot_and_serial(slashed: Chain) -> None:
    pack = f"/01/{GTIN}/10/{ENCODED}/21/S%2F1"
    for path in (pack, pack + "/", f"/01/{GTIN}/21/S%2F1", f"/gtin/{GTIN}/lot/{ENCODED}/ser/S%2F1"):
        answer = slashed.client.get(path, headers=JSON).get_json()
        assert (answer["verdict"], answer["lot"], answer["serial"]) == ("authentic", LOT, "S/1")
        assert answer["digital_link"].endswith(pack)
    for code in (
        f"]d201{GTIN}17{FUTURE}10{LOT}{GS}21S/1",
        f"(01){GTIN}(17){FUTURE}(10){LOT}(21)S/1",
        f"https://id.example{pack}?17={FUTURE}",
    ):
        answer = slashed.client.get("/api/v1/scan", query_string={"code": code}).get_json()
        assert (answer["verdict"], answer["lot"], answer["serial"]) == ("authentic", LOT, "S/1")
    page = slashed.client.get(pack, headers={"Accept": "text/html"})
    assert f'href="http://127.0.0.1:8000{pack}"'.encode() in page.data


def test_the_front_page_links_the_lot_percent_encoded(slashed: Chain) -> None:
    page = read(slashed.client, slashed.maker, "/").get_data(as_text=True)
    assert f'href="/01/{GTIN}/10/{ENCODED}"' in page and f'href="/labels/{GTIN}/{ENCODED}"' in page


def test_the_scan_command_round_trips_a_slashed_lot(tmp_path: Path) -> None:
    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("supply",))
        acme = demo_party(app, supply_demo.ACME)
        send(
            app.test_client(),
            acme,
            "batch.commission",
            {"gtin": GTIN, "lot": LOT, "expiry": FUTURE, "serials": SERIALS},
        )
        key = tmp_path / "data" / "demo" / "acme.pem"
        for code in (f"]d201{GTIN}17{FUTURE}10{LOT}{GS}21S/1", f"]d201{GTIN}10{LOT}"):
            scanned = CliRunner().invoke(main, ["scan", code, "--key", str(key), "--url", url])
            assert scanned.exit_code == 0, scanned.output
            assert scanned.output.splitlines()[-1] == "Authentic", scanned.output
        alerts = read(app.test_client(), acme, "/api/v1/alerts").get_json()["alerts"]
        assert [a for a in alerts if a["lot"] == LOT] == []


def test_the_proof_bundles_of_a_slashed_lot_and_serial(slashed: Chain) -> None:
    page = slashed.client.get(f"/01/{GTIN}/10/{ENCODED}/21/S%2F1", headers={"Accept": "text/html"})
    link = f"/api/v1/bundles/pack/{GTIN}/{ENCODED}/S%2F1"
    assert f'href="{link}"'.encode() in page.data
    for path in (link, f"/api/v1/bundles/batch/{GTIN}/{ENCODED}"):
        answer = read(slashed.client, slashed.regulator, path)
        assert answer.status_code == 200, answer.get_json()
        found = verified(slashed.client.application, answer.data)
        subjects = [e for e in found.entries if e.role == "subject"]
        assert any(e.kind == "batch.commission" for e in subjects)
    # The lot "A/B-1" is not the lot "A" with a serial "B-1".
    missing = read(slashed.client, slashed.regulator, f"/api/v1/bundles/pack/{GTIN}/A/B-1/S%2F1")
    assert missing.status_code == 404
