"""Safe pages and answers: security headers, CORS only on public reads, links from PUBLIC_URL."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from provenance import demo
from provenance.demo import demo_key
from provenance.errors import BadParameter
from provenance.log.settings import DEFAULT_PUBLIC_URL, PROJECT_ROOT, checked_public_url
from provenance.reports.model import Report
from provenance.reports.render import report_html, report_stylesheet
from provenance.reports.run import parse_params
from provenance.supply import demo as demo_supply
from provenance.web.context import installed, service
from provenance.web.headers import CONTENT_SECURITY_POLICY
from tests.conftest import make_app
from tests.parties import PartyKey, demo_party, signed

PUBLIC = "https://verify.example.org"
EVIL = "evil.example"
GTIN, LOT, SERIAL = demo_supply.SHOWCASE["authentic"]
JSON = {"Accept": "application/json"}


@pytest.fixture
def supply_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """A demo supply chain served at PUBLIC, configured through the environment as `make run`
    does."""
    monkeypatch.setenv("PROVENANCE_PUBLIC_URL", PUBLIC + "/")
    app = make_app(tmp_path / "data", demo=True)
    with app.app_context():
        demo.seed(service(), installed().plugins, 0, stories=("supply",))
    yield app
    with app.app_context():
        service().engine.dispose()


class OtherHost:
    """A client whose every request names another host in its Host header."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def open(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None, **kw: Any
    ) -> TestResponse:
        headers = {"Host": EVIL, **(headers or {})}
        return self.client.open(path, method=method, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.open(path, **kw)


@pytest.fixture
def evil(supply_app: Flask) -> OtherHost:
    return OtherHost(supply_app.test_client())


@pytest.fixture
def acme(supply_app: Flask) -> PartyKey:
    """The demo batches' manufacturer: it alone (and regulators) prints their labels."""
    with supply_app.app_context():
        return PartyKey(demo_key(service().settings.data_dir, demo_supply.ACME))


# --- headers on every answer ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/scan",
        f"/01/{GTIN}/10/{LOT}/21/{SERIAL}",
        "/api/v1/log",
        "/log/checkpoint",
        "/no/such/page",
        "/static/core/provenance.css",
        f"/api/v1/batches/{GTIN}/{LOT}/qr.png",
    ],
)
def test_every_answer_carries_the_security_headers(
    evil: OtherHost, acme: PartyKey, path: str
) -> None:
    response = evil.get(path, headers=signed(acme, "GET", path) if "/batches/" in path else {})
    response.close()  # a static file's answer holds the file open
    assert response.status_code in {200, 404}
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_policy_allows_no_inline_script_nor_style() -> None:
    directives = dict(
        (part.split(" ", 1)[0], part.split(" ", 1)[1])
        for part in CONTENT_SECURITY_POLICY.split("; ")
    )
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'self'"


INLINE = re.compile(r"<style|\sstyle=|\son[a-z]+=|<script(?![^>]*\ssrc=)|javascript:", re.I)


def test_pages_carry_no_inline_script_style_or_handler(supply_app: Flask, acme: PartyKey) -> None:
    client = supply_app.test_client()
    pages = [
        "/",
        "/scan",
        f"/scan?code=(01){GTIN}(10){LOT}(21){SERIAL}",
        "/scan?code=hello",
        f"/01/{GTIN}/10/{LOT}/21/{SERIAL}",
        f"/labels/{GTIN}/{LOT}",
        "/trials",
        "/reports",
        "/reports/ledger/",
    ]
    assets: set[str] = set()
    regulator = demo_party(supply_app, "regulator")  # a reader of every page
    for path in pages:
        response = client.get(path, headers=signed(regulator, "GET", path))
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert not INLINE.search(page), (path, INLINE.search(page))
        assets.update(re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', page))
    types = set()
    for asset in sorted(assets):
        with client.get(asset) as response:
            assert response.status_code == 200, asset
            types.add(response.mimetype)
    assert {"/static/core/provenance.css", "/static/supply/scan.js"} <= assets
    assert types == {"text/css", "text/javascript"}


def test_a_written_report_embeds_its_style_and_a_served_one_links_it() -> None:
    report = Report("r", "R", parse_params({}))
    written = report_html(report, {})
    assert report_stylesheet() in written and "<link" not in written
    served = report_html(report, {}, stylesheet="/reports/report.css")
    assert '<link rel="stylesheet" href="/reports/report.css">' in served
    assert not INLINE.search(served)


# --- CORS: public reads only ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/log/checkpoint", {}),
        ("/log/key", {}),
        ("/log/tile/0/000.p/1", {}),
        ("/log/tile/0/999", {}),  # not there yet: a script may read the 404 too
        (f"/01/{GTIN}/10/{LOT}/21/{SERIAL}", JSON),
        (f"/01/{GTIN}/10/{LOT}", JSON),
        (f"/01/{GTIN}/21/{SERIAL}?10={LOT}", JSON),
        ("/01/123/10/X", JSON),  # a bad identifier's problem, to the same readers
    ],
)
def test_public_reads_allow_any_origin(evil: OtherHost, path: str, headers: dict[str, str]) -> None:
    response = evil.get(path, headers={"Origin": "https://other.example", **headers})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", f"/01/{GTIN}/10/{LOT}/21/{SERIAL}", {}),  # the HTML page
        ("POST", "/api/v1/statements", {"Content-Type": "application/json"}),
        ("OPTIONS", "/api/v1/statements", {"Access-Control-Request-Method": "POST"}),
        ("POST", "/api/v1/trials/payloads", {"Content-Type": "text/plain"}),
        ("GET", "/api/v1/trials", {}),
        ("GET", "/api/v1/log", {}),
        ("GET", "/api/v1/parties", {}),
        ("GET", "/log/receipt/1", {}),
        ("GET", f"/api/v1/batches/{GTIN}/{LOT}", {}),
        ("GET", "/reports", {}),
        ("GET", "/reports/ledger/tables/key_events.csv", {}),
        ("GET", "/", {}),
    ],
)
def test_nothing_else_allows_other_origins(
    evil: OtherHost, method: str, path: str, headers: dict[str, str]
) -> None:
    response = evil.open(
        path, method=method, data=b"{}", headers={"Origin": "https://other.example", **headers}
    )
    assert "Access-Control-Allow-Origin" not in response.headers, (path, response.status_code)


def test_the_verdict_varies_with_accept(evil: OtherHost) -> None:
    page = evil.get(f"/01/{GTIN}/10/{LOT}")
    verdict = evil.get(f"/01/{GTIN}/10/{LOT}", headers=JSON)
    assert page.mimetype == "text/html" and verdict.mimetype == "application/json"
    assert "Accept" in page.vary and "Accept" in verdict.vary


# --- links come from PUBLIC_URL, never from the Host header -----------------------------------


def decode_qr(png: bytes) -> str:
    import zxingcpp
    from PIL import Image

    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    return str(decoded.text)


def test_qr_codes_point_at_the_public_url_whatever_the_host(
    evil: OtherHost, acme: PartyKey
) -> None:
    png_path, svg_path = (f"/api/v1/batches/{GTIN}/{LOT}/qr.{kind}" for kind in ("png", "svg"))
    png = evil.get(png_path, headers=signed(acme, "GET", png_path))
    assert decode_qr(png.data) == f"{PUBLIC}/01/{GTIN}/10/{LOT}"
    svg = evil.get(svg_path, headers=signed(acme, "GET", svg_path)).get_data(as_text=True)
    assert PUBLIC in svg and EVIL not in svg


def test_labels_point_at_the_public_url_whatever_the_host(evil: OtherHost, acme: PartyKey) -> None:
    labels = f"/labels/{GTIN}/{LOT}"
    sheet = evil.get(labels, headers=signed(acme, "GET", labels)).get_data(as_text=True)
    images = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', sheet)
    uris = [
        ET.fromstring(base64.b64decode(image)).findtext("{http://www.w3.org/2000/svg}title")
        for image in images
    ]
    assert f"{PUBLIC}/01/{GTIN}/10/{LOT}/21/{SERIAL}" in uris
    assert uris and all(str(uri).startswith(PUBLIC + "/01/") for uri in uris)
    assert EVIL not in sheet


def test_verdicts_link_to_the_public_url_whatever_the_host(evil: OtherHost, acme: PartyKey) -> None:
    expected = f"{PUBLIC}/01/{GTIN}/10/{LOT}/21/{SERIAL}"
    verdict = evil.get(f"/01/{GTIN}/10/{LOT}/21/{SERIAL}", headers=JSON).get_json()
    assert verdict["digital_link"] == expected
    scanned = evil.get("/api/v1/scan", query_string={"code": f"(01){GTIN}(10){LOT}(21){SERIAL}"})
    assert scanned.get_json()["digital_link"] == expected
    batch_path = f"/api/v1/batches/{GTIN}/{LOT}"
    batch = evil.get(batch_path, headers=signed(acme, "GET", batch_path)).get_json()
    assert batch["digital_link"] == f"{PUBLIC}/01/{GTIN}/10/{LOT}"
    page = evil.get(f"/01/{GTIN}/10/{LOT}/21/{SERIAL}").get_data(as_text=True)
    assert f'href="{expected}"' in page and EVIL not in page


def test_no_code_builds_a_link_from_the_request_host() -> None:
    sources = [
        path
        for package in ("provenance", "trials")
        for path in (PROJECT_ROOT / package).rglob("*.py")
        if re.search(r"host_url|request\.host|url_root", path.read_text(encoding="utf-8"))
    ]
    assert sources == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://Verify.Example.org/", "https://verify.example.org"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_public_url_is_normalised(value: str, expected: str) -> None:
    assert checked_public_url(value) == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("ftp://example.org", "http or https"),
        ("example.org", "http or https"),
        ("https://example.org/resolver", "without a path"),
        ("https://example.org?x=1", "without a query"),
        ("https://example.org#top", "without a query or fragment"),
        ("https://user:secret@example.org", "without user or password"),
        ("https://example.org:99999", "Port out of range"),
        ("https://exa mple.org", "ASCII"),
    ],
)
def test_a_wrong_public_url_stops_the_app_at_startup(tmp_path: Path, value: str, says: str) -> None:
    with pytest.raises(BadParameter, match="PUBLIC_URL") as raised:
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "PUBLIC_URL": value})
    assert says in raised.value.detail


def test_the_default_public_url_is_the_local_server(app: Flask) -> None:
    with app.app_context():
        assert service().settings.public_url == DEFAULT_PUBLIC_URL == "http://127.0.0.1:8000"
