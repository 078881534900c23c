"""Logging a browser in and out: a one-time link from a signed request, then a short session."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request
from werkzeug.wrappers import Response as Redirect

from provenance.access.errors import Forbidden
from provenance.access.rules import PUBLIC, SIGNED_IN, Rule
from provenance.access.sessions import COOKIE, SESSION_LIFETIME, Sessions
from provenance.access.web import SESSIONS, current_principal
from provenance.errors import Gone
from provenance.web.api import json_response
from provenance.web.context import service
from provenance.web.openapi import openapi
from provenance.web.openapi_schemas import content

bp = Blueprint("login", __name__, template_folder="templates")

SIGNED_REQUEST = Rule(
    "a registered party, by a signed request",
    lambda who, facts: who.authenticated and who.via == "signature",
)


def _sessions() -> Sessions:
    found: Sessions = current_app.extensions[SESSIONS]
    return found


#: What POST /api/v1/login-links answers.
LOGIN_LINK = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "expires_at": {"type": "string"},
        "as": {"type": "string"},
    },
    "required": ["url", "expires_at", "as"],
}


@bp.post("/api/v1/login-links")
@openapi(responses={201: {"description": "A one-time login link", "content": content(LOGIN_LINK)}})
def new_link() -> Response:
    """A one-time link that logs a browser in as the requester (for two minutes)."""
    who = current_principal()
    assert who.key_id is not None  # the route's rule admits signed requests only
    nonce, expires = _sessions().new_link(who.key_id)
    url = f"{service().settings.public_url}/login/{nonce}"
    return json_response({"url": url, "expires_at": expires, "as": who.describe()}, 201)


@bp.get("/login/<nonce>")
def redeem(nonce: str) -> Redirect:
    cookie = _sessions().redeem(nonce)
    if cookie is None:
        raise Gone("this login link was used already, has expired, or never existed")
    response = redirect("/", code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="Strict",
        secure=service().settings.public_url.startswith("https:"),
    )
    return response


@bp.get("/login")
def how_to_log_in() -> str:
    public_url = service().settings.public_url
    return render_template("login.html", who=current_principal(), public_url=public_url)


@bp.post("/logout")
@openapi(
    responses={303: {"description": "Logged out; on to the front page"}},
    security=["session", "httpSignature"],
)
def logout() -> Redirect:
    # The cookie is SameSite=Strict, and the form must come from this service's own pages:
    # browsers say so in Sec-Fetch-Site (our no-referrer policy makes their Origin "null").
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        same = fetch_site == "same-origin"
    else:
        same = _origin(request.headers.get("Origin")) == _origin(service().settings.public_url)
    if not same:
        raise Forbidden("log out from this service's own page")
    _sessions().end(request.cookies.get(COOKIE, ""))
    response = redirect("/", code=303)
    response.delete_cookie(COOKIE)
    return response


def _origin(url: str | None) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}".lower()


ACCESS: dict[str, Rule] = {
    "login.new_link": SIGNED_REQUEST,
    "login.redeem": PUBLIC,
    "login.how_to_log_in": PUBLIC,
    "login.logout": SIGNED_IN,
}
