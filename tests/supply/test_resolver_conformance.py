"""The GS1-Conformant resolver: linksets, link-type redirects, the resolver description, CORS,
400 for malformed Digital Link URIs (upstream vectors), the product-level page, trailing slashes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.paths import VECTORS
from tests.supply.chain import FUTURE, GTIN, JSON, LOT, Chain, commission_serialised

STEM = "http://127.0.0.1:8000"  # the default PUBLIC_URL of the test apps
LINKSET = "application/linkset+json"
VOC = "https://gs1.org/voc/"
OTHER_GTIN = "09506000134376"  # also under the maker's prefix 9506000
LEAFLET = "https://leaflets.example/amoxicillin.pdf"


def register_with_leaflet(chain: Chain) -> None:
    chain.send(
        chain.maker,
        "product.register",
        {
            "gtin": OTHER_GTIN,
            "name": "Paracetamol",
            "form": "tablet",
            "strength": "500 mg",
            "leaflet": LEAFLET,
        },
    )


def test_the_linkset_of_a_pack(chain: Chain) -> None:
    serials = commission_serialised(chain)
    anchor = f"{STEM}/01/{GTIN}/10/{LOT}/21/{serials[0]}"
    by_query = chain.client.get(f"/01/{GTIN}/10/{LOT}/21/{serials[0]}?linkType=all")
    by_accept = chain.client.get(
        f"/01/{GTIN}/10/{LOT}/21/{serials[0]}", headers={"Accept": LINKSET}
    )
    for answer in (by_query, by_accept):
        assert answer.status_code == 200 and answer.mimetype == LINKSET
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert "Accept" in answer.headers["Vary"]
        assert answer.headers["Link"] == (
            f'<{anchor}?linkType=all>; rel="linkset"; type="{LINKSET}"'
        )
    (context,) = json.loads(by_query.data)["linkset"]
    assert context == json.loads(by_accept.data)["linkset"][0]
    assert context["anchor"] == anchor and context["description"] == "Amoxicillin"
    assert context[VOC + "defaultLink"][0]["href"] == anchor
    assert context[VOC + "verificationService"][0]["href"] == anchor
    assert context[VOC + "pip"][0]["href"] == f"{STEM}/01/{GTIN}"
    assert VOC + "epil" not in context  # its registration names no leaflet
    for targets in (v for k, v in context.items() if k.startswith(VOC)):
        assert all(t["href"].startswith("http") and t["title"] for t in targets)


def test_a_registered_leaflet_is_a_link_and_a_redirect(chain: Chain) -> None:
    register_with_leaflet(chain)
    (context,) = chain.client.get(f"/01/{OTHER_GTIN}?linkType=all").get_json()["linkset"]
    assert context[VOC + "epil"] == [
        {
            "href": LEAFLET,
            "title": "Patient information leaflet: Paracetamol",
            "hreflang": ["en"],
        }
    ]
    for spelling in (
        "gs1:epil",
        "epil",
        "https://gs1.org/voc/epil",
        "https://ref.gs1.org/voc/epil",
    ):
        moved = chain.client.get(f"/01/{OTHER_GTIN}/10/ANY", query_string={"linkType": spelling})
        assert (moved.status_code, moved.headers["Location"]) == (307, LEAFLET), spelling
        assert moved.headers["Access-Control-Allow-Origin"] == "*"
    absent = chain.client.get(f"/01/{GTIN}?linkType=gs1:epil")
    assert absent.status_code == 404 and absent.mimetype == "application/problem+json"
    assert "gs1:epil" in absent.get_json()["detail"]


@pytest.mark.parametrize(
    "leaflet",
    ["http://leaflets.example/a.pdf", "https://", "https://user:pw@x.example/", "https://a b/"],
)
def test_a_leaflet_must_be_an_https_address(chain: Chain, leaflet: str) -> None:
    body = {"gtin": OTHER_GTIN, "name": "P", "form": "tablet", "strength": "1 mg"}
    refused = chain.send(chain.maker, "product.register", {**body, "leaflet": leaflet}, 422)
    assert "leaflet" in refused["detail"]


def test_link_types_redirect_or_are_not_found(chain: Chain) -> None:
    commission_serialised(chain)
    base = f"/01/{GTIN}/10/{LOT}"
    pip = chain.client.get(base, query_string={"linkType": "gs1:pip"})
    assert (pip.status_code, pip.headers["Location"]) == (307, f"{STEM}/01/{GTIN}")
    default = chain.client.get(base + "/", query_string={"linkType": "gs1:defaultLink"})
    assert (default.status_code, default.headers["Location"]) == (307, f"{STEM}{base}")
    for missing in ("gs1:recipeInfo", "gs1:nonsense", "schema:url"):
        answer = chain.client.get(base, query_string={"linkType": missing}, headers=JSON)
        assert answer.status_code == 404, missing
        assert answer.mimetype == "application/problem+json"
        assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_the_resolver_description_names_the_configured_root(app: Flask) -> None:
    client = app.test_client()
    for host in ("127.0.0.1:8000", "attacker.example"):
        answer = client.get("/.well-known/gs1resolver", headers={"Host": host})
        assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
        body = answer.get_json()
        assert body["resolverRoot"] == STEM
        assert body["supportedPrimaryKeys"] == ["01"]
        assert body["supportedLinkType"] == [{"namespace": VOC, "prefix": "gs1:"}]
        assert body["linkTypeDefaultCanBeLinkset"] is False
        assert body["name"]
        assert set(body["activeLinkTypes"]["en"]) == {
            "gs1:defaultLink",
            "gs1:verificationService",
            "gs1:pip",
            "gs1:epil",
        }
    linked = client.get(f"/01/{GTIN}?linkType=all", headers={"Host": "attacker.example"})
    assert linked.get_json()["linkset"][0]["anchor"] == f"{STEM}/01/{GTIN}"


@pytest.mark.parametrize(
    ("path", "what"),
    [
        (f"/01/{GTIN[:-1]}9", "csum"),
        (f"/01/{GTIN[:-1]}9/10/{LOT}", "csum"),
        (f"/01/{GTIN}/19/X", "(19) is not a GS1 Application Identifier"),
        (f"/01/{GTIN}/21/S1/10/{LOT}", "not allowed after primary key (01) in this order"),
        (f"/01/{GTIN}/21/S1?10={LOT}", "belongs in the URI path"),
        (f"/01/{GTIN}/10/{'L' * 21}", "too long"),
        (f"/01/{GTIN}/10/A%20B", "invalid character"),
        (f"/01/{GTIN}/10/{LOT}?17=301332", "yymmd0"),
        (f"/gtin/{GTIN}/lot/{LOT}/bad/1", "no GS1 Digital Link primary key"),
    ],
)
def test_a_malformed_digital_link_is_400(client: FlaskClient, path: str, what: str) -> None:
    answer = client.get(path, headers=JSON)
    assert answer.status_code == 400, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["type"].endswith("/bad-digital-link") and what in problem["detail"]
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_another_primary_key_is_not_found(client: FlaskClient) -> None:
    answer = client.get(f"/01/{GTIN}/00/006141411234567890", headers=JSON)
    assert answer.status_code == 404 and "GTINs (01)" in answer.get_json()["detail"]


def _vector_params() -> list[Any]:
    """Upstream Digital Link cases whose path is a GTIN's, without parser options: the resolver
    answers each valid one and refuses each invalid one with 400."""
    cases = json.loads((VECTORS / "digital-link" / "dl_uri_parse_cases.json").read_text())
    params = []
    for case in cases:
        target = urlsplit(case["uri"])
        if case["options"] or not target.path.startswith("/01/"):
            continue
        if "%25lo" in target.netloc or "//" in target.path:
            # Invalid in its host, which a request does not carry; or an empty path segment,
            # which the router answers with a redirect to the merged path before any parsing.
            continue
        if case["uri"].startswith(
            ("https://a/01/2112345678900", "https://a/01/41600", "https://a/01/0234")
        ):
            continue  # zero-suppressed GTINs: this resolver pads them (upstream option)
        request = target.path + ("?" + target.query if target.query else "")
        params.append(pytest.param(request, case["valid"], id=case["uri"]))
    return params


@pytest.mark.parametrize(("request_target", "valid"), _vector_params())
def test_upstream_digital_link_vectors(
    client: FlaskClient, request_target: str, valid: bool
) -> None:
    answer = client.get(request_target, headers=JSON)
    assert answer.status_code == (200 if valid else 400), answer.get_json()


def test_the_vectors_cover_both_answers() -> None:
    valid = [p.values[1] for p in _vector_params()]
    assert valid.count(True) >= 30 and valid.count(False) >= 15


def test_a_gtin_alone_gets_a_product_level_answer(chain: Chain) -> None:
    commission_serialised(chain)
    for path in (f"/01/{GTIN}", f"/01/{GTIN}/", f"/01/{GTIN[1:]}", f"/gtin/{GTIN}"):
        answer = chain.client.get(path, headers=JSON).get_json()
        assert answer["verdict"] == "product-known", path
        assert answer["title"] == "Product known: scan the 2D code to check the pack"
        assert answer["product"]["name"] == "Amoxicillin"
        assert answer["product"]["manufacturer_name"] == "Acme Pharma"
        assert answer["batch"] is None and answer["view"] == "public"
    unknown = chain.client.get("/01/05901234123457", headers=JSON).get_json()
    assert unknown["verdict"] == "product-unknown" and unknown["product"] is None
    assert "counterfeit" not in json.dumps(unknown).lower()
    page = chain.client.get(f"/01/{GTIN}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and b'data-verdict="product-known"' in page.data
    assert b"scan the pack's 2D code" in page.data
    page = chain.client.get("/01/05901234123457", headers={"Accept": "text/html"})
    assert b'data-verdict="product-unknown"' in page.data and b"counterfeit" not in page.data
    # A product answer raises no alert: it says nothing about any pack.
    assert chain.alerts(chain.regulator) == []


def test_trailing_slashes_are_accepted_everywhere(chain: Chain) -> None:
    serials = commission_serialised(chain)
    for path in (
        f"/01/{GTIN}/10/{LOT}/",
        f"/01/{GTIN}/10/{LOT}/21/{serials[0]}/",
        f"/01/{GTIN}/21/{serials[0]}/",
        f"/gtin/{GTIN}/lot/{LOT}/ser/{serials[0]}/",
    ):
        answer = chain.client.get(path, headers=JSON)
        assert answer.status_code == 200 and answer.get_json()["verdict"] == "authentic", path
        assert answer.get_json()["lot"] == LOT
    assert chain.batch()["lot"] == LOT
    for path in (f"/api/v1/batches/{GTIN}/{LOT}/", f"/labels/{GTIN}/{LOT}/"):
        signed = chain.client.get(path)  # anonymous: refused, not misread
        assert signed.status_code == 401, path


def test_the_verdict_json_allows_any_origin_and_the_page_does_not(chain: Chain) -> None:
    serials = commission_serialised(chain)
    url = f"/01/{GTIN}/10/{LOT}/21/{serials[0]}?17={FUTURE}"
    for accept, other_origins in (("text/html", None), ("application/json", "*")):
        answer = chain.client.get(url, headers={"Accept": accept})
        assert answer.status_code == 200
        assert answer.headers.get("Access-Control-Allow-Origin") == other_origins
        assert {"Accept", "Cookie", "Signature"} <= set(answer.headers["Vary"].split(", "))
        assert "linkType=all" in answer.headers["Link"]
