"""The scan station in a real headless Chromium: a keyboard wedge's scans one after another, and
the verdict pages on a phone's screen."""

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

GS = "\x1d"
G = demo_supply.AMOXICILLIN
CHAIN, RECALLED, EXPIRED = demo_supply.CHAIN_LOT, demo_supply.RECALLED_LOT, demo_supply.EXPIRED_LOT
A = demo_supply.CHAIN_SERIALS  # A[0], A[1] dispensed; A[2:6] at City Pharmacy; A[9] stolen
ENTER, TAB = "\ue007", "\ue004"  # WebDriver's key codes

#: Ten scans as wedges type them, each form once, and the verdict each must give.
WEDGE_SCANS = [
    ("GS element string", f"01{G}17281130" + f"10{CHAIN}{GS}21{A[2]}", "authentic"),
    ("]d2 scanner data", f"]d201{G}21{A[3]}{GS}10{CHAIN}{GS}17281130", "authentic"),
    ("Digital Link", f"https://id.gs1.org/01/{G}/10/{CHAIN}/21/{A[4]}", "authentic"),
    ("bracketed", f"(01){G}(17)281130(10){CHAIN}(21){A[5]}", "authentic"),
    ("GS-less, ambiguous", f"01{G}17281130" + f"10{CHAIN}21{A[5]}", "authentic"),
    ("EAN-13", G[1:], "product-known"),
    ("unknown serial", f"]d201{G}10{CHAIN}{GS}21{demo_supply.FORGED_SERIAL}", "unknown"),
    ("recalled", f"https://id.gs1.org/01/{G}/10/{RECALLED}/21/R0000001", "recalled"),
    ("expired", f"]Q301{G}17250131" + f"10{EXPIRED}{GS}21E0000001", "expired"),
    ("dispensed", f"01{G}21{A[0]}{GS}10{CHAIN}", "dispensed"),
    ("stolen", f"(01){G}(10){CHAIN}(21){A[9]}", "suspect"),
]


@pytest.fixture
def station(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "data"
    with live_server(data, demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("supply",))
        yield url, data


def _log_in(browser: object, url: str, data: Path, slug: str) -> None:
    link = client.login_link(url, demo.demo_key(data, slug))["url"]
    browser.get(url + urlsplit(link).path)  # type: ignore[attr-defined]


def _wedge(browser: object, code: str, end: str = ENTER) -> None:
    """Type into whatever has the focus, as a wedge does: characters, GS as Ctrl+], then
    Enter (or the suffix `end`, such as Tab)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    typing = ActionChains(browser)  # type: ignore[arg-type]
    for i, part in enumerate(code.split(GS)):
        if i:
            typing.key_down(Keys.CONTROL).send_keys("]").key_up(Keys.CONTROL)
        typing.send_keys(part)
    typing.send_keys(end).perform()


def _shown(browser: object, count: int) -> dict[str, object]:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(  # type: ignore[arg-type]
        lambda b: (
            b.execute_script("return document.getElementById('scan-result').dataset.scans")
            == str(count)
        )
    )
    state: dict[str, object] = browser.execute_script(  # type: ignore[attr-defined]
        "const v = document.getElementById('verdict');"
        "return {verdict: v && v.dataset.verdict, box: document.getElementById('code').value,"
        " focused: document.activeElement.id, text: document.getElementById('scan-result')"
        ".innerText, live: document.getElementById('scan-result').getAttribute('aria-live'),"
        " ref: v && v.dataset.alertReference}"
    )
    return state


def test_a_wedge_scans_pack_after_pack_without_touching_the_box(
    browser: object, station: tuple[str, Path]
) -> None:
    url, data = station
    _log_in(browser, url, data, demo_supply.CITY)
    browser.get(url + "/scan")  # type: ignore[attr-defined]
    assert browser.execute_script("return document.activeElement.id") == "code"  # type: ignore[attr-defined]
    references = set()
    for count, (form, code, expected) in enumerate(WEDGE_SCANS, start=1):
        _wedge(browser, code, TAB if form == "stolen" else ENTER)  # some wedges end with Tab
        state = _shown(browser, count)
        assert state["verdict"] == expected, (form, state["text"])
        assert state["box"] == "" and state["focused"] == "code", form
        assert state["live"] == "polite"
        text = str(state["text"])
        if expected in ("authentic", "product-known"):
            assert state["ref"] is None and "Alert reference" not in text, form
        else:
            assert str(state["ref"]).startswith("ALR-") and state["ref"] in text, form
            references.add(state["ref"])
        if expected == "unknown":
            # City Pharmacy's signed scan of this serial raised an alert the log holds.
            assert "Open alert in the log on this pack: #" in text
        if expected == "authentic":
            assert "OK to dispense" in text and "expires in" in text and "30 Nov 2028" in text
        # The GS a wedge types (Ctrl+]) reaches the server: only the GS-less scan needed a
        # correction, which names the reading the log knows.
        corrected = "Scan corrected: missing GS separator assumed after (10) " + CHAIN
        assert (corrected in text) == (form == "GS-less, ambiguous"), (form, text)
    assert len(references) == 5  # each suspect scan its own reference
    # Two packs scanned faster than the answers come: both are read, the last one's stays.
    _wedge(browser, WEDGE_SCANS[7][1])
    _wedge(browser, WEDGE_SCANS[2][1])
    state = _shown(browser, len(WEDGE_SCANS) + 2)
    assert (state["verdict"], state["box"], state["focused"]) == ("authentic", "", "code")
    assert csp_violations(browser) == []


def test_each_verdict_says_what_to_do(browser: object, station: tuple[str, Path]) -> None:
    url, _ = station
    browser.get(url + "/scan")  # type: ignore[attr-defined]
    expected = {
        4: ("Scan corrected", "OK to dispense"),
        5: ("Product only: scan the 2D code to verify the pack",),
        6: ("Do not dispense", "quarantine"),
        7: ("Do not dispense", "recall"),
        8: ("Expired", "expired", "31 Jan 2025"),
        9: ("Already dispensed: do not dispense again",),
    }
    for count, index in enumerate(sorted(expected), start=1):
        _wedge(browser, WEDGE_SCANS[index][1])
        text = str(_shown(browser, count)["text"])
        for phrase in expected[index]:
            assert phrase in text, (WEDGE_SCANS[index][0], phrase, text)
    # The icon has a name for screen readers, the box a label.
    assert browser.execute_script(  # type: ignore[attr-defined]
        "return document.querySelector('#verdict [role=img]').getAttribute('aria-label')"
    )
    assert (
        browser.execute_script(  # type: ignore[attr-defined]
            "return document.getElementById('code').labels[0].textContent"
        )
        == "Scanned code"
    )


def _phone(browser: object) -> None:
    browser.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True},
    )


def _overflow(browser: object) -> tuple[int, int]:
    sizes: list[int] = browser.execute_script(  # type: ignore[attr-defined]
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    return sizes[0], sizes[1]


@pytest.mark.parametrize("reader", [None, demo_supply.CITY])
def test_no_page_scrolls_sideways_on_a_phone(
    browser: object, station: tuple[str, Path], reader: str | None, tmp_path: Path
) -> None:
    url, data = station
    if reader is not None:
        _log_in(browser, url, data, reader)  # the full view: timelines and alerts
    _phone(browser)
    gtin, lot, serial = demo_supply.SHOWCASE["authentic"]
    pages = {
        "scan": f"/scan?code=(01){gtin}(10){lot}(21){demo_supply.FORGED_SERIAL}",
        "pack": f"/01/{gtin}/10/{lot}/21/{serial}",
        "stolen": f"/01/{gtin}/10/{lot}/21/{demo_supply.SHOWCASE['suspect'][2]}",
        "batch": f"/01/{gtin}/10/{lot}",
        "product": f"/01/{gtin}",
        "expired": f"/01/{gtin}/10/{EXPIRED}",
    }
    for name, path in pages.items():
        browser.get(url + path)  # type: ignore[attr-defined]
        width, inner = _overflow(browser)
        assert inner == 390, name
        assert width <= inner, (name, width)
        if name == "expired":
            state = browser.find_element("id", "batch-state").text  # type: ignore[attr-defined]
            assert state == "expired"  # recorded as active, but past its date
        if name == "pack" and reader is not None:
            own = browser.find_element("id", "pack-history").text  # type: ignore[attr-defined]
            whole = browser.find_element("id", "timeline").text  # type: ignore[attr-defined]
            assert "commission" in own and "stolen" not in own  # another serial's theft
            assert "stolen" in whole and "Whole batch" in browser.page_source  # type: ignore[attr-defined]
    if reader is not None:
        # A reason names the party that dispensed the pack by its name, its GLN in the title.
        dispensed = demo_supply.SHOWCASE["dispensed"][2]
        browser.get(f"{url}/01/{gtin}/10/{lot}/21/{dispensed}")  # type: ignore[attr-defined]
        reasons = browser.find_element("css selector", "#verdict .reasons")  # type: ignore[attr-defined]
        city = demo_supply.GLNS[demo_supply.CITY]
        assert "City Pharmacy" in reasons.text and city not in reasons.text
        named = reasons.find_element("css selector", ".party")
        assert named.get_attribute("title") == f"GLN {city}"
    # The scan box and its button are thumb-sized.
    browser.get(url + "/scan")  # type: ignore[attr-defined]
    heights = browser.execute_script(  # type: ignore[attr-defined]
        "return ['code', 'scan-form'].map(id => document.getElementById(id))"
        ".map(e => e.querySelector ? (e.id === 'code' ? e : e.querySelector('button')) : e)"
        ".map(e => e.getBoundingClientRect().height)"
    )
    assert min(heights) >= 44  # WCAG 2.5.5 target size, in CSS pixels
    _wedge(browser, WEDGE_SCANS[6][1])
    assert _shown(browser, 1)["verdict"] == "unknown"
    assert _overflow(browser)[0] <= 390
    browser.save_screenshot(str(tmp_path / "phone.png"))  # type: ignore[attr-defined]
    assert (tmp_path / "phone.png").stat().st_size > 10_000
