"""A resolver lookup or scan runs a few statements, each a search by key: its cost does not grow
with the number of parties, batches or packs, and party names are never stale."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, event

from provenance.supply import scanned_rows
from provenance.web.context import service
from tests.parties import Authority, read, register_party
from tests.supply.chain import GTIN, JSON, LOT, Chain, full_chain

#: The statements each kind of lookup runs, at most. A signed request spends 4 of its 8 on its
#: signature (its key, its party, its person); its lookup reads the scanned rows in one, then the
#: batch's timeline, alerts and holdings, each with the names of the parties it names.
MOST = {
    "anonymous pack": 1,
    "anonymous pack page": 1,
    "party's pack": 8,
    "party's pack page": 8,
    "GS-less scan": 3,  # the packs and batches of every reading the data allows, then the lookup
    "GS-less scan page": 3,
    "GTIN only": 1,
    "GTIN scan page": 1,
}
#: What a plan may walk whole: the one constant row the lookup's outer joins hang from.
SMALL = ("one_row",)


def _engine(app: Flask) -> Engine:
    with app.app_context():
        return service().engine


@contextmanager
def traced(app: Flask) -> Iterator[list[str]]:
    """Every SELECT the database runs meanwhile, as SQLite expands it."""
    engine = _engine(app)
    seen: list[str] = []

    def connected(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(seen.append)

    engine.dispose()
    event.listen(engine, "connect", connected)
    try:
        yield seen
    finally:
        event.remove(engine, "connect", connected)
        engine.dispose()
    seen[:] = [s for s in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]


def plans(app: Flask, statements: list[str]) -> list[str]:
    """SQLite's query plan of each statement, its steps joined."""
    with _engine(app).connect() as conn:
        return [
            " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            for sql in statements
        ]


def scans_a_table(plan: str) -> bool:
    steps = [s.strip() for s in plan.split("|")]
    return any(
        s.startswith("SCAN ")
        and not s.startswith("SCAN CONSTANT ROW")
        and s.split()[1] not in SMALL
        for s in steps
    )


def fill(app: Flask, count: int) -> None:
    """`count` more parties, batches and packs, none of them the chain's."""
    with _engine(app).begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO party (gln, name, roles, registered_index) VALUES (?, ?, 'pharmacy', ?)",
            [(f"9{i:012d}", f"Filler {i}", 100000 + i) for i in range(count)],
        )
        conn.exec_driver_sql(
            "INSERT INTO batch (gtin, lot, manufacturer, expiry, quantity, serialised, "
            "dispensed, destroyed, status, commissioned_index, commissioned_at) "
            "VALUES (?, ?, '5412345000013', '301231', 1, 1, 0, 0, 'active', ?, 't')",
            [(GTIN, f"F{i:05d}", 100000 + i) for i in range(count)],
        )
        conn.exec_driver_sql(
            "INSERT INTO pack (gtin, serial, lot, holder, state, state_by, state_index, "
            "state_at) VALUES (?, ?, ?, '5412345000013', 'active', '5412345000013', ?, 't')",
            [(GTIN, f"P{i:05d}", f"F{i:05d}", 100000 + i) for i in range(count)],
        )


def lookups(c: Chain, serials: list[str]) -> dict[str, Any]:
    """Each kind of lookup: what to run, and the status it answers."""
    pack = f"/01/{GTIN}/10/{LOT}/21/{serials[0]}"
    return {
        "anonymous pack": lambda: read(c.client, None, pack, headers=JSON),
        "anonymous pack page": lambda: read(c.client, None, pack),
        "party's pack": lambda: read(c.client, c.pharmacy, pack, headers=JSON),
        "party's pack page": lambda: read(c.client, c.maker, pack),
        "GS-less scan": lambda: c.client.get(
            "/api/v1/scan", query_string={"code": f"]d201{GTIN}10{LOT}21{serials[1]}"}
        ),
        "GS-less scan page": lambda: c.client.get(
            "/scan", query_string={"code": f"]d201{GTIN}10{LOT}21{serials[1]}"}
        ),
        "GTIN only": lambda: read(c.client, None, f"/01/{GTIN}", headers=JSON),
        "GTIN scan page": lambda: c.client.get("/scan", query_string={"code": GTIN}),
    }


def measure(app: Flask, c: Chain, serials: list[str]) -> dict[str, tuple[list[str], Any]]:
    measured: dict[str, tuple[list[str], Any]] = {}
    for name, run in lookups(c, serials).items():
        with traced(app) as seen:
            response = run()
        assert response.status_code == 200, (name, response.get_data(as_text=True)[:500])
        measured[name] = (seen, response)
    return measured


@pytest.fixture
def chained(chain: Chain) -> list[str]:
    return full_chain(chain)


def test_each_lookup_runs_a_few_searches_however_large_the_log(
    app: Flask, chain: Chain, chained: list[str]
) -> None:
    small = measure(app, chain, chained)
    fill(app, 2000)
    large = measure(app, chain, chained)
    for name, (statements, response) in large.items():
        assert len(statements) == len(small[name][0]), (name, statements, small[name][0])
        assert len(statements) <= MOST[name], (name, statements)
        for sql, plan in zip(statements, plans(app, statements), strict=True):
            assert not scans_a_table(plan), (name, sql, plan)
        if "scan" not in name and "page" not in name:  # (those show the time of the scan)
            assert response.get_json() == small[name][1].get_json(), name
    # The verdict and the names are still those of the chain.
    body = large["party's pack"][1].get_json()
    assert body["verdict"] == "authentic" and body["view"] == "full"
    assert {h["name"] for h in body["holdings"]} >= {"MedSupply", "City Pharmacy"}
    assert large["GS-less scan"][1].get_json()["verdict"] == "authentic"
    assert large["GTIN only"][1].get_json()["product"]["manufacturer_name"] == "Acme Pharma"


def test_a_party_registered_after_a_lookup_is_named_in_the_next(
    client: Any, authority: Authority, chain: Chain, chained: list[str]
) -> None:
    pack = f"/01/{GTIN}/10/{LOT}/21/{chained[0]}"
    late = "5412345000099"
    before = read(client, chain.maker, pack)
    assert before.status_code == 200
    assert "City Pharmacy" in before.get_data(as_text=True)
    assert late not in before.get_data(as_text=True)
    register_party(client, authority, "Late Pharmacy", late, ["pharmacy"])
    chain.send(
        chain.pharmacy,
        "custody.ship",
        {"shipment": "P1", "gtin": GTIN, "lot": LOT, "to": late, "serials": chained[:1]},
    )
    page = read(client, chain.maker, pack).get_data(as_text=True)
    assert f'<span class="party" title="GLN {late}">Late Pharmacy</span>' in page
    body = read(client, chain.maker, pack, headers=JSON).get_json()
    shipped = [e for e in body["timeline"] if e["counterparty"] == late]
    assert [e["counterparty_name"] for e in shipped] == ["Late Pharmacy"]
    assert body["pack"]["holder"] is None  # in transit to the new party


def test_names_the_rows_did_not_carry_are_read_by_key(app: Flask, chain: Chain) -> None:
    """A name the answer's own rows lack (a GLN in a reason) is read by its key, and a party
    added meanwhile is found."""
    with _engine(app).connect() as conn:
        assert scanned_rows.party_names(conn, ["5412345000013", "7000000000005"]) == {
            "5412345000013": "Acme Pharma"
        }
        assert scanned_rows.party_names(conn, []) == {}
    with _engine(app).begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO party (gln, name, roles, registered_index) "
            "VALUES ('7000000000005', 'Added', 'pharmacy', 99999)"
        )
    with _engine(app).connect() as conn:
        many = [f"7{i:012d}" for i in range(1200)]
        assert scanned_rows.party_names(conn, many) == {"7000000000005": "Added"}
