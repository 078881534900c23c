"""One layout on every page: the site header with its navigation, the front page's audiences."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask

from provenance.app import create_app
from provenance.plugins import NavLink, load_plugins
from provenance.web.context import service
from provenance.web.pages import CORE_LINKS
from tests.parties import Authority, register_party, signed
from tests.paths import PROJECT

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
#: The report document is saved as a file of its own, with its stylesheet inline.
STANDALONE = {"report.html"}


def nav_labels(page: str) -> list[str]:
    nav = page.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    return [re.sub(r"<[^>]+>", "", label) for label in re.findall(r"<a [^>]*>(.*?)</a>", nav)]


def test_every_page_template_extends_the_layout() -> None:
    templates = [
        path
        for folder in ("provenance", "trials")
        for path in (PROJECT / folder).rglob("templates/*.html")
    ]
    pages = 0
    for path in templates:
        text = path.read_text()
        if text.lstrip().startswith('{% extends "_base.html" %}'):
            pages += 1
        elif path.name not in STANDALONE and path.name != "_base.html":
            # Anything else is a fragment included in a page: no document of its own.
            assert not re.search(r"<(!doctype|html|head|body|nav)\b", text, re.I), path
    assert pages >= 10


def test_the_header_has_a_skip_link_landmarks_and_the_navigation(app: Flask) -> None:
    page = app.test_client().get("/").get_data(as_text=True)
    assert page.index('class="skip-link" href="#main"') < page.index("<header")
    for landmark in ('<header class="site-header">', 'aria-label="Site"', '<main id="main"'):
        assert page.count(landmark) == 1, landmark
    assert "<footer" in page
    assert nav_labels(page) == ["Scan", "Trials", "Reports", "Log", "API docs"]
    account = page.split('<div class="account">', 1)[1].split("</div>", 1)[0]
    assert 'href="/login"' in account and "Log out" not in account


def test_every_page_has_the_layout(app: Flask) -> None:
    client = app.test_client()
    for path in ("/", "/login", "/api", "/scan", "/trials", "/reports", "/no/such/page"):
        answer = client.get(path, headers=BROWSER)
        assert answer.mimetype == "text/html", path
        page = answer.get_data(as_text=True)
        assert nav_labels(page) == ["Scan", "Trials", "Reports", "Log", "API docs"], path
        assert page.count('<main id="main"') == 1, path
    scan = client.get("/scan").get_data(as_text=True)
    assert '<a href="/scan" aria-current="page">Scan</a>' in scan
    assert 'aria-current="page">Reports' not in scan


def test_the_front_page_says_what_the_service_is_and_who_goes_where(app: Flask) -> None:
    page = app.test_client().get("/").get_data(as_text=True)
    intro = page.split('<section class="intro"', 1)[1].split("</section>", 1)[0]
    assert "transparency log" in intro and "public key" in intro
    audiences = re.findall(r'<li class="audience">\s*<h2>(.*?)</h2>(.*?)</li>\s*</ul>', intro, re.S)
    links = {title: re.findall(r'href="([^"]+)"', body) for title, body in audiences}
    assert links == {
        "Pharmacists": ["/scan"],
        "Inspectors and auditors": ["/trials", "/reports"],
        "Operators and integrators": ["/#log", "/api"],
    }
    # The log itself follows, where the navigation's "Log" points.
    assert '<section id="log"' in page and "Latest checkpoint" in page


def test_a_logged_in_party_sees_its_name_and_a_log_out_button(app: Flask) -> None:
    client = app.test_client()
    pharmacy = register_party(
        client, Authority.from_app(app), "Corner <Pharmacy>", "5412345000020", ["pharmacy"]
    )
    link = client.post(
        "/api/v1/login-links", headers=signed(pharmacy, "POST", "/api/v1/login-links")
    )
    assert link.status_code == 201
    assert client.get(urlsplit(link.get_json()["url"]).path).status_code == 303
    page = client.get("/trials").get_data(as_text=True)
    account = page.split('<div class="account">', 1)[1].split("</div>", 1)[0]
    assert "Corner &lt;Pharmacy&gt;" in account and "<Pharmacy>" not in account
    assert '<form method="post" action="/logout"><button type="submit">Log out</button>' in account
    assert 'href="/login"' not in account
    # A page that does not exist still says who is logged in.
    missing = client.get("/no/such/page", headers=BROWSER)
    assert missing.status_code == 404 and "Corner &lt;Pharmacy&gt;" in missing.get_data(
        as_text=True
    )


def test_plugins_declare_their_links_and_audiences(tmp_path: Path) -> None:
    bare = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "PLUGINS": []})
    with bare.app_context():
        service().initialise()
    page = bare.test_client().get("/").get_data(as_text=True)
    assert nav_labels(page) == [link.label for link in CORE_LINKS]
    assert "/scan" not in page and "/trials" not in page and "Pharmacists" not in page
    installed = load_plugins()
    assert all(isinstance(link, NavLink) for link in installed.nav())
    assert [link.path for link in installed.nav()] == ["/scan", "/trials"]
