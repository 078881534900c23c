"""A report page printed from Chromium keeps every row: print media shows all of them (no scroll
box, no navigation, headers repeated), and Page.printToPDF makes as many pages as they need."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from provenance import demo
from provenance.web.context import installed, service
from tests.parties import demo_party
from tests.server import live_server, log_in

TRIAL = "NCT99000001"

#: For each report table: its row count, the rows laid out with a size, and whether any box
#: around it clips (scrolls or hides) part of it.
_ROWS = """
return [...document.querySelectorAll('table[data-rows]')].map(t => {
  const rows = [...t.tBodies[0].rows];
  const shown = rows.filter(r => r.getClientRects().length && r.offsetHeight > 0).length;
  let clipped = false;
  for (let box = t.parentElement; box; box = box.parentElement) {
    const s = getComputedStyle(box);
    if (box.scrollHeight > box.clientHeight + 1 && s.overflowY !== 'visible') clipped = true;
  }
  return [t.closest('.table').id, +t.dataset.rows, rows.length, shown, clipped,
          getComputedStyle(t.tHead).display];
});
"""


def _rows(browser: object) -> list[list[object]]:
    return browser.execute_script(_ROWS)  # type: ignore[attr-defined,no-any-return]


def _printed_rows(browser: object) -> int:
    """Table rows in Chromium's print of the page: its PDF is tagged, one /TR per row drawn
    (rows a scroll box clips are not drawn, so not tagged)."""
    answer = browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})  # type: ignore[attr-defined]
    data = base64.b64decode(answer["data"])
    assert data.startswith(b"%PDF-")
    return len(re.findall(rb"/S\s*/TR\b", data))


def test_chromium_prints_every_row_of_a_report(browser: object, tmp_path: Path) -> None:
    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("trials",))
        log_in(browser, url, app, demo_party(app, "regulator"))

        # Chromium's own print to PDF of the trial checks (R6 lists 20 subjects, more than a
        # scroll box shows): every row of every table, and each table's header row.
        browser.get(f"{url}/reports/trial-checks/?trial={TRIAL}")  # type: ignore[attr-defined]
        tables = _rows(browser)
        expected = sum(count + 1 for _, count, *_ in tables)  # rows and a header row each
        assert any(count > 14 for _, count, *_ in tables)
        assert _printed_rows(browser) == expected
        # The count sees clipping: a scroll box in print drops rows from the PDF.
        browser.execute_script(  # type: ignore[attr-defined]
            "document.querySelectorAll('.scroll').forEach(e => e.style.cssText = "
            "'max-height: 5rem !important; overflow: auto !important')"
        )
        assert _printed_rows(browser) < expected


def test_print_media_lays_out_every_row_of_the_biggest_report(
    browser: object, tmp_path: Path
) -> None:
    """The demo's biggest report (over 7,000 rows) in print media: every row laid out, nothing
    clipped, headers repeated, navigation and download links left out."""
    from selenium.webdriver.common.by import By

    with live_server(tmp_path / "data", demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("trials",))
        log_in(browser, url, app, demo_party(app, "regulator"))
        browser.get(f"{url}/reports/monitoring/?trial={TRIAL}")  # type: ignore[attr-defined]
        browser.find_element(By.ID, "table-monitoring_date_records")  # type: ignore[attr-defined]
        screen = {row[0]: row for row in _rows(browser)}
        assert screen["table-monitoring_date_records"][4] is True  # on screen it scrolls
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})  # type: ignore[attr-defined]
        printed = _rows(browser)
        assert len(printed) >= 9
        for name, count, rows, shown, clipped, head in printed:
            assert rows == count and shown == count, name
            assert not clipped, name
            assert head == "table-header-group", name
        assert sum(row[1] for row in printed) > 7000
        hidden = browser.execute_script(  # type: ignore[attr-defined]
            "return [...document.querySelectorAll('nav, .downloads')]"
            ".every(e => getComputedStyle(e).display === 'none')"
        )
        assert hidden
