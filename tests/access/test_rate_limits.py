"""Request rate limits: per party wherever it signs from, per client network when anonymous."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from provenance.access import rate_limits
from provenance.access.rate_limits import RateLimits, TokenBuckets, client_network
from provenance.errors import BadParameter
from provenance.web.context import service
from tests.parties import Authority, attestation, read, register_party

ADDRESS_LIMIT = 5
PARTY_LIMIT = 8


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_minute_in_a_burst_then_one_per_refill() -> None:
    clock = Clock()
    buckets = TokenBuckets(60, clock)
    assert [buckets.take("a") for _ in range(60)] == [0.0] * 60
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0.0  # another key has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    clock.now += 3600  # an idle hour refills to one minute's worth, not more
    assert [buckets.take("a") for _ in range(61)].count(0.0) == 60


def test_buckets_stay_bounded_under_a_flood_of_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limits, "MAX_BUCKETS", 100)
    clock = Clock()
    buckets = TokenBuckets(10, clock)
    for _ in range(10):
        buckets.take("busy")  # spent: its bucket must survive the flood
    for i in range(1000):
        buckets.take(f"flood-{i}")
        clock.now += 0.001
    assert len(buckets._buckets) <= 100
    assert buckets.take("busy") > 0


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        (None, "unknown"),
    ],
)
def test_anonymous_requests_count_by_client_network(address: str | None, network: str) -> None:
    assert client_network(address) == network


def test_zero_turns_a_limit_off_and_a_bad_setting_stops_the_start(tmp_path: Path) -> None:
    limits = RateLimits.per_minute(0, 1)
    for _ in range(100):
        limits.check("0614141000012", "192.0.2.1")
    limits.check(None, "192.0.2.1")
    with pytest.raises(Exception, match="rate-limited|requests a minute"):
        limits.check(None, "192.0.2.1")
    with pytest.raises(BadParameter, match="RATE_LIMIT_ADDRESS"):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "RATE_LIMIT_ADDRESS": "many"})


def _limited_app(data_dir: Path, **config: object) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(data_dir),
            "RATE_LIMIT_ADDRESS": ADDRESS_LIMIT,
            "RATE_LIMIT_PARTY": PARTY_LIMIT,
            **config,
        }
    )
    with app.app_context():
        service().initialise()
    try:
        yield app
    finally:
        with app.app_context():
            service().close()


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Flask]:
    yield from _limited_app(tmp_path / "data")


def _from(address: str) -> dict[str, object]:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _size(client: FlaskClient) -> int:
    return int(client.get("/api/v1/log", **_from("198.51.100.99")).get_json()["size"])


def test_anonymous_requests_past_the_limit_get_429_with_retry_after(limited: Flask) -> None:
    client = limited.test_client()
    for _ in range(ADDRESS_LIMIT):
        assert client.get("/log/checkpoint", **_from("192.0.2.1")).status_code == 200
    refused = client.get("/log/checkpoint", **_from("192.0.2.1"))
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    problem = refused.get_json()
    assert problem["type"].endswith("/rate-limited")
    assert problem["limit_per_minute"] == ADDRESS_LIMIT
    assert int(refused.headers["Retry-After"]) == problem["retry_after"] >= 1
    # Another client's reads are untouched, and static files are never counted.
    assert client.get("/log/checkpoint", **_from("192.0.2.2")).status_code == 200
    with client.get("/static/core/provenance.css", **_from("192.0.2.1")) as static:
        assert static.status_code == 200


def test_a_refused_write_writes_nothing(limited: Flask) -> None:
    client = limited.test_client()
    authority = Authority.from_app(limited)
    party = register_party(
        client, authority, "Acme", "0614141000012", ["manufacturer"]
    )  # from the test client's own address, 127.0.0.1
    before = _size(client)
    for _ in range(ADDRESS_LIMIT):
        client.get("/log/checkpoint", **_from("192.0.2.3"))
    refused = client.post("/api/v1/statements", json=attestation(party), **_from("192.0.2.3"))
    assert refused.status_code == 429
    assert _size(client) == before


def test_a_party_is_limited_wherever_it_signs_from(limited: Flask) -> None:
    client = limited.test_client()
    authority = Authority.from_app(limited)
    party = register_party(client, authority, "Acme", "0614141000012", ["manufacturer"])
    other = register_party(client, authority, "Beta", "0614141000029", ["wholesaler"])
    # The party's signed requests, from ever new addresses, share one budget.
    statuses = [
        read(client, party, "/api/v1/alerts", **_from(f"192.0.2.{i}")).status_code
        for i in range(10, 10 + PARTY_LIMIT + 1)
    ]
    assert statuses[:PARTY_LIMIT] == [200] * PARTY_LIMIT
    assert statuses[PARTY_LIMIT] == 429
    # Another party, and anonymous use of the same address, keep their own.
    assert read(client, other, "/api/v1/alerts", **_from("192.0.2.10")).status_code == 200
    assert client.get("/log/checkpoint", **_from("192.0.2.10")).status_code == 200


def test_bad_signatures_cost_their_sender(limited: Flask) -> None:
    client = limited.test_client()
    headers = {
        "Signature-Input": 'sig1=("@method");created=1;keyid="x"',
        "Signature": "sig1=:AA==:",
    }
    statuses = [
        client.get("/api/v1/alerts", headers=headers, **_from("192.0.2.5")).status_code
        for _ in range(ADDRESS_LIMIT + 1)
    ]
    assert statuses == [401] * ADDRESS_LIMIT + [429]


def test_forwarded_addresses_count_only_behind_a_configured_proxy(tmp_path: Path) -> None:
    spoofed = [{"X-Forwarded-For": f"203.0.113.{i}"} for i in range(ADDRESS_LIMIT + 1)]
    for hops, last in ((0, 429), (1, 200)):
        for app in _limited_app(tmp_path / f"hops{hops}", PROXY_HOPS=hops):
            client = app.test_client()
            statuses = [
                client.get("/log/checkpoint", headers=h, **_from("192.0.2.9")).status_code
                for h in spoofed
            ]
            # Without a proxy the header is the client's own claim and changes nothing; behind
            # one, each forwarded client has its own budget.
            assert statuses == [200] * ADDRESS_LIMIT + [last]
