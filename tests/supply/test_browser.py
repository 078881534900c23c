"""Supply-chain pages in a real headless Chromium driven by ChromeDriver (Debian packages)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from provenance import client, demo
from provenance.supply import demo as demo_supply
from provenance.web.context import installed, service
from tests.server import live_server
from tests.web.csp import csp_violations


@pytest.fixture
def demo_data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def demo_server(demo_data: Path) -> Iterator[str]:
    with live_server(demo_data, demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("supply",))
        yield url


def log_in(browser: object, server: str, data_dir: Path, slug: str) -> None:
    """Open a one-time login link, as `provenance login` prints it, for a demo party."""
    link = client.login_link(server, demo.demo_key(data_dir, slug))["url"]
    browser.get(server + urlsplit(link).path)  # type: ignore[attr-defined]


def _verdict(driver: object) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    element = WebDriverWait(driver, 30).until(  # type: ignore[arg-type]
        lambda d: d.find_element(By.ID, "verdict")
    )
    return str(element.get_attribute("data-verdict"))


def test_batch_page_shows_verdict_and_timeline(
    browser: object, demo_server: str, demo_data: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    gtin, lot, serial = demo_supply.SHOWCASE["authentic"]
    page = f"{demo_server}/01/{gtin}/10/{lot}/21/{serial}"
    browser.get(page)  # type: ignore[attr-defined]
    assert _verdict(browser) == "authentic"
    assert browser.find_elements(By.ID, "timeline") == []  # type: ignore[attr-defined]
    assert browser.find_element(By.ID, "public-view").is_displayed()  # type: ignore[attr-defined]
    log_in(browser, demo_server, demo_data, demo_supply.CITY)  # a pharmacy that handled it
    browser.get(page)  # type: ignore[attr-defined]
    assert _verdict(browser) == "authentic"
    assert csp_violations(browser) == []
    timeline = browser.find_element(By.ID, "timeline").text  # type: ignore[attr-defined]
    assert "Acme Pharmaceuticals" in timeline and "MedSupply Wholesale" in timeline
    assert "City Pharmacy" in timeline and "dispense" in timeline
    browser.save_screenshot(str(tmp_path / "batch.png"))  # type: ignore[attr-defined]
    assert (tmp_path / "batch.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("expected", "form"),
    [
        ("authentic", "bracketed"),
        ("recalled", "digital-link"),
        ("unknown", "bracketed"),
        ("dispensed", "scanner"),
    ],
)
def test_scan_page_takes_scanner_input(
    browser: object, demo_server: str, expected: str, form: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    gtin, lot, serial = demo_supply.SHOWCASE[expected]
    code = {
        "bracketed": f"(01){gtin}(10){lot}(21){serial}",
        "digital-link": f"https://id.gs1.org/01/{gtin}/10/{lot}/21/{serial}",
        "scanner": f"]Q1https://id.gs1.org/01/{gtin}/10/{lot}/21/{serial}",
    }[form]
    browser.get(f"{demo_server}/scan")  # type: ignore[attr-defined]
    box = browser.find_element(By.ID, "code")  # type: ignore[attr-defined]
    box.send_keys(code + Keys.ENTER)  # a keyboard-wedge scanner types, then Enter
    assert _verdict(browser) == expected
    assert lot in browser.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert csp_violations(browser) == []


def test_scan_page_explains_unreadable_input(browser: object, demo_server: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{demo_server}/scan")  # type: ignore[attr-defined]
    browser.find_element(By.ID, "code").send_keys("hello world" + Keys.ENTER)  # type: ignore[attr-defined]
    assert _verdict(browser) == "error"
    assert browser.find_element(By.ID, "scan-error").text  # type: ignore[attr-defined]
    assert csp_violations(browser) == []


def test_scan_page_script_runs_under_the_policy(browser: object, demo_server: str) -> None:
    from selenium.webdriver.common.by import By

    # The wedge loop's script (a static file) marks the verdict region only if it was allowed
    # to run.
    browser.get(f"{demo_server}/scan")  # type: ignore[attr-defined]
    region = browser.find_element(By.ID, "scan-result")  # type: ignore[attr-defined]
    assert region.get_attribute("data-scans") == "0"
    assert csp_violations(browser) == []
