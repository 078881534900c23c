"""The ledger report: verification figures, entries per kind/party/day, and the key timeline."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from provenance import demo
from provenance.log.signing import generate_private_key
from provenance.log.store.engine import read_connection
from provenance.plugins import load_plugins
from provenance.reports import ledger
from provenance.reports.model import Metric, Params, Report
from provenance.supply import demo as demo_supply
from provenance.web.context import installed, service
from tests.conftest import make_app, run_named_report, seeded_demo_app
from tests.parties import Authority, PartyKey, attestation, post

AUTHORITY = "0000000000000"  # the genesis authority's GLN in test and demo logs


def build(app: Flask) -> Report:
    return run_named_report(app, "ledger", Params())


def column(report: Report, table: str, *names: str) -> list[tuple[Any, ...]]:
    return list(report.table(table).frame[list(names)].itertuples(index=False, name=None))


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """Genesis, 6 demo parties, the 20-statement supply story and 3 attestations."""
    with seeded_demo_app(tmp_path_factory.mktemp("ledger-report"), 3, ("supply",)) as app:
        yield app


def test_demo_log_verifies_and_is_counted(demo_app: Flask) -> None:
    report = build(demo_app)
    with demo_app.app_context(), read_connection(service().engine) as conn:
        ((checkpoints,),) = conn.execute(text("SELECT count(*) FROM log_checkpoint")).all()
        ((day,),) = conn.execute(text("SELECT min(substr(logged_at, 1, 10)) FROM log_entry")).all()
    assert report.metric("Log") == Metric("Log", "intact")
    assert report.metric("Entries checked").value == "30"
    assert report.metric("Signatures checked").value == "30"
    assert report.metric("Checkpoints checked").value == str(checkpoints)
    assert report.metric("First failure") == Metric("First failure", "none")
    assert [t.name for t in report.sections[0].tables] == []  # no problems table when intact
    assert dict(column(report, "entries_per_kind", "kind", "entries")) == {
        "log.genesis": 1,
        "party.register": 6,
        "prefix.assign": 2,
        "product.register": 2,
        "batch.commission": 4,
        "custody.ship": 4,
        "custody.receive": 4,
        "custody.dispense": 1,
        "pack.state": 1,
        "scan.record": 1,
        "batch.recall": 1,
        "attestation": 3,
    }
    # The supply story's statements plus one attestation each for the first three parties.
    assert column(report, "entries_per_party", "gln", "entries") == [
        (demo_supply.GLNS["acme"], 10),
        (AUTHORITY, 9),
        (demo_supply.GLNS["medsupply"], 6),
        (demo_supply.GLNS["citypharmacy"], 4),
        ("5412345000044", 1),
    ]
    assert column(report, "entries_per_day", "day", "entries") == [(day, 30)]
    assert report.metric("Signing parties").value == "5"


def test_demo_key_events_are_the_registrations(demo_app: Flask) -> None:
    report = build(demo_app)
    events = report.table("key_events").frame
    assert events["index"].tolist() == list(range(7))
    assert set(events["event"]) == {"party registered"}
    assert events["party"].tolist()[1:] == [p.name for p in demo.parties(load_plugins().plugins)]
    assert events["detail"].tolist()[1] == "roles manufacturer"
    assert report.metric("Parties registered").value == "7"
    assert report.metric("Keys revoked").value == "0"


def test_rotation_and_revocation_on_the_timeline(
    client: FlaskClient,
    app: Flask,
    authority: Authority,
    manufacturer: PartyKey,
    pharmacy: PartyKey,
) -> None:
    new = PartyKey(generate_private_key(), manufacturer.gln)
    rotate = {
        "gln": manufacturer.gln,
        "old_key": manufacturer.key_id,
        "new_public_key": new.public_b64,
    }
    # Signed by the authority, the rotation takes effect at once.
    assert post(client, authority.envelope("key.rotate", rotate)).status_code == 201
    assert post(client, attestation(new, "signed with the new key")).status_code == 201
    revoke = {
        "key_id": pharmacy.key_id,
        "effective_at": "2020-01-01T00:00:00.000Z",
        "reason": "key compromised",
    }
    assert post(client, authority.envelope("key.revoke", revoke)).status_code == 201
    report = build(app)
    events = report.table("key_events").frame
    later = events[events["index"] > 2]
    assert list(later[["index", "event", "gln", "key_id"]].itertuples(index=False, name=None)) == [
        (3, "key retired", manufacturer.gln, manufacturer.key_id),
        (3, "key added", manufacturer.gln, new.key_id),
        (5, "key revoked", pharmacy.gln, pharmacy.key_id),
    ]
    assert later["detail"].tolist()[-1] == "from 2020-01-01T00:00:00.000Z: key compromised"
    assert later["at"].notna().all()
    assert (report.metric("Keys rotated out").value, report.metric("Keys revoked").value) == (
        "1",
        "1",
    )
    # Entries signed with the new key still count for the party that holds it.
    per_party = dict(column(report, "entries_per_party", "gln", "entries"))
    assert per_party[manufacturer.gln] == 1  # the attestation, signed with the new key


def test_tampered_log_shows_the_first_failure(tmp_path: Path) -> None:
    app = make_app(tmp_path / "data", demo=True)
    with app.app_context():
        demo.seed(service(), installed().plugins, 20, stories=())
        service().engine.dispose()
    # An attacker with file access drops the append-only guards and edits one entry.
    conn = sqlite3.connect(Path(app.config["DATA_DIR"]) / "provenance.db", isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    (data,) = conn.execute("SELECT data FROM log_entry WHERE idx = 12").fetchone()
    edited = data.replace(b'"logged_at":"2', b'"logged_at":"1', 1)
    assert edited != data
    conn.execute("UPDATE log_entry SET data = ? WHERE idx = 12", (edited,))
    conn.close()
    report = build(app)
    assert report.metric("Log") == Metric("Log", "DAMAGED", flag=True)
    first = report.metric("First failure")
    assert first.flag and first.value.startswith("index 12: edited entry: ")
    problems = report.table("verification_problems").frame
    assert problems.loc[0, ["index", "what"]].tolist() == [12, "edited entry"]
    # The counts still describe what the log holds.
    assert report.metric("Entries").value == "27"
    with app.app_context():
        service().close()


# --- pure pipelines on hand-made frames -------------------------------------------------------


def test_unregistered_signers_are_named_as_such() -> None:
    counts = pd.DataFrame(
        {"kind": ["a", "a", "b"], "signer": ["k1", "k2", "k9"], "day": ["d1", "d2", "d2"]}
    ).assign(entries=[3, 1, 2])
    keys = pd.DataFrame({"key_id": ["k1", "k2"], "gln": ["P", "P"]})
    parties = pd.DataFrame({"gln": ["P"], "name": ["Party P"]})
    named = ledger.signer_parties(counts, keys, parties)
    per_party = ledger.entries_per_party(named)
    assert per_party.values.tolist() == [
        ["P", "Party P", 4, 1, "d1", "d2"],
        ["", ledger.UNKNOWN, 2, 1, "d2", "d2"],
    ]
    assert ledger.entries_per_kind(named)[["kind", "entries", "share_pct"]].values.tolist() == [
        ["a", 4, 66.7],
        ["b", 2, 33.3],
    ]
    assert ledger.entries_per_day(named).values.tolist() == [["d1", 3], ["d2", 3]]


def test_key_events_order_a_rotation_within_its_entry() -> None:
    parties = pd.DataFrame(
        {"gln": ["P"], "name": ["Party P"], "roles": ["pharmacy"], "registered_index": [1]}
    )
    keys = pd.DataFrame(
        {
            "key_id": ["old", "new"],
            "gln": ["P", "P"],
            "added_index": [1, 4],
            "added_at": ["t1", "t4"],
            "retired_index": [4, None],
            "retired_at": ["t4", None],
            "revoked_from": [None, "t9"],
            "revoked_index": [None, 7],
            "revocation_reason": [None, "lost"],
        }
    )
    logged = pd.DataFrame({"idx": [7], "logged_at": ["t7"]})
    events = ledger.key_events(parties, keys, logged)
    assert events[["index", "at", "event", "key_id", "detail"]].values.tolist() == [
        [1, "t1", "party registered", "old", "roles pharmacy"],
        [4, "t4", "key retired", "old", "rotated out"],
        [4, "t4", "key added", "new", ""],
        [7, "t7", "key revoked", "new", "from t9: lost"],
    ]
    assert set(events["party"]) == {"Party P"}


def test_counts_are_carried_over_and_only_new_entries_are_counted(tmp_path: Path) -> None:
    """The entry counts are stored with the size they cover; the next report counts only the
    entries appended since and gives what a count over the whole log gives."""
    from provenance.log.store import logdb

    app = make_app(tmp_path / "data")
    client = app.test_client()
    authority = Authority.from_app(app)
    first = build(app)
    assert dict(column(first, "entries_per_kind", "kind", "entries")) == {"log.genesis": 1}
    party = PartyKey(generate_private_key(), "5412345000037")
    body = {"gln": party.gln, "name": "City Pharmacy", "roles": ["pharmacy"],
            "public_key": party.public_b64}  # fmt: skip
    assert post(client, authority.envelope("party.register", body)).status_code == 201
    for n in range(3):
        assert post(client, attestation(party, f"batch/{n}")).status_code == 201
    with app.app_context(), service().engine.connect() as conn:
        stored = conn.execute(text("SELECT size FROM log_entry_count")).scalars().all()
        # Entries appended after the stored counts are not in them.
        conn.execute(text("UPDATE log_entry_count SET counts = '[]'"))
        conn.commit()
    assert stored == [1]
    second = build(app)
    # The stored counts are believed (they cover entry 0 only, now emptied), the rest counted.
    assert dict(column(second, "entries_per_kind", "kind", "entries")) == {
        "party.register": 1,
        "attestation": 3,
    }
    with app.app_context(), read_connection(service().engine) as conn:
        whole = logdb.entry_counts(conn)
        sizes = conn.execute(text("SELECT size FROM log_entry_count")).scalars().all()
    assert sizes == [5]
    assert sorted((k, n) for k, _, _, n in whole) == [
        ("attestation", 3), ("log.genesis", 1), ("party.register", 1)
    ]  # fmt: skip
    with app.app_context():
        service().close()
