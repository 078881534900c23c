"""The layout in a real headless Chromium: no sideways scrolling on a phone, readable contrast,
a skip link that the keyboard reaches first."""

from __future__ import annotations

import re
from pathlib import Path

from provenance import demo
from provenance.web.context import installed, service
from tests.parties import demo_party
from tests.server import live_server, log_in

#: An iPhone 12-14 screen in CSS pixels.
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
PAGES = (
    "/",
    "/scan",
    "/trials",
    "/trials/NCT99000001",
    "/reports",
    "/login",
    "/api",
    "/no/such/page",
    "/01/09506000134352/10/L1?17=not-a-date",
)
OVERFLOW = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
COLOURS = """
const pick = (selector) => document.querySelector(selector);
const colour = (element, property) => getComputedStyle(element)[property];
return {
  nav: [colour(pick('.site-nav a'), 'color'), colour(pick('.site-header'), 'backgroundColor')],
  link: [colour(pick('main a'), 'color'), colour(document.body, 'backgroundColor')],
  text: [colour(document.body, 'color'), colour(document.body, 'backgroundColor')],
  muted: [colour(pick('.muted'), 'color'), colour(document.body, 'backgroundColor')],
};
"""


def luminance(css: str) -> float:
    red, green, blue = (int(n) / 255 for n in re.findall(r"\d+", css)[:3])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast(foreground: str, background: str) -> float:
    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_no_page_scrolls_sideways_on_a_phone(browser: object, tmp_path: Path) -> None:
    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 30, stories=("supply", "trials"))
        log_in(browser, url, app, demo_party(app, "regulator"))  # the widest pages
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)  # type: ignore[attr-defined]
        for path in PAGES:
            browser.get(url + path)  # type: ignore[attr-defined]
            scroll, client = browser.execute_script(OVERFLOW)  # type: ignore[attr-defined]
            assert client == PHONE["width"], path
            assert scroll <= client, f"{path} is {scroll}px wide on a {client}px screen"
        browser.get(url + "/")  # type: ignore[attr-defined]
        browser.save_screenshot(str(tmp_path / "front-phone.png"))  # type: ignore[attr-defined]
        assert (tmp_path / "front-phone.png").stat().st_size > 10_000


def test_contrast_and_the_skip_link(browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with live_server(tmp_path / "data") as (url, _app):
        browser.get(url + "/")  # type: ignore[attr-defined]
        for name, (foreground, background) in browser.execute_script(COLOURS).items():  # type: ignore[attr-defined]
            assert contrast(foreground, background) >= 4.5, (name, foreground, background)
        skip = browser.find_element(By.CLASS_NAME, "skip-link")  # type: ignore[attr-defined]
        assert skip.location["x"] < 0  # out of sight until the keyboard reaches it
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)  # type: ignore[attr-defined]
        focused = browser.switch_to.active_element  # type: ignore[attr-defined]
        assert focused.get_attribute("class") == "skip-link" and focused.location["x"] >= 0
        focused.send_keys(Keys.ENTER)
        assert browser.current_url.endswith("#main")  # type: ignore[attr-defined]
