"""The /reports pages in a real headless Chromium: run a report from the form, see its charts."""

from __future__ import annotations

from pathlib import Path

from provenance import demo
from provenance.web.context import installed, service
from tests.parties import demo_party
from tests.server import live_server, log_in
from tests.web.csp import csp_violations


def test_report_runs_from_the_form_and_shows_charts(browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("supply",))
        log_in(browser, url, app, demo_party(app, "regulator"))  # reports are for regulators
        browser.get(f"{url}/reports")  # type: ignore[attr-defined]
        field = browser.find_element(By.NAME, "days")  # type: ignore[attr-defined]
        field.clear()
        field.send_keys("30")
        browser.find_element(By.ID, "run-supply-chain").click()  # type: ignore[attr-defined]
        # The form's own page has an h1 too: wait for the report's page before reading it.
        WebDriverWait(browser, 60).until(  # type: ignore[arg-type]
            lambda d: "/reports/supply-chain/?" in d.current_url
        )
        heading = WebDriverWait(browser, 60).until(  # type: ignore[arg-type]
            lambda d: d.find_element(By.TAG_NAME, "h1")
        )
        assert "upply" in heading.text
        assert "/reports/supply-chain/?" in browser.current_url  # type: ignore[attr-defined]
        assert "days=30" in browser.current_url  # type: ignore[attr-defined]
        assert "N = 30 days" in browser.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
        images = browser.find_elements(By.CSS_SELECTOR, "figure img")  # type: ignore[attr-defined]
        assert images, "the report shows charts"
        for image in images:
            width = browser.execute_script(  # type: ignore[attr-defined]
                "return arguments[0].complete && arguments[0].naturalWidth", image
            )
            assert width and width > 100
        links = browser.find_elements(By.PARTIAL_LINK_TEXT, "CSV")  # type: ignore[attr-defined]
        assert links
        status = browser.execute_async_script(  # type: ignore[attr-defined]
            "const done = arguments[1]; fetch(arguments[0]).then(r => r.text().then("
            "t => done([r.status, r.headers.get('content-type'), t.split('\\n')[0]])))",
            links[0].get_attribute("href"),
        )
        assert status[0] == 200 and status[1].startswith("text/csv") and "," in status[2]
        # The report's stylesheet is linked, not inline, and applied.
        font = browser.execute_script(  # type: ignore[attr-defined]
            "return getComputedStyle(document.body).fontFamily"
        )
        assert "system-ui" in font
        assert csp_violations(browser) == []
        browser.save_screenshot(str(tmp_path / "report.png"))  # type: ignore[attr-defined]
        assert (tmp_path / "report.png").stat().st_size > 10_000
