"""Browser sessions: a one-time link from a signed request, a read-only cookie, a real log-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from provenance.access import http_signatures
from provenance.access import sessions as sessions_module
from provenance.access.sessions import COOKIE
from provenance.log.signing import generate_private_key
from provenance.web.context import service
from tests.conftest import make_app
from tests.parties import Authority, PartyKey, send, signed

PUBLIC_URL = "https://provenance.example"


@pytest.fixture
def public_app(tmp_path: Path) -> Flask:
    return make_app(tmp_path / "data", public_url=PUBLIC_URL)


def new_link(client: FlaskClient, party: PartyKey) -> str:
    answer = client.post(
        "/api/v1/login-links", headers=signed(party, "POST", "/api/v1/login-links")
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["url"].startswith(PUBLIC_URL + "/login/")
    return urlsplit(answer.get_json()["url"]).path


def logged_in_as(client: FlaskClient) -> str | None:
    page = client.get("/login").get_data(as_text=True)
    if 'id="signed-in"' not in page:
        return None
    return page.split('id="signed-in">', 1)[1].split("</p>", 1)[0]


def move_clock(monkeypatch: pytest.MonkeyPatch, *, minutes: int) -> None:
    """The sessions' clock, `minutes` ahead of the real one."""
    later = datetime.now(UTC) + timedelta(minutes=minutes)

    class Later(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return later

    monkeypatch.setattr(sessions_module, "datetime", Later)


def cookie_of(client: FlaskClient) -> str:
    found = client.get_cookie(COOKIE)
    assert found is not None
    return found.value


@pytest.fixture
def pharmacy_key(public_app: Flask) -> PartyKey:
    client = public_app.test_client()
    authority = Authority.from_app(public_app)
    party = PartyKey(generate_private_key(), "5412345000037")
    body = {"gln": party.gln, "name": "City Pharmacy", "roles": ["pharmacy"],
            "public_key": party.public_b64}  # fmt: skip
    send(client, authority, "party.register", body)
    return party


def test_a_link_logs_a_browser_in_once_and_the_cookie_is_locked_down(
    public_app: Flask, pharmacy_key: PartyKey
) -> None:
    client = public_app.test_client()
    assert client.post("/api/v1/login-links").status_code == 401  # a link needs a signature
    path = new_link(client, pharmacy_key)
    answer = client.get(path)
    assert answer.status_code == 303
    set_cookie = answer.headers["Set-Cookie"]
    for flag in ("HttpOnly", "SameSite=Strict", "Secure", "Max-Age=1800"):
        assert flag in set_cookie
    assert "City Pharmacy" in (logged_in_as(client) or "")
    # The link is spent: a second browser (or an eavesdropper on a log file) gets 410.
    other = public_app.test_client()
    assert other.get(path).status_code == 410
    assert logged_in_as(other) is None


def test_a_session_reads_but_never_writes(public_app: Flask, pharmacy_key: PartyKey) -> None:
    client = public_app.test_client()
    client.get(new_link(client, pharmacy_key))
    # Asking for a new link is a write of sorts: it needs a signed request, not the cookie.
    assert client.post("/api/v1/login-links").status_code == 401


def test_logging_out_ends_the_session_on_the_server_too(
    public_app: Flask, pharmacy_key: PartyKey
) -> None:
    client = public_app.test_client()
    client.get(new_link(client, pharmacy_key))
    copied = cookie_of(client)
    # Only this service's own pages may log a browser out.
    foreign = client.post("/logout", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    cross_site = client.post("/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    assert logged_in_as(client) is not None
    assert client.post("/logout", headers={"Origin": PUBLIC_URL}).status_code == 303
    assert logged_in_as(client) is None
    thief = public_app.test_client()
    thief.set_cookie(COOKIE, copied)
    assert logged_in_as(thief) is None  # the copied cookie died with the session


def test_a_tampered_or_old_cookie_is_nobody(
    public_app: Flask, pharmacy_key: PartyKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = public_app.test_client()
    client.get(new_link(client, pharmacy_key))
    cookie = cookie_of(client)
    forged = public_app.test_client()
    forged.set_cookie(COOKIE, cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert logged_in_as(forged) is None
    move_clock(monkeypatch, minutes=31)  # the session is over, whatever the cookie says
    assert logged_in_as(client) is None


def test_an_expired_link_is_gone(
    public_app: Flask, pharmacy_key: PartyKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = public_app.test_client()
    path = new_link(client, pharmacy_key)
    move_clock(monkeypatch, minutes=3)
    assert client.get(path).status_code == 410
    assert logged_in_as(client) is None


def test_a_suspended_persons_session_stops_at_once(
    public_app: Flask, pharmacy_key: PartyKey
) -> None:
    client = public_app.test_client()
    alice = PartyKey(generate_private_key(), pharmacy_key.gln)
    body = {"gln": pharmacy_key.gln, "person": "E-1017", "name": "Alice Martin",
            "role": "pharmacist", "public_key": alice.public_b64}  # fmt: skip
    send(client, pharmacy_key, "person.register", body)
    client.get(new_link(client, alice))
    assert "Alice Martin" in (logged_in_as(client) or "")
    suspend = {"gln": pharmacy_key.gln, "person": "E-1017", "reason": "left the company"}
    send(client, pharmacy_key, "person.suspend", suspend)
    assert logged_in_as(client) is None


def test_a_signed_request_that_writes_works_once(
    public_app: Flask, pharmacy_key: PartyKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = public_app.test_client()
    headers = signed(pharmacy_key, "POST", "/api/v1/login-links")
    assert client.post("/api/v1/login-links", headers=headers).status_code == 201
    replayed = client.post("/api/v1/login-links", headers=headers)
    assert replayed.status_code == 401
    assert "replay" in replayed.get_json()["detail"]
    # A fresh signature (a new nonce) writes again.
    assert (
        client.post(
            "/api/v1/login-links", headers=signed(pharmacy_key, "POST", "/api/v1/login-links")
        ).status_code
        == 201
    )
    # Nonces are forgotten once no signature carrying them could be accepted any more.
    move_clock(monkeypatch, minutes=11)
    assert (
        client.post(
            "/api/v1/login-links", headers=signed(pharmacy_key, "POST", "/api/v1/login-links")
        ).status_code
        == 201
    )
    with public_app.app_context(), service().engine.connect() as conn:
        remembered = conn.exec_driver_sql("SELECT count(*) FROM request_nonce").scalar()
    assert remembered == 1


def test_a_signed_request_that_writes_needs_a_nonce(
    public_app: Flask, pharmacy_key: PartyKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = public_app.test_client()
    monkeypatch.setattr(http_signatures.secrets, "token_urlsafe", lambda n=None: "")
    headers = signed(pharmacy_key, "POST", "/api/v1/login-links")
    refused = client.post("/api/v1/login-links", headers=headers)
    assert refused.status_code == 401
    assert "nonce" in refused.get_json()["detail"]
