"""The scan page's camera decoder (vendored ZXing) reads QR and GS1 DataMatrix images in a real
headless Chromium, which has no BarcodeDetector, and its reading verifies as a scanner's would."""

from __future__ import annotations

import base64
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provenance import demo
from provenance.gs1.qr import qr_png
from provenance.supply import demo as demo_supply
from provenance.web.context import installed, service
from tests.paths import PROJECT, VECTORS
from tests.server import live_server
from tests.web.csp import csp_violations

GS = "\x1d"
VENDOR = PROJECT / "provenance" / "supply" / "web" / "static" / "vendor"
#: tests/vectors/datamatrix/gs1-pack.png: the demo's authentic pack, made by another encoder.
DATAMATRIX_TEXT = "]d2" + "0109506000134352" + "17281130" + "10AMX2611A" + GS + "21A0000006"


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("supply",))
        yield url


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def decode(browser: Any, uri: str) -> dict[str, str] | None:
    """The page's decode function (not the camera) on an image, with the vendored decoder."""
    browser.set_script_timeout(30)
    result: dict[str, str] | None = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.ProvenanceCamera.decodeImageUrl(arguments[0], {native: false})"
        ".then(done, (err) => done({error: String(err)}));",
        uri,
    )
    return result


def scan_page(browser: Any, server: str) -> None:
    browser.get(f"{server}/scan")
    assert browser.execute_script("return typeof window.ProvenanceCamera") == "object"


def test_vendored_decoder_reads_a_gs1_datamatrix_as_scanner_data(
    browser: Any, demo_server: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    scan_page(browser, demo_server)
    # The decoder is fetched only when a page needs it, from this server.
    assert browser.execute_script("return typeof window.ZXing") == "undefined"
    found = decode(browser, data_uri((VECTORS / "datamatrix" / "gs1-pack.png").read_bytes()))
    assert found == {"text": DATAMATRIX_TEXT, "format": "data_matrix", "decoder": "zxing"}
    assert csp_violations(browser) == []
    # What the camera would submit verifies as the pack it names: GS1 element strings with GS.
    browser.execute_script(
        "document.getElementById('code').value = arguments[0];"
        "document.getElementById('scan-form').requestSubmit();",
        found["text"],
    )
    verdict = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "verdict"))
    assert verdict.get_attribute("data-verdict") == "authentic"
    assert "A0000006" in browser.find_element(By.TAG_NAME, "body").text


def test_vendored_decoder_reads_a_qr_code(browser: Any, demo_server: str) -> None:
    gtin, lot, serial = demo_supply.SHOWCASE["recalled"]
    uri = f"https://id.gs1.org/01/{gtin}/10/{lot}/21/{serial}"
    scan_page(browser, demo_server)
    found = decode(browser, data_uri(qr_png(uri, box_size=4)))
    assert found == {"text": uri, "format": "qr_code", "decoder": "zxing"}


def test_decoder_finds_nothing_in_an_image_without_a_code(browser: Any, demo_server: str) -> None:
    blank = (
        "data:image/svg+xml;base64,"
        + base64.b64encode(
            b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">'
            b'<rect width="200" height="200" fill="#eee"/></svg>'
        ).decode()
    )
    scan_page(browser, demo_server)
    assert decode(browser, blank) is None


@pytest.mark.parametrize(
    ("read", "format", "expected"),
    [
        (f"{GS}0109506000134352{GS}21A1", "data_matrix", f"]d20109506000134352{GS}21A1"),
        ("0109506000134352" + "21A1", "data_matrix", "]d2010950600013435221A1"),
        (f"{GS}0109506000134352", "qr_code", "]Q30109506000134352"),
        ("https://id.gs1.org/01/09506000134352", "qr_code", "https://id.gs1.org/01/09506000134352"),
        ("hello 42", "data_matrix", "hello 42"),
    ],
)
def test_readings_become_scanner_data(
    browser: Any, demo_server: str, read: str, format: str, expected: str
) -> None:
    scan_page(browser, demo_server)
    got = browser.execute_script(
        "return window.ProvenanceCamera.asScannerData(arguments[0], arguments[1]);", read, format
    )
    assert got == expected


def test_camera_button_shows_on_a_secure_page_and_explains_otherwise(
    browser: Any, demo_server: str
) -> None:
    from selenium.webdriver.common.by import By

    scan_page(browser, demo_server)  # http://127.0.0.1 is a secure context
    assert browser.find_element(By.ID, "camera-start").is_displayed()
    assert not browser.find_element(By.ID, "camera-unavailable").is_displayed()
    # Where getUserMedia is missing (a plain-HTTP page on another host), the page says why.
    browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": "Object.defineProperty(navigator, 'mediaDevices', {value: undefined});"},
    )
    browser.get(f"{demo_server}/scan")
    assert not browser.find_element(By.ID, "camera-start").is_displayed()
    message = browser.find_element(By.ID, "camera-unavailable")
    assert message.is_displayed() and "HTTPS" in message.text
    assert csp_violations(browser) == []


def test_vendored_decoder_carries_its_licence_and_source_and_is_packaged() -> None:
    (script,) = VENDOR.glob("zxing-library-*.min.js")
    assert (VENDOR / "zxing-library-LICENSE.txt").read_text().lstrip().startswith("Apache License")
    source = (VENDOR / "SOURCE.md").read_text()
    assert script.name in source and "@zxing/library" in source
    assert script.name in (PROJECT / "provenance/supply/web/templates/_camera.html").read_text()
    pyproject = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["provenance.supply.web"]
    package = PROJECT / "provenance" / "supply" / "web"
    packaged = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    assert {script, VENDOR / "zxing-library-LICENSE.txt"} <= packaged


#: A BarcodeDetector as Android Chrome has it, standing in for the browser's own.
STAND_IN = """
window.BarcodeDetector = class {
  static async getSupportedFormats() { return %s; }
  async detect() {
    return [{rawValue: "\\u001d0109506000134352\\u001d21A1", format: "data_matrix"}];
  }
};
"""


@pytest.mark.parametrize(
    ("formats", "decoder"),
    [('["qr_code", "data_matrix", "ean_13"]', "native"), ('["qr_code"]', "zxing")],
)
def test_browser_detector_is_used_where_it_reads_both_symbologies(
    browser: Any, demo_server: str, formats: str, decoder: str
) -> None:
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": STAND_IN % formats})
    scan_page(browser, demo_server)
    browser.set_script_timeout(30)
    found = browser.execute_async_script(
        "const [uri, done] = arguments;"
        "window.ProvenanceCamera.decodeImageUrl(uri).then(done, (e) => done({error: String(e)}));",
        data_uri((VECTORS / "datamatrix" / "gs1-pack.png").read_bytes()),
    )
    assert found["decoder"] == decoder
    if decoder == "native":
        assert found["text"] == f"]d20109506000134352{GS}21A1"
        assert browser.execute_script("return typeof window.ZXing") == "undefined"
    else:
        assert found["text"] == DATAMATRIX_TEXT
