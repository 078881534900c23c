"""A linear barcode names a product, not a pack: the scan page, the scan API and `provenance scan`
answer for the product, record nothing and never call it a possible counterfeit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from provenance import demo
from provenance.cli import main
from provenance.supply import demo as supply_demo
from provenance.web.context import installed, service
from tests.parties import demo_party, read
from tests.server import live_server
from tests.supply.chain import GTIN, Chain, commission_serialised

KNOWN = ("9506000134352", "]E09506000134352", "]I109506000134352", "09506000134352")
UNREGISTERED = ("5901234123457", "]E05901234123457", "036000291452", "]E496385074")
GS = "\x1d"


@pytest.mark.parametrize("code", KNOWN)
def test_the_scan_api_answers_for_a_registered_product(chain: Chain, code: str) -> None:
    commission_serialised(chain)
    answer = chain.client.get("/api/v1/scan", query_string={"code": code}).get_json()
    assert (answer["verdict"], answer["gtin"], answer["lot"]) == ("product-known", GTIN, None)
    assert answer["title"] == "Product known: scan the 2D code to check the pack"
    assert answer["product"]["name"] == "Amoxicillin"
    assert answer["scan"]["element_string"] == f"(01){GTIN}"


@pytest.mark.parametrize("code", UNREGISTERED)
def test_an_unregistered_gtin_is_an_unknown_product(chain: Chain, code: str) -> None:
    answer = chain.client.get("/api/v1/scan", query_string={"code": code}).get_json()
    assert answer["verdict"] == "product-unknown" and answer["product"] is None
    assert "counterfeit" not in json.dumps(answer).lower()


def test_the_scan_page_shows_the_product_answer(chain: Chain) -> None:
    page = chain.client.get("/scan", query_string={"code": "]E09506000134352\r\n"})
    assert b'data-verdict="product-known"' in page.data and b"Amoxicillin" in page.data
    page = chain.client.get("/scan", query_string={"code": "5901234123457"})
    assert b'data-verdict="product-unknown"' in page.data and b"counterfeit" not in page.data
    assert chain.alerts(chain.regulator) == []


def test_a_pack_scan_with_a_doubled_separator_is_read(chain: Chain) -> None:
    serials = commission_serialised(chain)
    code = f"]d201{GTIN}10LOT-A1{GS}{GS}21{serials[0]}"
    answer = chain.client.get("/api/v1/scan", query_string={"code": code}).get_json()
    assert (answer["verdict"], answer["serial"]) == ("authentic", serials[0])
    assert answer["scan_warnings"] == ["ignored doubled GS separator"]


def test_the_scan_command_answers_for_the_product_and_records_nothing(tmp_path: Path) -> None:
    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("supply",))
        city = demo_party(app, supply_demo.CITY)
        key = str(tmp_path / "data" / "demo" / "citypharmacy.pem")
        size = app.test_client().get("/api/v1/log").get_json()["size"]
        alerts = read(app.test_client(), city, "/api/v1/alerts").get_json()["alerts"]
        for code, title in (
            ("9506000134352", "Product known: scan the 2D code to check the pack"),
            ("]I109506000134352", "Product known: scan the 2D code to check the pack"),
            ("]E05901234123457", "Unknown product: this GTIN is not registered in this log"),
        ):
            scanned = CliRunner().invoke(main, ["scan", code, "--key", key, "--url", url])
            assert scanned.exit_code == 0, scanned.output
            assert scanned.output.splitlines()[0] == title
            assert "counterfeit" not in scanned.output
        assert app.test_client().get("/api/v1/log").get_json()["size"] == size
        assert read(app.test_client(), city, "/api/v1/alerts").get_json()["alerts"] == alerts
