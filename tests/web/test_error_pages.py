"""Errors as pages for people (a browser preferring HTML) and as problem+json for everyone else."""

from __future__ import annotations

import json

import pytest
from flask import Flask

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#: Accept headers of clients that get problem+json: none, fetch(), curl, JSON first, HTML last.
CLIENTS = (
    None,
    "*/*",
    "application/json",
    "application/problem+json",
    "application/json, text/html",
    "text/html;q=0.5, application/json",
    "text/*",
)
WRONG = (
    # (path, status): an unknown path, a mistyped Digital Link, API and log paths, a refusal
    ("/no/such/page", 404),
    ("/01/0950600013435x/10/L1", 400),
    ("/api/v1/no-such-thing", 404),
    ("/log/tile/x", 404),
    ("/epcis/events", 401),
)


@pytest.mark.parametrize(("path", "status"), WRONG)
def test_a_browser_gets_a_page_in_the_layout(app: Flask, path: str, status: int) -> None:
    client = app.test_client()
    problem = client.get(path).get_json()
    answer = client.get(path, headers={"Accept": BROWSER})
    assert answer.status_code == status and answer.mimetype == "text/html"
    assert "Accept" in answer.vary
    page = answer.get_data(as_text=True)
    assert f"<h1>{problem['title']}</h1>" in page
    assert f'data-status="{status}">' in page and f"HTTP {status}" in page
    assert '<a href="/">Go to the front page</a>' in page
    assert '<nav class="site-nav"' in page and '<main id="main"' in page
    assert ("Log in</a> to see what your party may see" in page) == (status == 401)


@pytest.mark.parametrize("accept", CLIENTS)
@pytest.mark.parametrize(("path", "status"), WRONG)
def test_other_clients_get_problem_json_as_before(
    app: Flask, path: str, status: int, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    answer = app.test_client().get(path, headers=headers)
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    problem = json.loads(answer.get_data())
    assert problem["status"] == status and problem["instance"] == path
    assert problem["type"].startswith("tag:provenance.local,2026:problem/")
    assert {"title", "detail"} <= set(problem)


def test_what_the_request_said_is_escaped_on_the_page(app: Flask) -> None:
    # A mistyped expiry date in a Digital Link: the problem quotes the value it could not read.
    path = "/01/09506000134352/10/L1?17=%3Cscript%3Ea(1)%3C/script%3E"
    client = app.test_client()
    detail = client.get(path).get_json()["detail"]
    assert "'<script>a(1)</script>'" in detail
    page = client.get(path, headers={"Accept": BROWSER}).get_data(as_text=True)
    assert "<script>a(1)" not in page
    assert "&#39;&lt;script&gt;a(1)&lt;/script&gt;&#39;" in page


def test_a_method_not_allowed_page_keeps_its_allow_header(app: Flask) -> None:
    answer = app.test_client().delete("/log/checkpoint", headers={"Accept": BROWSER})
    assert answer.status_code == 405 and answer.mimetype == "text/html"
    assert "GET" in answer.headers["Allow"]
