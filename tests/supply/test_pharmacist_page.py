"""A pharmacist, logged in on the scan page, dispenses, records, locks or decommissions a pack
with a statement signed in the browser by the pharmacy's own key file (headless Chromium)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask

from provenance import client, demo
from provenance.log.canonical import parse_json
from provenance.log.signing import (
    generate_private_key,
    key_id,
    parse_envelope,
    private_key_pem,
    public_key_der,
    verify_envelope,
)
from provenance.log.statements import parse_statement
from provenance.supply import demo as demo_supply
from provenance.web.context import installed, service
from tests.server import live_server
from tests.web.csp import csp_violations

CITY_GLN = demo_supply.GLNS[demo_supply.CITY]


@dataclass
class Demo:
    url: str
    data: Path
    #: Every request the server received: its target, headers and body.
    traffic: list[bytes] = field(default_factory=list)

    def key_file(self, slug: str) -> Path:
        demo.demo_key(self.data, slug)  # made on first use, as the demo seed does
        return self.data / "demo" / f"{slug}.pem"

    def read(self, path: str, slug: str = demo_supply.CITY) -> Any:
        """GET `path` as a demo party (a signed request, as the CLI makes)."""
        key = demo.demo_key(self.data, slug)
        return json.loads(client.http_request(self.url + path, key=key)[1])

    def pack(self, gtin: str, lot: str, serial: str) -> dict[str, Any]:
        return dict(self.read(f"/api/v1/scan?code={quote(f'(01){gtin}(10){lot}(21){serial}')}"))

    def size(self) -> int:
        return int(json.loads(client.http_request(f"{self.url}/api/v1/log")[1])["size"])


def record_traffic(app: Flask, traffic: list[bytes]) -> None:
    inner = app.wsgi_app

    def recorded(environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        head = [environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")]
        head += [f"{k}: {v}" for k, v in environ.items() if k.startswith("HTTP_")]
        traffic.append("\n".join(head).encode() + b"\n" + body)
        return inner(environ, start_response)

    app.wsgi_app = recorded  # type: ignore[method-assign]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Demo]:
    data = tmp_path / "data"
    with live_server(data, demo=True) as (url, app):
        with app.app_context():
            demo.seed(service(), installed().plugins, 0, stories=("supply",))
        found = Demo(url, data)
        record_traffic(app, found.traffic)
        yield found


def log_in(browser: Any, site: Demo, slug: str) -> None:
    link = client.login_link(site.url, demo.demo_key(site.data, slug))["url"]
    browser.get(site.url + urlsplit(link).path)


def open_scan(browser: Any, site: Demo, case: str) -> tuple[str, str, str]:
    gtin, lot, serial = demo_supply.SHOWCASE[case]
    browser.get(f"{site.url}/scan?code={quote(f'(01){gtin}(10){lot}(21){serial}')}")
    return gtin, lot, serial


def scan_at_station(browser: Any, case: str) -> tuple[str, str, str]:
    """Scan a pack as a keyboard-wedge scanner does: its verdict is shown in place."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    gtin, lot, serial = demo_supply.SHOWCASE[case]
    region = browser.find_element(By.ID, "scan-result")
    count = int(region.get_attribute("data-scans"))
    browser.find_element(By.ID, "code").send_keys(f"(01){gtin}(10){lot}(21){serial}" + Keys.ENTER)
    WebDriverWait(browser, 30).until(lambda d: int(region.get_attribute("data-scans")) > count)
    return gtin, lot, serial


def load_key(browser: Any, path: Path) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element(By.ID, "key-file").send_keys(str(path))
    status = browser.find_element(By.ID, "key-status")
    WebDriverWait(browser, 30).until(lambda d: status.get_attribute("data-outcome"))
    return str(status.text)


def click(browser: Any, action: str) -> tuple[str, str, str | None]:
    """Click an action; (outcome "ok" or "error", the message, the logged entry's index)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    output = browser.find_element(By.ID, "pharmacist-result")
    browser.execute_script("arguments[0].removeAttribute('data-outcome')", output)
    browser.find_element(By.CSS_SELECTOR, f"button[data-action='{action}']").click()
    WebDriverWait(browser, 30).until(
        lambda d: output.get_attribute("data-outcome") in ("ok", "error")
    )
    return (
        str(output.get_attribute("data-outcome")),
        str(output.text),
        output.get_attribute("data-index"),
    )


def logged_statement(site: Demo, index: int, slug: str) -> dict[str, Any]:
    """The entry's statement, its envelope checked against the demo party's public key."""
    answer = site.read(f"/api/v1/log/entries/{index}", slug)
    entry = parse_json(base64.b64decode(answer["entry_b64"]))
    envelope = parse_envelope(entry["envelope"])
    der = public_key_der(demo.demo_key(site.data, slug))
    verify_envelope(envelope, der)  # signed by that party's key, and nobody else's
    statement = parse_statement(envelope.payload).to_json()
    assert statement["signer"] == key_id(der)
    return statement


def test_pharmacist_dispenses_a_pack_with_a_key_that_stays_in_the_browser(
    browser: Any, site: Demo
) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, site, demo_supply.CITY)
    browser.get(f"{site.url}/scan")
    gtin, lot, serial = scan_at_station(browser, "authentic")  # held by City Pharmacy
    assert "in your stock" in browser.find_element(By.ID, "pharmacist-stock").text
    assert "never sent to the server" in browser.find_element(By.ID, "key-stays").text
    dispense = browser.find_element(By.CSS_SELECTOR, "button[data-action='dispense']")
    assert not dispense.is_enabled()  # nothing is signed before a key is chosen
    assert "the key you logged in with" in load_key(browser, site.key_file(demo_supply.CITY))
    before = site.size()

    outcome, message, index = click(browser, "dispense")

    assert outcome == "ok", message
    assert index is not None and int(index) == before
    assert f"custody.dispense signed and logged at entry {index}" in message
    receipt = browser.find_element(By.CSS_SELECTOR, "#pharmacist-result a")
    assert urlsplit(receipt.get_attribute("href")).path == f"/log/receipt/{index}"
    statement = logged_statement(site, int(index), demo_supply.CITY)
    assert statement["kind"] == "custody.dispense"
    assert statement["body"] == {"gtin": gtin, "lot": lot, "serials": [serial]}
    origin = json.loads(client.http_request(f"{site.url}/api/v1/log")[1])["origin"]
    assert statement["log"] == origin
    pack = site.pack(gtin, lot, serial)
    assert pack["verdict"] == "dispensed"
    assert pack["pack"]["state"] == "supplied" and pack["pack"]["state_by"] == CITY_GLN
    # The page now refuses to act on the pack again until it is scanned anew.
    assert not dispense.is_enabled()
    # The station goes on to the next pack with the key still loaded in the page.
    scan_at_station(browser, "suspect")
    assert "loaded in this page" in browser.find_element(By.ID, "key-status").text
    outcome, message, index = click(browser, "scan")
    assert outcome == "ok", message
    assert index is not None
    assert logged_statement(site, int(index), demo_supply.CITY)["kind"] == "scan.record"
    assert csp_violations(browser) == []
    # Nothing the page sent carries the private key, in any encoding.
    scalar = demo.demo_key(site.data, demo_supply.CITY).private_numbers().private_value
    secret = scalar.to_bytes(32, "big")
    pem_body = "".join(site.key_file(demo_supply.CITY).read_text().splitlines()[1:-1])
    forms = [secret, secret.hex().encode(), base64.b64encode(secret).rstrip(b"=")]
    forms += [base64.urlsafe_b64encode(secret).rstrip(b"="), pem_body[20:60].encode()]
    sent = b"".join(site.traffic)
    assert b"/api/v1/statements" in sent
    assert not [form for form in forms if form in sent]


def test_a_second_dispense_of_the_same_pack_is_refused(browser: Any, site: Demo) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, site, demo_supply.CITY)
    key = site.key_file(demo_supply.CITY)
    # Two tabs show the pack in stock; it is dispensed in the first.
    first = browser.current_window_handle
    gtin, lot, serial = open_scan(browser, site, "authentic")
    load_key(browser, key)
    browser.switch_to.new_window("tab")
    open_scan(browser, site, "authentic")
    load_key(browser, key)
    second = browser.current_window_handle
    browser.switch_to.window(first)
    assert click(browser, "dispense")[0] == "ok"
    size = site.size()

    browser.switch_to.window(second)
    outcome, message, index = click(browser, "dispense")

    assert outcome == "error" and index is None
    assert "Dispense refused, nothing was signed" in message
    assert f"already dispensed, by GLN {CITY_GLN}" in message
    assert site.size() == size  # nothing logged: no duplicate-serial alert either
    # A fresh scan of it shows no actions, only why.
    open_scan(browser, site, "authentic")
    assert browser.find_elements(By.CSS_SELECTOR, "button[data-action='dispense']") == []
    assert "supplied" in browser.find_element(By.ID, "pharmacist-stock").text
    assert site.pack(gtin, lot, serial)["pack"]["state"] == "supplied"


def test_pharmacist_records_a_scan_and_locks_a_suspect_pack(browser: Any, site: Demo) -> None:
    log_in(browser, site, demo_supply.CITY)
    gtin, lot, serial = open_scan(browser, site, "authentic")
    load_key(browser, site.key_file(demo_supply.CITY))

    outcome, message, index = click(browser, "scan")
    assert outcome == "ok", message
    assert index is not None
    statement = logged_statement(site, int(index), demo_supply.CITY)
    assert statement["kind"] == "scan.record"
    assert statement["body"] == {"gtin": gtin, "lot": lot, "serial": serial}

    outcome, message, index = click(browser, "suspect")
    assert outcome == "ok", message
    assert index is not None
    statement = logged_statement(site, int(index), demo_supply.CITY)
    assert statement["kind"] == "pack.state"
    assert statement["body"] == {"gtin": gtin, "lot": lot, "serials": [serial], "state": "locked"}
    assert site.pack(gtin, lot, serial)["pack"]["state"] == "locked"


def test_decommissioning_needs_a_reason_then_destroys_the_pack(browser: Any, site: Demo) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, site, demo_supply.CITY)
    gtin, lot, serial = open_scan(browser, site, "authentic")
    load_key(browser, site.key_file(demo_supply.CITY))
    size = site.size()
    outcome, message, _ = click(browser, "destroy")
    assert outcome == "error" and "give a reason" in message
    assert site.size() == size

    browser.find_element(By.ID, "destroy-reason").send_keys("crushed in transit <b>")
    outcome, message, index = click(browser, "destroy")
    assert outcome == "ok", message
    assert index is not None
    statement = logged_statement(site, int(index), demo_supply.CITY)
    assert statement["kind"] == "custody.destroy"
    assert statement["body"]["reason"] == "crushed in transit <b>"
    assert site.pack(gtin, lot, serial)["pack"]["state"] == "destroyed"


def test_a_statement_the_log_refuses_is_explained(browser: Any, site: Demo, tmp_path: Path) -> None:
    log_in(browser, site, demo_supply.CITY)
    open_scan(browser, site, "authentic")
    stranger = tmp_path / "stranger.pem"  # a key no party registered
    stranger.write_bytes(private_key_pem(generate_private_key()))
    assert "not the key you logged in with" in load_key(browser, stranger)
    size = site.size()
    outcome, message, index = click(browser, "dispense")
    assert outcome == "error" and index is None
    assert message.startswith("Dispense refused by the log: ")
    assert "key" in message.lower()
    assert site.size() == size


def test_only_a_logged_in_pharmacy_sees_the_actions(browser: Any, site: Demo) -> None:
    from selenium.webdriver.common.by import By

    open_scan(browser, site, "authentic")  # anonymous: a way to log in
    assert browser.find_elements(By.ID, "pharmacist") == []
    login = browser.find_element(By.CSS_SELECTOR, "#pharmacist-login a")
    assert urlsplit(login.get_attribute("href")).path == "/login"
    log_in(browser, site, demo_supply.MEDSUPPLY)  # a wholesaler: nothing at all
    open_scan(browser, site, "authentic")
    assert browser.find_elements(By.ID, "pharmacist") == []
    assert browser.find_elements(By.ID, "pharmacist-login") == []
    # The statements' endpoint takes no cookie-authenticated write: a session alone is refused.
    answer = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/v1/statements', {method: 'POST', headers: {'Content-Type': "
        "'application/json'}, body: '{}'}).then((r) => done(r.status));"
    )
    assert answer in (400, 422)


def test_pharmacist_opens_a_key_file_protected_by_a_passphrase(
    browser: Any, site: Demo, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    passphrase = "twelve or more characters"
    protected = tmp_path / "citypharmacy.pem"  # as `provenance keygen --passphrase` writes it
    protected.write_bytes(
        private_key_pem(demo.demo_key(site.data, demo_supply.CITY), passphrase.encode())
    )
    log_in(browser, site, demo_supply.CITY)
    open_scan(browser, site, "authentic")
    assert "protected by a passphrase" in load_key(browser, protected)
    field = browser.find_element(By.ID, "key-passphrase")
    status = browser.find_element(By.ID, "key-status")
    for typed, outcome in (("not it at all", "error"), (passphrase, "ok")):
        browser.execute_script("arguments[0].removeAttribute('data-outcome')", status)
        field.send_keys(typed)
        browser.find_element(By.ID, "key-open").click()
        WebDriverWait(browser, 30).until(lambda d: status.get_attribute("data-outcome"))
        assert status.get_attribute("data-outcome") == outcome, status.text
        if outcome == "error":
            assert "the passphrase does not open this key file" in status.text
            field = browser.find_element(By.ID, "key-passphrase")
    assert not browser.find_element(By.ID, "passphrase-row").is_displayed()
    outcome, message, index = click(browser, "scan")
    assert outcome == "ok", message
    assert index is not None
    assert logged_statement(site, int(index), demo_supply.CITY)["kind"] == "scan.record"
    assert passphrase.encode() not in b"".join(site.traffic)
