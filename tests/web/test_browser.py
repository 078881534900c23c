"""The front page in a real headless Chromium (Debian `chromium`, installed by .ci/run)."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import pytest

from provenance import demo
from provenance.supply import demo as demo_supply
from provenance.web.context import installed, service
from tests.chromium import FLAGS, require
from tests.parties import demo_party
from tests.server import live_server, log_in
from tests.web.csp import CONSOLE_TO_STDERR, csp_violations, violations_in


@pytest.fixture
def chromium() -> str:
    return require("chromium")[0]


def test_front_page_renders_checkpoint_parties_and_entries(chromium: str, tmp_path: Path) -> None:
    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 20, stories=("supply",))
        checkpoint = app.test_client().get("/log/checkpoint").get_data(as_text=True)
        result = subprocess.run(
            [
                chromium,
                *FLAGS,
                *CONSOLE_TO_STDERR,
                f"--user-data-dir={tmp_path / 'profile'}",
                "--dump-dom",
                url + "/",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert violations_in(result.stderr) == []
        dom = html.unescape(result.stdout)
        size = 27 + len(demo_supply.story())
        assert f"Latest checkpoint · {size} entries" in dom
        assert checkpoint.strip() in dom
        assert "Acme Pharmaceuticals" in dom and "Riverside Clinical Site 001" in dom
        # Anonymous: the checkpoint and the parties, and none of the parties' own entries.
        assert f'href="/log/receipt/{size - 1}"' not in dom
        shot = tmp_path / "front.png"
        subprocess.run(
            [
                chromium,
                *FLAGS,
                f"--user-data-dir={tmp_path / 'profile2'}",
                "--window-size=1200,1400",
                f"--screenshot={shot}",
                url + "/",
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
        assert shot.stat().st_size > 10_000  # a rendered page, not an empty canvas


def test_trial_page_renders_protocols_submissions_and_consent(
    browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("trials",))
        browser.get(url + "/trials/NCT99000001")  # type: ignore[attr-defined]
        body = browser.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
        assert "Log in" in body and "O2: type changed" not in body  # the trial is not public
        log_in(browser, url, app, demo_party(app, "sponsor"))
        browser.get(url + "/trials/NCT99000001")  # type: ignore[attr-defined]
        assert csp_violations(browser) == []
        dom = html.unescape(browser.page_source)  # type: ignore[attr-defined]
        text = re.sub(r"<[^>]+>", "", dom)
        assert 'id="protocol-v2"' in dom and "O2: type changed from secondary to primary" in text
        assert "Toxicity grades of three events corrected" in dom
        assert "1301 enrolled, 1297 consented" in dom
        assert "Dr. John Doe (approval)" in dom


def test_pages_run_under_the_policy_and_it_stops_injected_script(
    browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("supply", "trials"))
        log_in(browser, url, app, demo_party(app, "regulator"))  # a reader of every page
        gtin, lot, _ = demo_supply.SHOWCASE["authentic"]
        for path in ("/", "/trials", "/trials/NCT99000001", "/reports", f"/labels/{gtin}/{lot}"):
            browser.get(url + path)  # type: ignore[attr-defined]
            # The shared stylesheet is applied (an inline one would have been refused).
            font = browser.execute_script(  # type: ignore[attr-defined]
                "return getComputedStyle(document.body).fontFamily"
            )
            assert "system-ui" in font, path
            assert csp_violations(browser) == [], path
        images = browser.find_elements(By.CSS_SELECTOR, ".label img")  # type: ignore[attr-defined]
        assert images and all(
            browser.execute_script("return arguments[0].naturalWidth", image) > 0  # type: ignore[attr-defined]
            for image in images
        )
        # Text the service stored that turned into a script element would not run.
        browser.execute_script(  # type: ignore[attr-defined]
            "const s = document.createElement('script');"
            "s.textContent = 'window.injected = true'; document.body.append(s);"
        )
        assert browser.execute_script("return window.injected === undefined")  # type: ignore[attr-defined]
        assert csp_violations(browser)
