"""A pharmacist and an inspector log in with a real browser and see what their role allows."""

from __future__ import annotations

from pathlib import Path

from provenance import demo
from provenance.supply import demo as demo_supply
from provenance.web.context import installed, service
from tests.parties import demo_party
from tests.server import live_server, log_in
from tests.web.csp import csp_violations

TRIAL = "/trials/NCT99000001"


def text_of(browser: object, url: str) -> str:
    from selenium.webdriver.common.by import By

    browser.get(url)  # type: ignore[attr-defined]
    return str(browser.find_element(By.TAG_NAME, "body").text)  # type: ignore[attr-defined]


def test_a_pharmacist_and_an_inspector_see_what_their_roles_allow(
    browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import WebDriverWait

    chain, bulk = demo_supply.CHAIN_LOT, demo_supply.BULK_LOT
    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("supply", "trials"))
        anonymous = text_of(browser, url + "/")
        assert chain not in anonymous and "Log in" in text_of(browser, url + "/reports")

        log_in(browser, url, app, demo_party(app, "citypharmacy"))
        front = text_of(browser, url + "/")
        assert chain in front  # it received packs of this batch
        assert bulk not in front  # the bulk lot went to the wholesaler only
        assert "Regulators run every report" in text_of(browser, url + "/reports")
        assert not browser.find_elements(By.ID, "run-supply-chain")  # type: ignore[attr-defined]
        assert "Not allowed" in text_of(browser, url + "/reports/supply-chain/")
        assert "Not allowed" in text_of(browser, url + TRIAL)
        assert "City Pharmacy" in text_of(browser, url + "/login")
        button = browser.find_element(By.CSS_SELECTOR, "form[action='/logout'] button")  # type: ignore[attr-defined]
        button.click()
        WebDriverWait(browser, 10).until(staleness_of(button))  # the log-out answer has loaded
        assert chain not in text_of(browser, url + "/")  # logged out

        log_in(browser, url, app, demo_party(app, "regulator"))
        front = text_of(browser, url + "/")
        assert chain in front and bulk in front  # an inspector reads the whole chain
        reports = text_of(browser, url + "/reports")
        assert "Not allowed" not in reports and "Regulators run every report" not in reports
        assert browser.find_elements(By.ID, "run-supply-chain")  # type: ignore[attr-defined]
        assert "O2: type changed" in text_of(browser, url + TRIAL)
        assert csp_violations(browser) == []
