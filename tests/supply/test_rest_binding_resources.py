"""The EPCIS 2.0 REST binding, resource by resource: every path and method of GS1's OpenAPI
document is answered under /epcis as the binding says (status, GS1-* headers, paging), or is in
the list of resources this service does not offer, with the reason."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import yaml
from flask import Flask
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]

from provenance.epcis.hash import event_hash_id
from provenance.epcis.query import CONTEXT, LOG_HEADER
from provenance.epcis.vocab import URI, valid_time
from provenance.log.statements import now_timestamp
from provenance.supply.document_signature import HEADER, signature_header
from tests.conftest import make_app
from tests.parties import ORIGIN, Authority, assign_prefix, register_party, send, signed
from tests.paths import VECTORS

BINDING = VECTORS / "epcis" / "gs1-rest-binding" / "openapi.yaml"
QUERY_SCHEMA = VECTORS / "epcis" / "gs1-rest-binding" / "query-schema.json"
QUERIES = VECTORS / "epcis" / "openepcis" / "Query" / "Queries"
PREFIX = "/epcis"
METHODS = ("get", "post", "put", "patch", "delete", "options", "head")

#: (method, binding path) -> why this service does not offer it. Each must answer 404, 405 or
#: the 501 the binding allows.
NOT_OFFERED: dict[tuple[str, str], str] = {
    ("DELETE", "/nextPageToken/{token}"): (
        "a page token is stateless and never expires (it names where the page ended, bound to "
        "its query): there is nothing to delete"
    ),
    ("POST", "/events"): (
        "every entry of this log is a signed statement that names the log it is meant for and "
        "when it was issued; a lone event has neither (an EPCISDocument has both, in its "
        "epcisHeader and creationDate): capture a one-event document at /capture"
    ),
}
#: Operations the binding defines and this service is to answer, that it does not answer as the
#: binding says yet: (method, path) -> what is missing. Strict: one that passes must leave.
NOT_YET: dict[tuple[str, str], str] = {}
#: Forms of offered resources this service does not offer, with why; test_forms_not_offered
#: checks each is refused rather than half-answered.
FORMS_NOT_OFFERED = {
    "XML answers (Accept: application/xml, GS1-CBV-XML-Format)": (
        "EPCIS documents are captured, signed and served as JSON-LD; XML is refused with 406"
    ),
    "WebSocket subscriptions (GET /queries/{queryName}/events with Upgrade: websocket)": (
        "subscriptions are delivered by webhook: no connection is upgraded"
    ),
}

GTIN = "09506000134352"
MAKER, REGULATOR = "5412345000013", "5412345000044"
BL1, BL2 = "urn:epc:id:sgln:9506000.00001.0", "urn:epc:id:sgln:9506000.00002.0"
RP1, RP2 = "urn:epc:id:sgln:9506000.00001.1", "urn:epc:id:sgln:9506000.00002.1"
SSCC = "urn:epc:id:sscc:9506000.0000000001"


def _epc(serial: str) -> str:
    return f"https://id.gs1.org/01/{GTIN}/21/{serial}"


@cache
def _binding() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(BINDING.read_text(encoding="utf-8"))
    return loaded


def _resolve(node: Any) -> Any:
    """A node of the binding with its local $ref followed."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = _binding()
        for step in node["$ref"].removeprefix("#/").split("/"):
            target = target[step]
        node = target
    return node


def _operations() -> Iterator[tuple[str, str]]:
    for path, item in _binding()["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path


OPERATIONS = sorted(_operations(), key=lambda op: (op[1], op[0]))
OFFERED = [op for op in OPERATIONS if op not in NOT_OFFERED]


def _case(method: str, path: str) -> Any:
    """The operation as a test case, expected to fail (strictly) while it is in NOT_YET."""
    why = NOT_YET.get((method, path))
    marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
    return pytest.param(method, path, marks=marks)


def _parameters(method: str, path: str) -> list[str]:
    item = _binding()["paths"][path]
    found = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
    return [_resolve(p)["name"] for p in found]


def _success(method: str, path: str) -> dict[str, Any]:
    """The binding's success answers of an operation: status -> response."""
    responses = _binding()["paths"][path][method.lower()]["responses"]
    return {int(code): _resolve(r) for code, r in responses.items() if code[0] in "12"}


def _paged(method: str, path: str) -> bool:
    """A list resource: the binding pages it (nextPageToken) and it lists several members."""
    return "nextPageToken" in _parameters(method, path) and not path.endswith("}")


# --- a log holding something to list in every resource ----------------------------------------


class Log:
    """The seeded service and what its resources name."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()
        authority = Authority.from_app(app)
        self.maker = register_party(self.client, authority, "Acme", MAKER, ["manufacturer"])
        self.regulator = register_party(
            self.client, authority, "Regulator", REGULATOR, ["regulator"]
        )
        assign_prefix(self.client, authority, MAKER, "9506000")
        product = {"gtin": GTIN, "name": "Amoxicillin", "form": "capsule", "strength": "500 mg"}
        send(self.client, self.maker, "product.register", product)
        self.serial = 0
        first = [self.commissioning(), self.observing("S1", RP1, BL1, "2026-11-02T09:00:00Z")]
        second = [
            self.observing("S2", RP2, BL2, "2026-11-03T09:00:00Z"),
            self.packing(),
        ]
        self.captures = [
            self.capture(first).headers["Location"],
            self.capture(second).headers["Location"],
        ]
        self.event_id = event_hash_id(first[1], [CONTEXT])
        self.queries = [self.named_query(f"inspections-{n}") for n in range(2)]
        self.subscriptions = [self.subscribe("inspections-0") for _ in range(2)]
        link = self.request("GET", f"{PREFIX}/events?perPage=1").headers["Link"]
        token = re.search(r"nextPageToken=([^&>]+)", link)
        assert token is not None, link
        self.token = token.group(1)

    def document(self, events: list[dict[str, Any]]) -> bytes:
        doc = {
            "@context": [CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": now_timestamp(),
            "epcisHeader": {LOG_HEADER: ORIGIN},
            "epcisBody": {"eventList": events},
        }
        return json.dumps(doc).encode()

    def capture(self, events: list[dict[str, Any]]) -> Any:
        """POST /capture as the binding has it: the document itself, with its signature."""
        body = self.document(events)
        headers = {HEADER: signature_header(self.maker.key, body)}
        response = self.client.post(
            f"{PREFIX}/capture", data=body, headers=headers, content_type="application/ld+json"
        )
        assert response.status_code == 202, response.get_json()
        return response

    def commissioning(self) -> dict[str, Any]:
        return {
            "type": "ObjectEvent",
            "eventTime": "2026-11-01T08:00:00.000+01:00",
            "eventTimeZoneOffset": "+01:00",
            "epcList": [_epc("S1"), _epc("S2")],
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": RP1},
            "bizLocation": {"id": BL1},
            "ilmd": {"cbvmda:lotNumber": "L1", "cbvmda:itemExpirationDate": "2029-06-30"},
        }

    def observing(self, serial: str, read_point: str, location: str, at: str) -> dict[str, Any]:
        return {
            "type": "ObjectEvent",
            "eventTime": at,
            "eventTimeZoneOffset": "+00:00",
            "epcList": [_epc(serial)],
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "disposition": "active",
            "readPoint": {"id": read_point},
            "bizLocation": {"id": location},
        }

    def packing(self) -> dict[str, Any]:
        return {
            "type": "AggregationEvent",
            "eventTime": "2026-11-04T09:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "parentID": SSCC,
            "childEPCs": [_epc("S1"), _epc("S2")],
            "action": "ADD",
            "bizStep": "packing",
            "disposition": "in_progress",
            "readPoint": {"id": RP2},
            "bizLocation": {"id": BL2},
        }

    def request(
        self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        """The request as the regulator signs it."""
        data = b"" if body is None else json.dumps(body).encode()
        sent = {**signed(self.regulator, method, url, data), **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/json"
        return self.client.open(url, method=method, data=data, headers=sent)

    def named_query(self, name: str) -> str:
        definition = {"name": name, "query": {"EQ_bizStep": ["inspecting"]}}
        response = self.request("POST", f"{PREFIX}/queries", definition)
        assert response.status_code == 201, response.get_json()
        return name

    def subscribe(self, name: str) -> str:
        body = {"dest": "https://client.example.com/queryCallback", "stream": True}
        response = self.request("POST", f"{PREFIX}/queries/{name}/subscriptions", body)
        assert response.status_code == 201, response.get_json()
        return str(response.headers["Location"]).rstrip("/").rpartition("/")[2]

    def path(self, path: str) -> str:
        """The binding path with a member of this log for each of its parameters."""
        values = {
            "eventID": self.event_id,
            "captureID": self.captures[0].rstrip("/").rpartition("/")[2],
            "eventType": "ObjectEvent",
            "epc": _epc("S1"),
            "bizStep": "inspecting",
            "bizLocation": BL1,
            "readPoint": RP1,
            "disposition": "active",
            "queryName": self.queries[0],
            "subscriptionID": self.subscriptions[0],
            "token": self.token,
        }
        concrete = re.sub(r"\{(\w+)\}", lambda m: quote(values[m.group(1)], safe=""), path)
        return PREFIX + ("" if concrete == "/" else concrete)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Log:
    return Log(make_app(tmp_path_factory.mktemp("binding") / "data"))


def _call(log: Log, method: str, path: str, query: str = "") -> Any:
    """The operation, with what a well-formed request of it sends."""
    url = log.path(path) + query
    if (method, path) == ("POST", "/capture"):
        return log.capture([log.observing("S1", RP1, BL1, "2026-11-05T09:00:00Z")])
    if (method, path) == ("POST", "/events"):
        event = {"@context": [CONTEXT], **log.observing("S2", RP1, BL1, "2026-11-06T09:00:00Z")}
        body = json.dumps(event).encode()
        headers = {HEADER: signature_header(log.maker.key, body)}
        return log.client.post(url, data=body, headers=headers, content_type="application/ld+json")
    if (method, path) == ("POST", "/queries"):
        log.serial += 1
        return log.request(
            method, url, {"name": f"made-{log.serial}", "query": {"eventType": ["ObjectEvent"]}}
        )
    if (method, path) == ("POST", "/queries/{queryName}/subscriptions"):
        return log.request(method, url, {"dest": "https://client.example.com/cb", "stream": True})
    if (method, path) == ("DELETE", "/queries/{queryName}"):
        log.serial += 1
        url = f"{PREFIX}/queries/{log.named_query(f'doomed-{log.serial}')}"
    if (method, path) == ("DELETE", "/queries/{queryName}/subscriptions/{subscriptionID}"):
        url = f"{PREFIX}/queries/{log.queries[1]}/subscriptions/{log.subscribe(log.queries[1])}"
    return log.request(method, url)


# --- the tests -----------------------------------------------------------------------------


def test_binding_file() -> None:
    """The OpenAPI document is GS1's EPCIS 2.0 REST binding as published (its git blob at the
    commit SOURCE.md names), and the lists name its resources."""
    data = BINDING.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    assert blob == "548dfdc82d79e8518084a8b7ed41a72a3771e661"
    assert _binding()["openapi"] == "3.0.3" and _binding()["info"]["version"] == "2.0.0"
    assert len(OPERATIONS) == 63
    assert set(NOT_OFFERED) <= set(OPERATIONS)
    assert set(NOT_YET) <= set(OFFERED)


@pytest.mark.parametrize(("method", "path"), [_case(*op) for op in OFFERED], ids=str)
def test_resource_answered(log: Log, method: str, path: str) -> None:
    """The service answers the operation with one of the binding's success statuses, the
    GS1-EPCIS-Version and GS1-CBV-Version headers the binding's answer declares, and the
    Location it declares names a resource that answers."""
    response = _call(log, method, path)
    success = _success(method, path)
    assert response.status_code in success, (response.status_code, response.get_data()[:300])
    declared = success[response.status_code].get("headers", {})
    for name in ("GS1-EPCIS-Version", "GS1-CBV-Version"):
        if name in declared:
            assert response.headers.get(name) == "2.0.0", (name, dict(response.headers))
    if "Location" in declared:  # what was created (a capture job, a query, a subscription)
        made = log.request("GET", response.headers["Location"])
        assert made.status_code == 200, (response.headers["Location"], made.get_data()[:300])
    if method == "OPTIONS":
        allowed = {m.strip() for m in response.headers.get("Allow", "").split(",")}
        offered = {m for m, p in OFFERED if p == path}
        assert offered <= allowed, (offered, allowed)


@pytest.mark.parametrize(("method", "path"), [_case(*op) for op in OFFERED if _paged(*op)], ids=str)
def test_list_resource_pages(log: Log, method: str, path: str) -> None:
    """A list resource pages as the binding does: with perPage=1 the answer's
    `Link: <…nextPageToken=…>; rel="next"` names the next page, which answers too."""
    first = _call(log, method, path, "?" + urlencode({"perPage": 1}))
    assert first.status_code == 200, first.get_data()[:300]
    link = re.fullmatch(r'<([^>]+)>; rel="next"', first.headers.get("Link", ""))
    assert link is not None, dict(first.headers)
    assert "nextPageToken=" in link.group(1)
    following = log.request("GET", link.group(1))
    assert following.status_code == 200, following.get_data()[:300]
    page1, page2 = (
        {k: v for k, v in r.get_json().items() if k != "creationDate"}
        if isinstance(r.get_json(), dict)
        else r.get_json()
        for r in (first, following)
    )
    assert page1 != page2  # the next page holds other members


@pytest.mark.parametrize(("method", "path"), sorted(NOT_OFFERED), ids=str)
def test_not_offered(log: Log, method: str, path: str) -> None:
    assert NOT_OFFERED[(method, path)]
    assert _call(log, method, path).status_code in (404, 405, 501)


def test_forms_not_offered(log: Log) -> None:
    assert all(FORMS_NOT_OFFERED.values())
    xml = log.request("GET", f"{PREFIX}/events", headers={"Accept": "application/xml"})
    assert xml.status_code == 406
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    socket = log.request("GET", f"{PREFIX}/queries/{log.queries[0]}/events", headers=upgrade)
    assert socket.status_code != 101 and "Upgrade" not in socket.headers


def _query_errors(query: Any) -> list[str]:
    """What GS1's query schema finds wrong with a query definition (formats checked)."""
    schema = json.loads(QUERY_SCHEMA.read_text(encoding="utf-8"))
    formats = FormatChecker(formats=())
    formats.checks("uri")(lambda value: not isinstance(value, str) or URI.match(value))
    formats.checks("date-time")(lambda value: not isinstance(value, str) or valid_time(value))
    return [e.message for e in Draft7Validator(schema, format_checker=formats).iter_errors(query)]


def test_openepcis_query_definition(log: Log) -> None:
    """openEPCIS's SimpleEventQuery definition, valid by GS1's query schema, is a named query
    (POST /queries) that answers."""
    query = json.loads((QUERIES / "SimpleEventQuery.json").read_text(encoding="utf-8"))
    assert _query_errors(query) == []
    made = log.request("POST", f"{PREFIX}/queries", {"name": "openepcis", "query": query})
    assert made.status_code == 201, made.get_json()
    assert log.request("GET", f"{PREFIX}/queries/openepcis/events").status_code == 200


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Query_with_invalid_values.json", ("GE_eventTime", "EQ_action", "orderDirection")),
        ("Query_with_unknown_parameter.json", ("GE_eventDate",)),
    ],
)
def test_openepcis_invalid_query_definitions(log: Log, name: str, words: tuple[str, ...]) -> None:
    """Each is refused, as GS1's query schema refuses it, naming one of its defects; no query
    is saved."""
    query = json.loads((QUERIES / "Invalid" / name).read_text(encoding="utf-8"))
    assert _query_errors(query)
    refused = log.request("POST", f"{PREFIX}/queries", {"name": "refused", "query": query})
    assert refused.status_code in (400, 422), refused.get_json()
    problem = {k: v for k, v in refused.get_json().items() if k != "supported"}
    assert any(word in json.dumps(problem) for word in words), problem
    assert "@context" not in problem.get("unsupported", [])
    assert log.request("GET", f"{PREFIX}/queries/refused").status_code == 404


def test_every_operation_is_tested_or_not_offered() -> None:
    assert sorted(OFFERED + sorted(NOT_OFFERED)) == sorted(OPERATIONS)
