"""EPCIS 2.0 REST binding named queries and webhook subscriptions: each party's own, run as
/epcis/events runs, delivered outside any request, signed, and never to a private address."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from provenance.log.store.engine import is_sqlite
from provenance.log.store.schema import check_schema
from provenance.supply import webhooks
from provenance.supply.epcis_delivery import PassReport, deliver_due
from provenance.supply.query_schedule import parse_schedule
from provenance.supply.tables import KEYS, SERVICE_TABLES
from provenance.supply.webhooks import DeliveryFailed, Policy
from provenance.web.context import service
from tests.backends import app_on_each_backend  # noqa: F401  (the `app` fixture)
from tests.parties import PartyKey, read, signed
from tests.supply.test_epcis_capture import (
    SERIALS,
    capture,
    commissioning,
    document,
    epc,
    events,
    parties,
    shipping,
)

__all__ = ["parties"]  # the fixture, shared with the capture tests

TOKEN = "13df38d8275b13f05704629e5f1cf3d45d6132d5"


def post(client: FlaskClient, party: PartyKey | None, url: str, body: Any) -> Any:
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if party is not None:
        headers.update(signed(party, "POST", url, data))
    return client.post(url, data=data, headers=headers)


def delete(client: FlaskClient, party: PartyKey, url: str) -> Any:
    return client.delete(url, headers=signed(party, "DELETE", url))


def event_list(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    return found


def next_link(response: Any) -> str:
    link = response.headers.get("Link", "")
    assert not link or link.endswith('rel="next"')
    return str(link.split(">")[0].lstrip("<")) if link else ""


def inspecting(serials: list[str]) -> dict[str, Any]:
    """An event that moves no custody: stored and queryable."""
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-11-02T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc(s) for s in serials],
        "action": "OBSERVE",
        "bizStep": "inspecting",
    }


def captured(client: FlaskClient, maker: PartyKey) -> None:
    doc = document(commissioning(SERIALS), shipping(SERIALS[:2]), inspecting(SERIALS[:1]))
    stored(capture(client, maker, doc))


def stored(response: Any) -> None:
    """A capture that went in (201, or the binding's 202 for a capture job)."""
    assert response.status_code in (201, 202), response.get_json()


# --- named queries ----------------------------------------------------------------------------


def test_a_named_query_is_made_read_run_and_deleted(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker = parties["maker"]
    captured(client, maker)
    definition = {"name": "shipped", "query": {"EQ_bizStep": "shipping"}}
    made = post(client, maker, "/epcis/queries", definition)
    assert made.status_code == 201, made.get_json()
    assert made.headers["Location"] == "/epcis/queries/shipped"
    got = read(client, maker, "/epcis/queries/shipped")
    assert got.status_code == 200
    assert {k: got.get_json()[k] for k in ("name", "query")} == definition
    assert got.headers["Cache-Control"] == "private, no-store"
    listed = read(client, maker, "/epcis/queries").get_json()
    assert [q["name"] for q in listed] == ["shipped"]
    answered = event_list(read(client, maker, "/epcis/queries/shipped/events"))
    assert [e["bizStep"] for e in answered] == ["shipping"]
    assert answered == events(client, maker, EQ_bizStep="shipping")
    assert delete(client, maker, "/epcis/queries/shipped").status_code == 204
    assert read(client, maker, "/epcis/queries/shipped").status_code == 404
    assert read(client, maker, "/epcis/queries/shipped/events").status_code == 404
    assert delete(client, maker, "/epcis/queries/shipped").status_code == 404
    assert read(client, maker, "/epcis/queries").get_json() == []


def test_array_values_are_alternatives_as_repeated_parameters(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker = parties["maker"]
    captured(client, maker)
    both = [epc(SERIALS[0]), epc(SERIALS[4])]
    body = {"name": "two-packs", "query": {"MATCH_epc": both}}
    assert post(client, maker, "/epcis/queries", body).status_code == 201
    answered = event_list(read(client, maker, "/epcis/queries/two-packs/events"))
    assert answered == events(client, maker, MATCH_epc=",".join(both))
    assert [e["bizStep"] for e in answered] == ["commissioning", "shipping", "inspecting"]


def test_names_are_each_partys_own(client: FlaskClient, parties: dict[str, PartyKey]) -> None:
    maker, wholesaler, regulator = parties["maker"], parties["wholesaler"], parties["regulator"]
    captured(client, maker)
    body = {"name": "mine", "query": {"EQ_bizStep": "receiving"}}
    assert post(client, maker, "/epcis/queries", body).status_code == 201
    again = post(client, maker, "/epcis/queries", body)
    assert again.status_code == 409
    assert again.get_json()["type"].endswith("/conflict")
    # Another party may use the name, and sees neither the maker's query nor its events.
    for other in (wholesaler, regulator):
        assert read(client, other, "/epcis/queries/mine").status_code == 404
        assert read(client, other, "/epcis/queries/mine/events").status_code == 404
        assert delete(client, other, "/epcis/queries/mine").status_code == 404
        assert read(client, other, "/epcis/queries").get_json() == []
    assert post(client, regulator, "/epcis/queries", body).status_code == 201
    assert [q["name"] for q in read(client, regulator, "/epcis/queries").get_json()] == ["mine"]
    assert read(client, maker, "/epcis/queries/mine").status_code == 200  # still the maker's
    assert read(client, None, "/epcis/queries").status_code == 401
    assert post(client, None, "/epcis/queries", body).status_code == 401


def test_names_and_ids_no_resource_could_have_are_not_found(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker = parties["maker"]
    assert post(client, maker, "/epcis/queries", {"name": "q", "query": {}}).status_code == 201
    for url in (
        "/epcis/queries/a%00b",
        "/epcis/queries/a%00b/events",
        "/epcis/queries/q/subscriptions/not-an-id",
        "/epcis/queries/q/subscriptions/0000%00",
    ):
        assert read(client, maker, url).status_code == 404, url
    assert delete(client, maker, "/epcis/queries/a%00b").status_code == 404
    assert read(client, None, "/epcis/queries/a%00b").status_code == 401


def test_a_stored_query_never_widens_what_its_party_reads(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker, pharmacy = parties["maker"], parties["pharmacy"]
    captured(client, maker)
    body = {"name": "packs", "query": {"MATCH_anyEPC": epc(SERIALS[0])}}
    for party in (maker, pharmacy):
        assert post(client, party, "/epcis/queries", body).status_code == 201
    assert len(event_list(read(client, maker, "/epcis/queries/packs/events"))) == 3
    # The pharmacy handled none of the batch: its query finds nothing, as /epcis/events does.
    assert event_list(read(client, pharmacy, "/epcis/queries/packs/events")) == []
    assert events(client, pharmacy, MATCH_anyEPC=epc(SERIALS[0])) == []


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)  # checks made before SQL
@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"name": "bad name", "query": {}}, 400, "bad-parameter"),
        ({"name": "x" * 65, "query": {}}, 400, "bad-parameter"),
        ({"name": "-dash", "query": {}}, 400, "bad-parameter"),
        ({"name": "q", "query": {}, "extra": 1}, 400, "bad-parameter"),
        ({"name": "q", "query": []}, 400, "bad-parameter"),
        ({"name": "q", "query": {"EQ_bizStep": True}}, 400, "bad-parameter"),
        ({"name": "q", "query": {"MATCH_epc": []}}, 400, "bad-parameter"),
        ({"name": "q", "query": {"perPage": "5"}}, 400, "bad-parameter"),
        ({"name": "q", "query": {"EQ_nothing": "x"}}, 422, "bad-epcis"),
        ({"name": "q", "query": {"GE_eventTime": "yesterday"}}, 422, "bad-epcis"),
        ({"name": "q", "query": {"MATCH_epc": "urn:epc:idpat:sgtin:9506000.013435.*"}}, 400, ""),
        ([], 400, "bad-parameter"),
        ({"name": "q", "query": {"gtin": "095\u0000"}}, 400, "bad-parameter"),
    ],
)
def test_bad_definitions_are_refused_and_nothing_is_kept(
    client: FlaskClient, parties: dict[str, PartyKey], body: Any, status: int, problem: str
) -> None:
    maker = parties["maker"]
    answer = post(client, maker, "/epcis/queries", body)
    assert answer.status_code == status, answer.get_json()
    assert answer.get_json()["type"].endswith(problem)
    assert read(client, maker, "/epcis/queries").get_json() == []


def test_the_same_parameter_refused_on_the_events_query_is_refused_here(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker = parties["maker"]
    direct = read(client, maker, "/epcis/events?GE_eventTime=yesterday").get_json()
    named = post(
        client, maker, "/epcis/queries", {"name": "q", "query": {"GE_eventTime": "yesterday"}}
    )
    assert {k: named.get_json()[k] for k in ("type", "status", "detail")} == {
        k: direct[k] for k in ("type", "status", "detail")
    }


def test_the_list_pages_with_a_next_link(client: FlaskClient, parties: dict[str, PartyKey]) -> None:
    maker = parties["maker"]
    for name in ("c", "a", "b"):
        body = {"name": name, "query": {"EQ_bizStep": "shipping"}}
        assert post(client, maker, "/epcis/queries", body).status_code == 201
    first = read(client, maker, "/epcis/queries?perPage=2")
    assert [q["name"] for q in first.get_json()] == ["a", "b"]
    rest = read(client, maker, next_link(first))
    assert [q["name"] for q in rest.get_json()] == ["c"]
    assert next_link(rest) == ""
    for bad in ("not-a-token", "W10"):
        refused = read(client, maker, f"/epcis/queries?nextPageToken={bad}")
        assert refused.status_code == 422
    assert read(client, maker, "/epcis/queries?perPage=0").status_code == 422


def test_a_named_querys_events_page_under_its_own_resource(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker = parties["maker"]
    captured(client, maker)
    assert post(client, maker, "/epcis/queries", {"name": "all", "query": {}}).status_code == 201
    url, seen = "/epcis/queries/all/events?perPage=2", []
    while url:
        assert url.startswith("/epcis/queries/all/events?perPage=2&nextPageToken=") or not seen
        answer = read(client, maker, url)
        seen += [e["eventID"] for e in event_list(answer)]
        url = next_link(answer)
    assert seen == [e["eventID"] for e in events(client, maker)]
    assert len(seen) == 3
    other = read(client, maker, "/epcis/queries/all/events?EQ_bizStep=shipping")
    assert other.status_code == 422
    assert other.get_json()["extra"] == ["EQ_bizStep"]


# --- subscriptions ----------------------------------------------------------------------------


@dataclass
class Hook:
    """A subscriber's webhook on 127.0.0.1: what it was sent, and the status it answers."""

    url: str
    status: int = 200
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.received]


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((self.path, dict(self.headers), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def local(app: Flask) -> Flask:
    """The app allowed to deliver over http to 127.0.0.1, as tests must."""
    app.config.update(EPCIS_WEBHOOK_ALLOW_HTTP=True, EPCIS_WEBHOOK_ALLOW_PRIVATE=True)
    return app


def subscribe(client: FlaskClient, party: PartyKey, name: str, **body: Any) -> Any:
    return post(client, party, f"/epcis/queries/{name}/subscriptions", body)


def deliver(app: Flask, at: datetime | None = None) -> PassReport:
    with app.app_context():
        policy = Policy.from_config(app.config)
        return deliver_due(service(), policy, at or datetime.now(UTC))


def shipped_query(client: FlaskClient, maker: PartyKey) -> None:
    body = {"name": "shipped", "query": {"EQ_bizStep": "shipping"}}
    assert post(client, maker, "/epcis/queries", body).status_code == 201


def test_a_subscription_is_delivered_signed_and_only_once(
    local: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    parties: dict[str, PartyKey],
    hook: Hook,
) -> None:
    maker = parties["maker"]
    captured(client, maker)  # before the subscription: not sent
    shipped_query(client, maker)
    made = subscribe(client, maker, "shipped", dest=hook.url, signatureToken=TOKEN, stream=True)
    assert made.status_code == 201, made.get_json()
    subscription = made.get_json()
    assert "signatureToken" not in subscription and subscription["stream"] is True
    assert made.headers["Location"] == (
        f"/epcis/queries/shipped/subscriptions/{subscription['subscriptionID']}"
    )
    later = shipping(SERIALS[2:4], desadv="urn:desadv:D-2")
    stored(capture(client, maker, document(later)))
    result = runner.invoke(args=["epcis-deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 documents (1 events) delivered, 0 failed" in result.output
    ((path, headers, body),) = hook.received
    assert path == "/hook"
    assert headers["Content-Type"] == "application/json"
    assert headers["GS1-EPCIS-Version"] == "2.0.0"
    expected = hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    assert headers["GS1-Signature"] == f"sha256={expected}"
    sent = json.loads(body)
    assert sent["type"] == "EPCISQueryDocument"
    results = sent["epcisBody"]["queryResults"]
    assert results["subscriptionID"] == subscription["subscriptionID"]
    assert [e["epcList"] for e in results["resultsBody"]["eventList"]] == [later["epcList"]]
    # Nothing new: nothing sent.
    assert runner.invoke(args=["epcis-deliver", "--once"]).exit_code == 0
    assert len(hook.received) == 1
    url = made.headers["Location"]
    assert read(client, maker, url).get_json()["lastNotifiedAt"]


def test_initial_record_time_sends_what_was_recorded_since(
    local: Flask, client: FlaskClient, parties: dict[str, PartyKey], hook: Hook
) -> None:
    maker = parties["maker"]
    captured(client, maker)  # ships SERIALS[:2]
    time.sleep(0.01)
    between = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    later = shipping(SERIALS[2:4], desadv="urn:desadv:D-2")
    stored(capture(client, maker, document(later)))
    shipped_query(client, maker)
    for since in (between, (datetime.now(UTC) - timedelta(hours=1)).isoformat()):
        made = subscribe(
            client, maker, "shipped", dest=hook.url, stream=True, initialRecordTime=since
        )
        assert made.status_code == 201, made.get_json()
    report = deliver(local)
    assert (report.documents, report.events, report.failed) == (2, 3, 0)
    assert all("GS1-Signature" not in headers for _, headers, _ in hook.received)  # no token
    sent = sorted(
        [e["epcList"] for e in doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
        for doc in hook.documents()
    )
    everything = [shipping(SERIALS[:2])["epcList"], later["epcList"]]
    assert sent == sorted([[later["epcList"]], everything])


def test_a_failed_delivery_keeps_its_events_and_is_retried_later(
    local: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    parties: dict[str, PartyKey],
    hook: Hook,
) -> None:
    maker = parties["maker"]
    shipped_query(client, maker)
    made = subscribe(client, maker, "shipped", dest=hook.url, stream=True)
    captured(client, maker)
    hook.status = 500
    failed = runner.invoke(args=["epcis-deliver", "--once"])
    assert failed.exit_code == 1
    assert "1 failed" in failed.output
    state = read(client, maker, made.headers["Location"]).get_json()
    assert state["failures"] == 1 and "answered 500" in state["lastError"]
    # Backing off: the next pass, at once, does not try again.
    assert runner.invoke(args=["epcis-deliver", "--once"]).exit_code == 0
    assert len(hook.received) == 1
    hook.status = 200
    report = deliver(local, datetime.now(UTC) + timedelta(minutes=1))
    assert (report.documents, report.events, report.failed) == (1, 1, 0)
    first, second = hook.documents()
    assert (
        first["epcisBody"]["queryResults"]["resultsBody"]
        == (second["epcisBody"]["queryResults"]["resultsBody"])
    )
    state = read(client, maker, made.headers["Location"]).get_json()
    assert state["failures"] == 0 and "lastError" not in state


def test_a_scheduled_subscription_reports_when_due_even_if_empty(
    local: Flask, client: FlaskClient, parties: dict[str, PartyKey], hook: Hook
) -> None:
    maker = parties["maker"]
    shipped_query(client, maker)
    schedule = {"minute": "0", "second": "0"}
    made = subscribe(client, maker, "shipped", dest=hook.url, schedule=schedule, reportIfEmpty=True)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["schedule"] == schedule
    assert deliver(local).due == 0  # not before the top of the hour
    report = deliver(local, datetime.now(UTC) + timedelta(hours=1))
    assert (report.due, report.documents, report.events) == (1, 1, 0)
    assert hook.documents()[0]["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
    assert read(client, maker, made.headers["Location"]).get_json()["lastNotifiedAt"]
    # Done for this hour: the next pass in the same minute sends nothing.
    assert deliver(local, datetime.now(UTC) + timedelta(hours=1)).due == 0


def test_a_read_only_server_neither_keeps_queries_nor_delivers(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    parties: dict[str, PartyKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    maker = parties["maker"]
    shipped_query(client, maker)
    with app.app_context():
        svc = service()
        monkeypatch.setattr(svc, "settings", dataclasses.replace(svc.settings, read_only=True))
    refused = post(client, maker, "/epcis/queries", {"name": "other", "query": {}})
    assert refused.status_code == 503
    assert delete(client, maker, "/epcis/queries/shipped").status_code == 503
    assert read(client, maker, "/epcis/queries/shipped").status_code == 200
    result = runner.invoke(args=["epcis-deliver", "--once"])
    assert result.exit_code == 1
    assert "read-only" in result.output


def test_subscriptions_are_listed_read_and_ended_by_their_party_only(
    local: Flask, client: FlaskClient, parties: dict[str, PartyKey], hook: Hook
) -> None:
    maker, wholesaler = parties["maker"], parties["wholesaler"]
    shipped_query(client, maker)
    ids = [
        subscribe(client, maker, "shipped", dest=hook.url, stream=True).get_json()["subscriptionID"]
        for _ in range(3)
    ]
    first = read(client, maker, "/epcis/queries/shipped/subscriptions?perPage=2")
    rest = read(client, maker, next_link(first))
    listed = [s["subscriptionID"] for s in first.get_json() + rest.get_json()]
    assert listed == sorted(ids)
    one = f"/epcis/queries/shipped/subscriptions/{ids[0]}"
    assert read(client, wholesaler, one).status_code == 404
    assert delete(client, wholesaler, one).status_code == 404
    assert read(client, wholesaler, "/epcis/queries/shipped/subscriptions").status_code == 404
    assert subscribe(client, wholesaler, "shipped", dest=hook.url, stream=True).status_code == 404
    assert delete(client, maker, one).status_code == 204
    assert read(client, maker, one).status_code == 404
    # Deleting the query ends the rest of its subscriptions.
    assert delete(client, maker, "/epcis/queries/shipped").status_code == 204
    shipped_query(client, maker)
    assert read(client, maker, "/epcis/queries/shipped/subscriptions").get_json() == []


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)  # checks made before SQL
@pytest.mark.parametrize(
    "body",
    [
        {"dest": "https://hooks.example.com/x"},  # neither stream nor schedule
        {"dest": "https://hooks.example.com/x", "stream": True, "schedule": {"hour": "1"}},
        {"dest": "https://hooks.example.com/x", "stream": True, "reportIfEmpty": True},
        {"dest": "https://hooks.example.com/x", "schedule": {"hour": "24"}},
        {"dest": "https://hooks.example.com/x", "schedule": {"hour": "[5-2]"}},
        {"dest": "https://hooks.example.com/x", "schedule": {"dayOfMonth": "30", "month": "2"}},
        {"dest": "https://hooks.example.com/x", "stream": True, "initialRecordTime": "today"},
        {"dest": "https://hooks.example.com/x", "stream": True, "signatureToken": ""},
        {"dest": "https://hooks.example.com/x", "stream": True, "other": 1},
        {"dest": "http://hooks.example.com/x", "stream": True},  # http is not allowed here
        {"dest": "https://user:pw@hooks.example.com/x", "stream": True},
        {"dest": "ftp://hooks.example.com/x", "stream": True},
        {"dest": "https://127.0.0.1/x", "stream": True},
        {"dest": "https://[::1]/x", "stream": True},
        {"dest": "https://169.254.169.254/latest", "stream": True},
        {"dest": "https://10.1.2.3/x", "stream": True},
        {"dest": "https://localhost/x", "stream": True},
        {"dest": "https://[::ffff:127.0.0.1]/x", "stream": True},
        {"dest": "https://hooks.example.com/\u0000", "stream": True},
        {"dest": "https://hooks.example.com/x", "stream": True, "signatureToken": "a\nb"},
    ],
)
def test_bad_subscriptions_are_refused(
    client: FlaskClient, parties: dict[str, PartyKey], body: dict[str, Any]
) -> None:
    maker = parties["maker"]
    shipped_query(client, maker)
    answer = subscribe(client, maker, "shipped", **body)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["type"].endswith("/bad-parameter")
    assert read(client, maker, "/epcis/queries/shipped/subscriptions").get_json() == []


def test_migrate_creates_the_tables_and_grants_grant_them(
    app: Flask, runner: FlaskCliRunner
) -> None:
    """Service state, not projection: made by migrate, granted to the service role, and out
    of the rebuild's tables."""
    with app.app_context():
        engine = service().engine
        for table in SERVICE_TABLES:
            assert table not in KEYS
        with engine.begin() as conn:  # a database from before named queries
            for table in reversed(SERVICE_TABLES):
                conn.exec_driver_sql(f"DROP TABLE {table}")
        assert set(check_schema(engine, service().metadata).missing) == set(SERVICE_TABLES)
    result = runner.invoke(args=["migrate"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert check_schema(service().engine, service().metadata).missing == ()
        postgres = not is_sqlite(service().engine)
    if postgres:
        granted = runner.invoke(args=["grants", "--role", "svc"])
        assert granted.exit_code == 0, granted.output
        (line,) = [x for x in granted.output.splitlines() if "UPDATE, DELETE ON" in x]
        assert all(table in line for table in SERVICE_TABLES)


# --- the webhook sender -----------------------------------------------------------------------


def test_a_name_that_resolves_to_a_private_address_is_not_contacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("connected to a refused address")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket, "create_connection", never)
    with pytest.raises(DeliveryFailed, match="private"):
        webhooks.post("https://hooks.example.com/x", b"{}", {}, Policy())
    assert asked == ["hooks.example.com"]


def test_redirects_are_not_followed(hook: Hook) -> None:
    hook.status = 302
    with pytest.raises(DeliveryFailed, match="answered 302"):
        webhooks.post(hook.url, b"{}", {}, Policy(allow_http=True, allow_private=True))
    assert len(hook.received) == 1
    with pytest.raises(DeliveryFailed, match="private"):
        webhooks.post(hook.url, b"{}", {}, Policy(allow_http=True))


def test_schedules_come_round_as_epcis_says() -> None:
    at = datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)  # a Saturday
    assert parse_schedule({"hour": "1", "minute": "5", "second": "0"}).next_after(at) == (
        datetime(2026, 12, 6, 1, 5, 0, tzinfo=UTC)
    )
    weekdays = parse_schedule({"second": "0", "minute": "0", "dayOfWeek": "[1-5]"})
    assert weekdays.next_after(at) == datetime(2026, 12, 7, 0, 0, 0, tzinfo=UTC)
    every_30 = parse_schedule({"second": "0,30"})
    assert every_30.next_after(at) == datetime(2026, 12, 5, 10, 0, 30, tzinfo=UTC)
