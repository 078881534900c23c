"""Amendment diffs over HTTP: the demo's AE amendment, who reads them, escaping, erasure."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from provenance.access.principal import Principal
from provenance.access.rules import Facts, Rule
from provenance.demo import demo_key
from provenance.web.context import service
from tests.conftest import app_on, seeded_demo_app
from tests.parties import PartyKey, read
from tests.trials.test_access import OTHER_TRIAL as OTHER
from tests.trials.test_access import TRIAL_READERS, World, matrix_study
from tests.trials.test_trials import SIG, TRIAL, Study
from trials import dataset_changes, diff_web
from trials.demo import story
from trials.payloads import store_payload

DEMO = f"/api/v1/trials/{story.TRIAL_ID}/datasets/AE"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, PartyKey]]:
    """The demo trial, and its sponsor."""
    with seeded_demo_app(tmp_path_factory.mktemp("diff-demo"), 0, ("trials",)) as app:
        with app.app_context():
            key = demo_key(service().settings.data_dir, story.SPONSOR.slug)
        yield app, PartyKey(key, story.SPONSOR.gln)


def _demo_subjects() -> list[str]:
    """The subjects of the demo's first three AE records, the ones its amendment regrades."""
    ae = story._frames()["AE"]
    return [str(s) for s in ae["SUBJECT"][:3]]


def test_the_demo_ae_amendment_changed_three_toxicity_grades(demo: tuple[Flask, PartyKey]) -> None:
    app, sponsor = demo
    client = app.test_client()
    answer = read(client, sponsor, f"{DEMO}/diff").get_json()
    assert answer["dataset"] == "AE"
    (amendment,) = answer["diffs"]
    assert (amendment["from"]["version"], amendment["to"]["version"]) == (1, 2)
    assert amendment["to"]["reason"] == story.AE_REASON
    assert amendment["to"]["printed_name"] == "Dr. Jane Roe"
    # The demo's raw AE extract has no natural key (no USUBJID or AESEQ, and one row twice).
    assert amendment["key"] == {"columns": [], "source": "row-order"}
    subjects = _demo_subjects()
    assert [
        (c["subject"], c["from_row"], c["to_row"], c["column"], c["old"], c["new"])
        for c in amendment["cells_changed"]
    ] == [(subjects[n], n + 1, n + 1, "AETOXGR", "MILD", "2") for n in range(3)]
    assert amendment["counts"] == {
        "rows_from": 4854,
        "rows_to": 4854,
        "rows_added": 0,
        "rows_removed": 0,
        "rows_changed": 3,
        "cells_changed": 3,
        "duplicate_keys": 0,
    }
    assert (amendment["rows_added"], amendment["rows_removed"]) == ([], [])
    assert amendment["columns"] == {"added": [], "removed": [], "reordered": False}
    # The same two versions, named by number or by the entry that submitted them.
    entry = amendment["to"]["entry"]
    for query in ("from=1&to=2", f"to=entry:{entry}", "from=1"):
        again = read(client, sponsor, f"{DEMO}/diff?{query}").get_json()["diffs"]
        assert [d["cells_changed"] for d in again] == [amendment["cells_changed"]]


def test_the_demo_change_trail_csv_page_and_trial_page(demo: tuple[Flask, PartyKey]) -> None:
    app, sponsor = demo
    client = app.test_client()
    response = read(client, sponsor, f"{DEMO}/diff.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    subjects = _demo_subjects()
    assert [(r["change"], r["subject"], r["to_row"], r["old"], r["new"]) for r in rows] == [
        ("cell changed", subjects[n], str(n + 1), "MILD", "2") for n in range(3)
    ]
    assert {(r["from_version"], r["to_version"], r["column"]) for r in rows} == {
        ("1", "2", "AETOXGR")
    }
    page = read(client, sponsor, f"/trials/{story.TRIAL_ID}/datasets/AE/diff").get_data(
        as_text=True
    )
    assert page.count("<td>AETOXGR</td><td><del>MILD</del></td><td><ins>2</ins></td>") == 3
    assert "4854 → 4854 rows: 0 added, 0 removed,\n3 changed (3 cells)" in page
    trial = read(client, sponsor, f"/trials/{story.TRIAL_ID}").get_data(as_text=True)
    assert "AE v1 → v2:\n0 rows added, 0 removed, 3 cells changed in 3 rows" in trial
    assert f'href="/trials/{story.TRIAL_ID}/datasets/AE/diff?to=2">change trail</a>' in trial
    # Keyed by a column many rows share, the key is reported and those rows matched by content:
    # the three regraded events become rows removed and added.
    keyed = read(client, sponsor, f"{DEMO}/diff?key=SUBJECT").get_json()["diffs"][0]
    counts = keyed["counts"]
    assert (counts["cells_changed"], counts["rows_added"], counts["rows_removed"]) == (0, 3, 3)
    assert keyed["key"] == {"columns": ["SUBJECT"], "source": "requested"}
    assert {"SUBJECT": subjects[0]} in keyed["duplicate_keys"]
    page = read(client, sponsor, f"/trials/{story.TRIAL_ID}/datasets/AE/diff?key=SUBJECT")
    text = page.get_data(as_text=True)
    assert f"key value(s) identify more than one row, e.g. SUBJECT={subjects[0]}" in text
    assert 'href="/api/v1/trials/NCT99000001/datasets/AE/diff.csv?key=SUBJECT"' in text
    # A dataset never amended has nothing to compare.
    dm = read(client, sponsor, f"/api/v1/trials/{story.TRIAL_ID}/datasets/DM/diff").get_json()
    assert dm["diffs"] == []


# --- a small trial: who reads a diff, and what its cells may hold ---------------------------

MALICIOUS = '<script>alert("x")</script>'
FORMULA = '=HYPERLINK("http://evil.example/","open")'


def _amended() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(
        [
            ["subject", "aeterm", "aeser", "aestdt"],
            ["S-1", MALICIOUS, "N", "2026-02-01"],
            ["S-2", FORMULA, "Y", "2026-02-03"],
        ]
    )
    return out.getvalue().encode()


class _Seeded(Study):
    """Payloads stored as the operator's seeding stores them, not through the upload route
    (whose rules tests/trials/test_uploads.py tests)."""

    def upload(
        self, data: bytes, media_type: str = "text/csv", party: PartyKey | None = None
    ) -> tuple[str, bytes]:
        salt = hashlib.sha256(data + bytes([len(self.salts)])).digest()
        self.salts.append(salt)
        app = self.client.application
        with app.app_context():
            gln = (party or self.sponsor).gln
            stored = store_payload(service().engine, data, salt, media_type, party=gln)
        return stored["commitment"], salt


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The access matrix's trial (tests/trials/test_access.py), its AE dataset amended to hold
    markup and a formula; OTHER_TRIAL is another sponsor's, listing `unlisted site`."""
    with app_on("sqlite", tmp_path_factory.mktemp("diff-access") / "data") as app:
        study, parties, first = matrix_study(app, _Seeded)
        body = study.dataset_body("AE", _amended())
        reason = "Adverse event terms corrected after source data verification"
        study.send(study.site, "dataset.amend", dict(body, supersedes=1, reason=reason))
        yield World(app, study.client, study, parties, first["payload"], body["payload"])


ROUTES = (
    "/api/v1/trials/{trial}/datasets/AE/diff",
    "/api/v1/trials/{trial}/datasets/AE/diff.csv",
    "/trials/{trial}/datasets/AE/diff",
)


@pytest.mark.parametrize("route", ROUTES)
def test_a_diff_is_read_by_those_who_read_the_dataset_history(world: World, route: str) -> None:
    url = route.format(trial=TRIAL)
    history = world.statuses(f"/api/v1/trials/{TRIAL}/datasets/AE/history")
    assert world.statuses(url) == history == TRIAL_READERS
    # Another sponsor's trial is 403 as a whole; an unknown trial or dataset, 404.
    assert world.status("sponsor", route.format(trial=OTHER)) == 403
    assert world.status("sponsor", route.format(trial="NCT00000000")) == 404
    assert world.status("sponsor", url.replace("/AE/", "/LB/")) == 404


def test_bad_queries_are_problems(world: World) -> None:
    url = f"/api/v1/trials/{TRIAL}/datasets/AE/diff"
    for query, status in (
        ("from=first", 400),
        ("to=1", 400),
        ("from=1&to=7", 404),
        ("to=entry:999999", 404),
        ("key=SUBJECT,NOPE", 400),
        ("key=,", 400),
        ("digits=18", 400),
        ("limit=-1", 400),
        ("limit=%C2%B2", 400),  # a superscript two: a digit to str.isdigit
        ("from=%D9%A1", 400),  # an Arabic-Indic one
    ):
        response = read(world.client, world.parties["sponsor"], f"{url}?{query}")
        assert response.status_code == status, query
        assert response.mimetype == "application/problem+json"


def test_cells_are_escaped_in_the_page_and_the_csv(world: World) -> None:
    answer = world.json("site party", f"/api/v1/trials/{TRIAL}/datasets/AE/diff")
    changed = [(c["column"], c["old"], c["new"]) for c in answer["diffs"][0]["cells_changed"]]
    assert changed == [("AETERM", "Headache", MALICIOUS), ("AETERM", "Nausea", FORMULA)]
    for url in (f"/trials/{TRIAL}/datasets/AE/diff", f"/trials/{TRIAL}"):
        page = read(world.client, world.parties["site party"], url).get_data(as_text=True)
        assert "<script>" not in page
    page = read(
        world.client, world.parties["site party"], f"/trials/{TRIAL}/datasets/AE/diff"
    ).get_data(as_text=True)
    assert "<ins>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</ins>" in page
    text = read(
        world.client, world.parties["site party"], f"/api/v1/trials/{TRIAL}/datasets/AE/diff.csv"
    ).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["new"] for r in rows] == [MALICIOUS, "'" + FORMULA]
    assert json.loads(rows[0]["key"]) == {}


def test_both_payloads_are_checked_under_the_payload_rule(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def only_the_first(who: Principal, facts: Facts) -> bool:
        asked.append(facts.args["commitment"])
        return bool(facts.args["commitment"] == world.named)

    monkeypatch.setattr(diff_web, "PAYLOAD_READERS", Rule("first only", only_the_first))
    for route in ROUTES:
        response = read(world.client, world.parties["sponsor"], route.format(trial=TRIAL))
        assert response.status_code == 403
    assert set(asked) == {world.named, world.unnamed}
    page = read(world.client, world.parties["sponsor"], f"/trials/{TRIAL}").get_data(as_text=True)
    assert "not compared: the payload of version 2 is not yours to read" in page
    assert '<p id="consent">' in page  # the rest of the trial page is there


def test_a_dataset_too_large_to_compare_is_refused_before_it_is_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dataset_changes, "MAX_DIFF_CELLS", 7)  # the AE versions are 2 x 4
    for route in ROUTES[:2]:
        response = read(world.client, world.parties["sponsor"], route.format(trial=TRIAL))
        assert response.status_code == 413
        assert response.get_json()["limit"] == 7


def test_an_erased_version_is_gone_and_the_trial_page_says_so(world: World) -> None:
    """Last in this module: it erases the first version's payload."""
    study = world.study
    first = study.trial()["datasets"][0]
    erase = {
        "trial": TRIAL,
        "payload": first["payload"],
        "reason": "Subject S-2 exercised the right to erasure (GDPR art. 17)",
        "signature": SIG,
    }
    study.send(study.sponsor, "payload.erase", erase)
    response = study.read(f"/api/v1/trials/{TRIAL}/datasets/AE/diff")
    assert response.status_code == 410
    assert response.get_json()["reason"] == erase["reason"]
    page = study.read(f"/trials/{TRIAL}").get_data(as_text=True)
    assert "AE v1 → v2:\nnot compared: version 1&#39;s payload was erased" in page


def test_the_pure_diff_module_needs_no_web_or_database() -> None:
    source = Path(__file__).resolve().parents[2] / "trials" / "dataset_diff.py"
    imports = [line for line in source.read_text().splitlines() if "import" in line]
    assert not [line for line in imports if any(w in line for w in ("flask", "sqlalchemy"))]
