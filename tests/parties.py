"""Test parties that sign on their side, as real clients do."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient

from provenance.access.http_signatures import sign_request
from provenance.log import keystore
from provenance.log.settings import DEFAULT_ORIGIN
from provenance.log.signing import generate_private_key, key_id, public_key_der, sign_envelope
from provenance.log.statements import make_statement
from provenance.web.context import installed, service

#: The origin of every test log (the default).
ORIGIN = DEFAULT_ORIGIN


@dataclass
class PartyKey:
    key: ec.EllipticCurvePrivateKey
    gln: str = ""

    @property
    def der(self) -> bytes:
        return public_key_der(self.key)

    @property
    def key_id(self) -> str:
        return key_id(self.der)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.der).decode()

    def envelope(
        self,
        kind: str,
        body: dict[str, Any],
        issued_at: str | None = None,
        *,
        log: str | None = ORIGIN,
    ) -> dict[str, Any]:
        """A statement signed for the test log (`log`: another origin, or None for no log)."""
        statement = make_statement(kind, body, self.key_id, issued_at, log=log)
        return sign_envelope(self.key, statement.payload()).to_json()


class Authority(PartyKey):
    @classmethod
    def from_app(cls, app: Flask) -> Authority:
        with app.app_context():
            return cls(keystore.load_authority_key(service().settings.keys))


def signed(party: PartyKey, method: str, url: str, body: bytes = b"") -> dict[str, str]:
    """RFC 9421 headers that authenticate a request as `party` (as the CLI and client do)."""
    target = urlsplit(url)
    return sign_request(
        party.key, method=method, path=target.path or "/", query=target.query, body=body
    )


def read(client: FlaskClient, party: PartyKey | None, url: str, **options: Any) -> Any:
    """GET `url` as `party` (a signed request), or anonymously when `party` is None."""
    headers = dict(options.pop("headers", {}))
    query = options.pop("query_string", None)
    if query:  # the query is part of what a request signature covers
        url += ("&" if "?" in url else "?") + (
            query if isinstance(query, str) else urlencode(query)
        )
    if party is not None:
        headers.update(signed(party, "GET", url))
    return client.get(url, headers=headers, **options)


@dataclass
class Reader:
    """A test client whose every GET is signed as one party (a regulator, say)."""

    client: FlaskClient
    party: PartyKey

    def get(self, url: str, **options: Any) -> Any:
        return read(self.client, self.party, url, **options)


def demo_party(app: Flask, slug: str) -> PartyKey:
    """A demo party of a seeded demo log, with its key from the demo folder."""
    from provenance.demo import demo_key, parties

    with app.app_context():
        party = next(p for p in parties(installed().plugins) if p.slug == slug)
        return PartyKey(demo_key(service().settings.data_dir, slug), party.gln)


def post(client: FlaskClient, envelope: Any) -> Any:
    return client.post("/api/v1/statements", json=envelope)


def send(
    client: FlaskClient, party: PartyKey, kind: str, body: dict[str, Any], status: int = 201
) -> Any:
    """Sign and submit a statement, expecting `status`; the JSON answer (or problem)."""
    response = post(client, party.envelope(kind, body))
    assert response.status_code == status, response.get_json()
    return response.get_json()


def register_party(
    client: FlaskClient, authority: Authority, name: str, gln: str, roles: list[str]
) -> PartyKey:
    party = PartyKey(generate_private_key(), gln)
    body = {"gln": gln, "name": name, "roles": roles, "public_key": party.public_b64}
    response = post(client, authority.envelope("party.register", body))
    assert response.status_code == 201, response.get_json()
    return party


def register_person(
    client: FlaskClient, party: PartyKey, person: str, name: str, role: str
) -> PartyKey:
    """A person the party registers to act for it (their key made on their side); statements
    they sign are theirs, under the party's GLN."""
    key = PartyKey(generate_private_key(), party.gln)
    body = {"gln": party.gln, "person": person, "name": name, "role": role,
            "public_key": key.public_b64}  # fmt: skip
    send(client, party, "person.register", body)
    return key


def assign_prefix(client: FlaskClient, authority: Authority, gln: str, prefix: str) -> None:
    """The authority assigns a GS1 company prefix; under rules 2 a product needs its holder."""
    send(client, authority, "prefix.assign", {"gln": gln, "prefix": prefix})


def attestation(party: PartyKey, subject: str = "batch/1", **claim: Any) -> dict[str, Any]:
    return party.envelope("attestation", {"subject": subject, "claim": claim or {"ok": True}})
