"""The OpenAPI document: valid OpenAPI 3.1, every route in it, and no input makes a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error

from provenance.access.sessions import COOKIE
from provenance.web.openapi import methods_of, openapi_path
from tests.conftest import make_app
from tests.parties import Authority, register_party, signed

PROBLEM = {"$ref": "#/components/responses/Problem"}


def _document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc: dict[str, Any] = response.get_json()
    return doc


def test_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    doc = _document(client)
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on any error against the OpenAPI 3.1 schema


def test_every_route_is_in_the_document_and_nothing_else(app: Flask, client: FlaskClient) -> None:
    doc = _document(client)
    routes = {
        (method, openapi_path(rule))
        for rule in app.url_map.iter_rules()
        for method in methods_of(rule)
    }
    documented = {(m.upper(), path) for path, item in doc["paths"].items() for m in item}
    assert documented == routes
    operation_ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_operations_carry_their_access_rule_and_security(app: Flask, client: FlaskClient) -> None:
    doc = _document(client)
    assert set(doc["components"]["securitySchemes"]) == {"httpSignature", "session"}
    problems = client.get("/api/v1/parties/9999999999994").get_json()
    assert (
        problems["type"]
        in doc["components"]["schemas"]["Problem"]["properties"]["type"]["examples"]
    )
    public = doc["paths"]["/log/checkpoint"]["get"]
    assert public["security"] == []
    assert public["x-access"] == "anyone"
    entry = doc["paths"]["/api/v1/log/entries/{index}"]["get"]
    assert entry["security"] == [{"httpSignature": []}, {"session": []}]
    assert entry["responses"]["401"] == PROBLEM
    assert entry["parameters"] == [
        {
            "name": "index",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    ]
    # The GS1 path converter's lot is a plain string.
    batch = doc["paths"]["/api/v1/batches/{gtin}/{lot}"]["get"]
    assert [p["schema"] for p in batch["parameters"]] == [{"type": "string"}] * 2
    # A write takes a signature only: a session cookie reads.
    assert doc["paths"]["/api/v1/login-links"]["post"]["security"] == [{"httpSignature": []}]


def test_write_routes_declare_their_bodies(client: FlaskClient) -> None:
    paths = _document(client)["paths"]
    statement = paths["/api/v1/statements"]["post"]
    assert statement["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Envelope"
    }
    assert set(statement["responses"]) >= {"200", "201", "400", "413", "415", "429", "default"}
    batch = paths["/api/v1/statements/batch"]["post"]["requestBody"]["content"]
    assert batch["application/json"]["schema"]["type"] == "array"
    capture = paths["/epcis/capture"]["post"]["requestBody"]["content"]
    assert "application/vnd.dsse.envelope+json" in capture
    upload = paths["/api/v1/trials/payloads"]["post"]
    assert "application/octet-stream" in upload["requestBody"]["content"]
    assert [p["name"] for p in upload["parameters"] if p["in"] == "header"] == ["X-Salt"]
    assert "201" in paths["/api/v1/login-links"]["post"]["responses"]


def test_query_parameters_come_from_the_views(client: FlaskClient) -> None:
    paths = _document(client)["paths"]
    events = paths["/epcis/events"]["get"]["parameters"]
    assert {"EQ_bizStep", "perPage", "gtin"} <= {p["name"] for p in events}
    scan = paths["/api/v1/scan"]["get"]["parameters"]
    assert [p["name"] for p in scan] == ["code"]
    # Declared by the view where a helper reads them.
    report = paths["/reports/{name}/report.json"]["get"]
    assert [p["name"] for p in report["parameters"] if p["in"] == "query"] == [
        "as_of",
        "days",
        "trial",
    ]
    assert "application/json" in report["responses"]["200"]["content"]


def test_the_api_page_lists_every_operation(client: FlaskClient) -> None:
    doc = _document(client)
    response = client.get("/api")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script" not in page
    for path, item in doc["paths"].items():
        for op in item.values():
            assert f'id="{op["operationId"]}"' in page
            assert f"<code>{path}</code>" in page


# --- every operation, fed generated input, answers below 500 --------------------------------


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return make_app(Path(tmp_path_factory.mktemp("openapi")) / "data")


def _regulator_session(app: Flask) -> dict[str, str]:
    """A regulator's session cookie: it may read every route, so the fuzzing gets past access."""
    client = app.test_client()
    regulator = register_party(
        client, Authority.from_app(app), "Regulator", "0614141000029", ["regulator"]
    )
    url = "/api/v1/login-links"
    link = client.post(url, headers=signed(regulator, "POST", url)).get_json()["url"]
    client.get(urlsplit(link).path)
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return {COOKIE: cookie.value}


@pytest.mark.parametrize("reader", ["anonymous", "regulator"])
def test_no_input_makes_a_server_error(fuzzed_app: Flask, reader: str) -> None:
    """Generated requests for every operation (paths, queries, headers, bodies from the
    document) are answered, each at worst with a 4xx problem."""
    cookies = _regulator_session(fuzzed_app) if reader == "regulator" else {}
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    failures: dict[str, str] = {}
    statuses: set[int] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        if cookies and operation.method.upper() != "GET":
            continue  # a session only reads

        @given(operation.as_strategy())
        @settings(
            max_examples=10,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_below_500(case: Any) -> None:
            response = case.call(cookies=cookies)
            statuses.add(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            answers_below_500()
        except Exception as failure:  # every operation is tried, then all failures reported
            failures[operation.label] = str(failure)[:2000]
    assert failures == {}
    # The regulator's requests got past the access rules: the fuzzing reached the views.
    assert (401 in statuses) == (reader == "anonymous")
    assert 200 in statuses
