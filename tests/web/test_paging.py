"""Every list pages: `perPage`, a `nextPageToken` bound to its query, the next page named by a
`Link: rel="next"` header and a `next` member; no row lost or repeated, each page filtered for
its reader."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

# Keyset comparisons are SQL: the supply lists page runs on SQLite and on PostgreSQL.
from tests.backends import app_on_each_backend  # noqa: F401  (the `app` fixture)
from tests.conftest import BACKENDS, app_on
from tests.parties import Authority, PartyKey, read
from tests.supply.chain import GTIN, LOT, Chain, commission_serialised, full_chain, make_chain
from tests.supply.test_epcis_capture import capture, commissioning, document
from tests.trials.test_access import TRIAL, World, _world

BAD_PARAMETER = "tag:provenance.local,2026:problem/bad-parameter"


@pytest.fixture
def chain(client: FlaskClient, authority: Authority) -> Chain:
    return make_chain(client, authority)


def pages(
    client: FlaskClient, reader: PartyKey | None, url: str, member: str, **query: Any
) -> list[list[Any]]:
    """Every page of a list, following its next links; checks the link, the header and the
    token agree."""
    found: list[list[Any]] = []
    answer = read(client, reader, url, query_string=query)
    while True:
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        found.append(body[member])
        if "Link" not in answer.headers:
            assert "next" not in body and "nextPageToken" not in body
            return found
        link = answer.headers["Link"]
        assert link == f'<{body["next"]}>; rel="next"'
        next_url = urlsplit(body["next"])
        assert not next_url.netloc  # a relative link: never built from the Host header
        assert parse_qs(next_url.query)["nextPageToken"] == [body["nextPageToken"]]
        answer = read(client, reader, next_url.path, query_string=next_url.query)


def flat(found: list[list[Any]]) -> list[Any]:
    return [row for page in found for row in page]


def test_alerts_page_without_loss_or_repeat_and_per_reader(chain: Chain) -> None:
    commission_serialised(chain)
    for n in range(7):  # unknown serials: alerts raised at the pharmacy that scanned them
        chain.send(
            chain.other_pharmacy, "scan.record", {"gtin": GTIN, "lot": LOT, "serial": f"X{n}"}
        )
    chain.send(chain.pharmacy, "scan.record", {"gtin": GTIN, "lot": LOT, "serial": "Y1"})
    client = chain.client
    whole = read(client, chain.regulator, "/api/v1/alerts").get_json()["alerts"]
    paged = pages(client, chain.regulator, "/api/v1/alerts", "alerts", perPage=3)
    assert [len(page) for page in paged][:-1] == [3] * (len(paged) - 1)
    assert flat(paged) == whole and len(whole) >= 8
    ids = [alert["id"] for alert in flat(paged)]
    assert len(ids) == len(set(ids))
    # Each page holds only the reader's own alerts.
    own = pages(client, chain.pharmacy, "/api/v1/alerts", "alerts", perPage=1)
    assert {a["party"] for a in flat(own)} == {chain.pharmacy.gln}
    assert flat(own) == [a for a in whole if a["party"] == chain.pharmacy.gln]
    # A filter is part of the query: its pages are of the filtered list.
    opened = pages(client, chain.regulator, "/api/v1/alerts", "alerts", perPage=2, open="1")
    assert flat(opened) == [a for a in whole if a["resolved_index"] is None]


def test_batches_page_and_batches_of_one_entry_are_ordered_within_it(chain: Chain) -> None:
    for n in range(4):
        commission_serialised(chain, lot=f"L{n}", count=1)
    # One capture commissions three batches: one entry, three rows with the same index.
    events = [commissioning([f"C{n}"], lot=f"E{n}") for n in range(3)]
    assert capture(chain.client, chain.maker, document(*events)).status_code in (201, 202)
    full_chain(chain)  # LOT-A1, shipped to the wholesaler and on to the pharmacy
    client = chain.client
    whole = read(client, chain.maker, "/api/v1/batches").get_json()["batches"]
    assert len(whole) == 8
    for size in (1, 2, 3):
        paged = pages(client, chain.maker, "/api/v1/batches", "batches", perPage=size)
        assert flat(paged) == whole
    assert [
        b["lot"]
        for b in flat(pages(client, chain.pharmacy, "/api/v1/batches", "batches", perPage=1))
    ] == [LOT]
    assert pages(client, chain.other_pharmacy, "/api/v1/batches", "batches", perPage=1) == [[]]


def test_tokens_are_bound_to_their_list_and_query(chain: Chain) -> None:
    for n in range(3):
        commission_serialised(chain, lot=f"L{n}", count=1)
        chain.send(chain.pharmacy, "scan.record", {"gtin": GTIN, "lot": f"L{n}", "serial": "Z"})
    client = chain.client
    alerts = read(client, chain.regulator, "/api/v1/alerts", query_string={"perPage": 1})
    token = alerts.get_json()["nextPageToken"]
    batches = read(client, chain.regulator, "/api/v1/batches", query_string={"perPage": 1})
    batch_token = batches.get_json()["nextPageToken"]

    def refused(url: str, **query: Any) -> None:
        answer = read(client, chain.regulator, url, query_string=query)
        assert answer.status_code == 400, answer.get_json()
        assert answer.mimetype == "application/problem+json"
        assert answer.get_json()["type"] == BAD_PARAMETER

    refused("/api/v1/batches", nextPageToken=token)  # another list's
    refused("/api/v1/alerts", nextPageToken=batch_token)
    refused("/api/v1/alerts", nextPageToken=token, open="1")  # another query of the same list
    (key, digest) = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    moved = json.dumps([[key[0] + 1, key[1]], digest]).encode()
    refused("/api/v1/alerts", nextPageToken=base64.urlsafe_b64encode(moved).decode())
    refused("/api/v1/alerts", nextPageToken=token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    for junk in ("", "not a token", "W10", "x" * 5000, "bnVsbA"):
        refused("/api/v1/alerts", nextPageToken=junk)
    for size in ("0", "-1", "many"):
        refused("/api/v1/alerts", perPage=size)
    # A token does not depend on the page size: a page may be asked for in another size.
    rest = read(
        client,
        chain.regulator,
        "/api/v1/alerts",
        query_string={"perPage": 5, "nextPageToken": token},
    )
    whole = read(client, chain.regulator, "/api/v1/alerts").get_json()["alerts"]
    assert rest.status_code == 200 and rest.get_json()["alerts"] == whole[1:6]
    # Past the largest page: clamped, not refused.
    assert (
        read(client, chain.regulator, "/api/v1/alerts", query_string={"perPage": 10**9}).status_code
        == 200
    )


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with app_on(request.param, tmp_path_factory.mktemp("paging") / "data") as app:
        yield from _world(app)


def test_trial_lists_page_and_each_page_is_filtered_for_its_reader(world: World) -> None:
    client = world.client
    trials = pages(client, None, "/api/v1/trials", "trials", perPage=1)
    assert [t["trial_id"] for t in flat(trials)] == [
        t["trial_id"] for t in world.json("anonymous", "/api/v1/trials")["trials"]
    ]
    assert len(trials) == 2
    url = f"/api/v1/trials/{TRIAL}/history"
    for role in ("sponsor", "site party", "regulator"):
        party = world.parties[role]
        whole = world.json(role, url)["history"]
        for size in (1, 2):
            assert flat(pages(client, party, url, "history", perPage=size)) == whole, role
    site = flat(pages(client, world.parties["site party"], url, "history", perPage=1))
    assert not any("S-2" in row["subject"] for row in site)  # another site's subject
    other = read(client, world.parties["sponsor"], url, query_string={"perPage": 1})
    token = other.get_json()["nextPageToken"]
    foreign = read(
        client,
        world.parties["regulator"],
        "/api/v1/trials/NCT07654321/history",
        query_string={"nextPageToken": token},
    )
    assert foreign.status_code == 400


def test_the_trial_page_links_the_rest_of_its_audit_trail(world: World) -> None:
    client, sponsor = world.client, world.parties["sponsor"]
    whole = world.json("sponsor", f"/api/v1/trials/{TRIAL}/history")["history"]
    url, seen = f"/trials/{TRIAL}", 0
    query: Any = {"perPage": 2}
    while True:
        page = read(client, sponsor, url, query_string=query).get_data(as_text=True)
        table = page[
            page.index('id="history"') : page.index("</table>", page.index('id="history"'))
        ]
        receipts = table.count('href="/log/receipt/')
        assert receipts == min(2, len(whole) - seen)
        seen += receipts
        if 'id="history-next"' not in page:
            break
        start = page.index('href="', page.index('id="history-next"')) + len('href="')
        link = urlsplit(page[start : page.index('"', start)].replace("&amp;", "&"))
        url, query = link.path, link.query
    assert seen == len(whole) > 2


def test_the_label_sheet_links_its_next_sheet(chain: Chain) -> None:
    lot, encoded = "A/B-2", "A%2FB-2"
    serials = sorted(f"S/{n}" for n in range(5))
    chain.send(
        chain.maker,
        "batch.commission",
        {"gtin": GTIN, "lot": lot, "expiry": "301231", "serials": serials},
    )
    url, query, printed, sheets = f"/labels/{GTIN}/{encoded}", "perPage=2", [], 0
    while True:
        sheets += 1
        sheet = read(chain.client, chain.maker, url, query_string=query)
        assert sheet.status_code == 200
        page = sheet.get_data(as_text=True)
        printed += [line.split("<", 1)[0].strip() for line in page.split("(21) ")[1:]]
        if 'id="labels-next"' not in page:
            break
        start = page.index('href="', page.index('id="labels-next"')) + len('href="')
        link = urlsplit(page[start : page.index('"', start)].replace("&amp;", "&"))
        assert link.path == url  # the lot's "/" stays %2F
        query = link.query
    assert printed == serials and sheets == 3
