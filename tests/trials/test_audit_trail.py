"""The trial page's audit trail: paged through to the end, counted, filtered; consent findings,
report links, and 404 for an unknown trial."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from provenance.log.store.engine import query_dicts, read_connection
from provenance.web.context import service
from tests.conftest import seeded_demo_app
from tests.parties import PartyKey, demo_party, read

TRIAL = "NCT99000001"
PAGE = f"/trials/{TRIAL}"
API = f"/api/v1/trials/{TRIAL}/history"
ENTRY = re.compile(r'<tr><td>([^<]*)</td><td>([^<]*)</td>.*?<a href="/log/receipt/(\d+)">', re.S)
COUNT = re.compile(r'<p id="trail-count">(.*?)\s*·', re.S)
NEXT = re.compile(r'id="history-next" rel="next" href="([^"#]+)')


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with seeded_demo_app(tmp_path_factory.mktemp("trail"), 0, ("trials",)) as app:
        yield app


@pytest.fixture(scope="module")
def trail(seeded: Flask) -> list[dict[str, Any]]:
    """The whole audit trail, straight from the projection."""
    with seeded.app_context(), read_connection(service().engine) as conn:
        return query_dicts(
            conn, "SELECT * FROM trial_event WHERE trial_id = ? ORDER BY idx, seq", (TRIAL,)
        )


def _pages(app: Flask, party: PartyKey, path: str) -> list[tuple[str, list[tuple[str, str, int]]]]:
    """Every page of the trail from `path` on, following the next links: (count line, rows)."""
    client = app.test_client()
    pages = []
    while path:
        answer = read(client, party, path)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        text = answer.get_data(as_text=True)
        table = text[text.index('<table id="history">') :]
        rows = [(at, what, int(idx)) for at, what, idx in ENTRY.findall(table)]
        pages.append((" ".join(COUNT.search(text).group(1).split()), rows))  # type: ignore[union-attr]
        following = NEXT.search(text)
        path = html.unescape(following.group(1)) if following else ""
        assert len(pages) < 100
    return pages


def test_paging_through_the_page_sees_every_entry_once(
    seeded: Flask, trail: list[dict[str, Any]]
) -> None:
    pages = _pages(seeded, demo_party(seeded, "regulator"), PAGE)
    total = len(trail)
    assert total == 2606  # the demo trial's audit trail
    seen = [row[2] for _, rows in pages for row in rows]
    assert seen == [int(e["idx"]) for e in trail]  # in order, each once
    assert len(pages) == -(-total // 200)
    assert pages[0][0] == "Entries 1–200 of 2,606"
    assert pages[1][0] == "Entries 201–400 of 2,606"
    assert pages[-1][0] == f"Entries {200 * (len(pages) - 1) + 1:,}–2,606 of 2,606"
    assert 'id="history-first"' not in read(
        seeded.test_client(), demo_party(seeded, "regulator"), PAGE
    ).get_data(as_text=True)


def test_the_json_trail_pages_with_counts(seeded: Flask, trail: list[dict[str, Any]]) -> None:
    client, regulator = seeded.test_client(), demo_party(seeded, "regulator")
    path, seen, first = f"{API}?perPage=700", [], 1
    while path:
        body = read(client, regulator, path).get_json()
        assert (body["first"], body["matching"], body["total"]) == (first, 2606, 2606)
        seen += [(e["idx"], e["seq"]) for e in body["history"]]
        first += len(body["history"])
        path = body.get("next", "")
    assert seen == [(e["idx"], e["seq"]) for e in trail]


FILTERS: list[tuple[str, Any]] = [
    ("kind=protocol", lambda e: e["action"] == "protocol"),
    ("kind=consent", lambda e: e["action"] == "consent"),
    ("signer=john+doe", lambda e: "john doe" in e["printed_name"].lower()),
    ("signer=5412345000051", lambda e: e["party"] == "5412345000051"),
    ("record=dataset+AE", lambda e: "dataset ae" in e["subject"].lower()),
    (
        "kind=enrol&record=at+site+3",
        lambda e: e["action"] == "enrol" and "at site 3" in e["subject"],
    ),
    ("record=50%25", lambda e: "50%" in e["subject"]),  # LIKE wildcards are taken literally
]


@pytest.mark.parametrize(("query", "keep"), FILTERS)
def test_filters_narrow_the_trail(
    seeded: Flask, trail: list[dict[str, Any]], query: str, keep: Any
) -> None:
    wanted = [int(e["idx"]) for e in trail if keep(e)]
    pages = _pages(seeded, demo_party(seeded, "regulator"), f"{PAGE}?{query}&perPage=150")
    seen = [row[2] for _, rows in pages for row in rows]
    assert seen == wanted
    if wanted:
        assert pages[0][0] == (
            f"Entries 1–{min(150, len(wanted)):,} of {len(wanted):,} matching the filter "
            "(2,606 in all)"
        )
    else:
        assert pages[0][0] == "No entries matching the filter (2,606 in all)"


def test_a_date_range_keeps_the_days_it_names(seeded: Flask, trail: list[dict[str, Any]]) -> None:
    day = trail[len(trail) // 2]["at"][:10]
    pages = _pages(seeded, demo_party(seeded, "regulator"), f"{PAGE}?from={day}&to={day}")
    seen = [row[2] for _, rows in pages for row in rows]
    assert seen == [int(e["idx"]) for e in trail if e["at"][:10] == day]
    none = _pages(seeded, demo_party(seeded, "regulator"), f"{PAGE}?to=2001-01-01")
    assert none[0][1] == [] and none[0][0].startswith("No entries")


def test_the_csv_export_keeps_the_filter(seeded: Flask, trail: list[dict[str, Any]]) -> None:
    answer = read(seeded.test_client(), demo_party(seeded, "regulator"), f"{API}.csv?kind=protocol")
    lines = answer.get_data(as_text=True).strip().splitlines()
    assert len(lines) == 1 + sum(e["action"] == "protocol" for e in trail)
    page = read(seeded.test_client(), demo_party(seeded, "regulator"), f"{PAGE}?kind=protocol")
    assert f"{API}.csv?kind=protocol" in page.get_data(as_text=True)


def test_a_site_party_counts_only_what_it_sees(seeded: Flask) -> None:
    site = demo_party(seeded, "site001")
    body = read(seeded.test_client(), site, f"{API}?perPage=1000").get_json()
    seen = body["history"]
    while "next" in body:
        body = read(seeded.test_client(), site, body["next"]).get_json()
        seen += body["history"]
    assert body["total"] == len(seen) < 2606
    with seeded.app_context(), read_connection(service().engine) as conn:
        ours = {
            row["subject"]
            for row in query_dicts(
                conn,
                "SELECT subject FROM enrolment WHERE trial_id = ? AND site = '3'",
                (TRIAL,),
            )
        }
    about = [e for e in seen if e["action"] in ("enrol", "consent", "withdraw")]
    assert about and all(e["subject"].split()[1] in ours for e in about)
    pages = _pages(seeded, site, PAGE)
    assert pages[0][0] == f"Entries 1–{min(200, len(seen)):,} of {len(seen):,}"


@pytest.mark.parametrize(
    "query",
    ["kind=nonsense", "from=yesterday", "from=2026-02-01&to=2026-01-01", "signer=" + "x" * 201],
)
def test_bad_filters_are_400(seeded: Flask, query: str) -> None:
    answer = read(seeded.test_client(), demo_party(seeded, "regulator"), f"{API}?{query}")
    assert answer.status_code == 400
    assert answer.get_json()["type"].endswith("bad-parameter")


def test_a_token_belongs_to_its_filter(seeded: Flask) -> None:
    client, regulator = seeded.test_client(), demo_party(seeded, "regulator")
    token = read(client, regulator, f"{API}?perPage=2&kind=consent").get_json()["nextPageToken"]
    other = read(client, regulator, f"{API}?perPage=2&kind=enrol&nextPageToken={token}")
    assert other.status_code == 400


def test_consent_findings_are_a_box_with_counts_and_subjects(seeded: Flask) -> None:
    text = read(seeded.test_client(), demo_party(seeded, "regulator"), PAGE).get_data(as_text=True)
    box = text[text.index('id="consent-box"') : text.index('id="trial-reports"')]
    assert "<details" not in box
    assert re.search(r'id="consent-none"><b>4</b> enrolled without consent', box)
    assert re.search(r'id="consent-before"><b>16</b> enrolled before', box)
    subjects = re.findall(r"<tr><td><code>(S-[0-9a-f]{12})</code>", box)
    assert len(subjects) == len(set(subjects)) == 20
    assert f"/trials/{TRIAL}?record={subjects[0]}#audit-trail" in box
    # The link to a subject's entries finds them.
    pages = _pages(seeded, demo_party(seeded, "regulator"), f"{PAGE}?record={subjects[0]}")
    assert pages[0][1] and all(subjects[0] in what for _, what, _ in pages[0][1])


def test_the_page_links_its_reports_and_receipts(seeded: Flask) -> None:
    text = read(seeded.test_client(), demo_party(seeded, "regulator"), PAGE).get_data(as_text=True)
    for name in ("trial-checks", "monitoring"):
        assert f'href="/reports/{name}/?trial={TRIAL}"' in text
        assert f'href="/reports/{name}/report.pdf?trial={TRIAL}"' in text
    assert re.search(r'href="/log/receipt/\d+"', text)
    report = read(
        seeded.test_client(),
        demo_party(seeded, "regulator"),
        f"/reports/trial-checks/?trial={TRIAL}",
    ).get_data(as_text=True)
    assert f'href="/trials/{TRIAL}"' in report


@pytest.mark.parametrize(
    "path",
    [
        "/trials/NCT00000000",
        "/api/v1/trials/NCT00000000",
        "/api/v1/trials/NCT00000000/history",
        "/api/v1/trials/NCT00000000/history.csv",
    ],
)
def test_an_unknown_trial_is_404(seeded: Flask, path: str) -> None:
    for party in ("regulator", "sponsor"):
        answer = read(seeded.test_client(), demo_party(seeded, party), path)
        assert answer.status_code == 404, (party, path)


PREVIOUS = re.compile(r'id="history-previous" rel="prev" href="([^"#]+)')


@pytest.mark.parametrize(
    ("party", "query"),
    [
        ("regulator", "perPage=300"),
        ("regulator", "kind=consent&perPage=250"),
        ("site001", "perPage=4"),
    ],
)
def test_previous_links_walk_back_to_the_first_page(
    seeded: Flask, trail: list[dict[str, Any]], party: str, query: str
) -> None:
    reader = demo_party(seeded, party)
    forward = _pages(seeded, reader, f"{PAGE}?{query}")
    client = seeded.test_client()
    # From the last page, follow the previous links: the same pages, in reverse.
    text = ""
    path = f"{PAGE}?{query}"
    while True:  # to the last page
        text = read(client, reader, path).get_data(as_text=True)
        following = NEXT.search(text)
        if following is None:
            break
        path = html.unescape(following.group(1))
    backward = []
    while True:
        table = text[text.index('<table id="history">') :]
        backward.append([int(idx) for _, _, idx in ENTRY.findall(table)])
        previous = PREVIOUS.search(text)
        if previous is None:
            break
        text = read(client, reader, html.unescape(previous.group(1))).get_data(as_text=True)
    assert backward[::-1] == [[row[2] for row in rows] for _, rows in forward]
    assert len(backward) > 2
