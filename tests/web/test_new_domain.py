"""A third domain, declared here and nowhere else, runs on the log without touching the core.

The cold chain below has a statement kind, a projection table, a party role, a page, a report
and a demo story: everything a domain declares. The app installs it like the supply chain and the
trials, and the log appends, verifies and rebuilds its entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Blueprint, Response, jsonify
from sqlalchemy import Column, Connection, Float, Integer, MetaData, String, Table

from provenance.access.rules import Rule, roles
from provenance.app import create_app
from provenance.demo import demo_key
from provenance.log import body as f
from provenance.log.errors import BadStatement
from provenance.log.kinds import KindRule, Op, ledger_kind
from provenance.log.personality import Personality
from provenance.log.store.engine import query_dicts, read_connection
from provenance.plugins import Demo, DemoParty, DemoRun, Installed, Plugin
from provenance.reports.model import Metric, Params, Report, ReportKind, Section, Step, report_kind
from provenance.reports.source import Source
from provenance.web.context import service
from tests.conftest import run_named_report
from tests.parties import Authority, PartyKey, read, register_party

METADATA = MetaData()
Table(
    "temperature",
    METADATA,
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("shipment", String(40), nullable=False),
    Column("celsius", Float, nullable=False),
    Column("party", String(13), nullable=False),
)


@ledger_kind("temperature.record", frozenset({"carrier"}), "a carrier logs a reading")
def record(op: Op) -> None:
    f.exact_members(op.body, "shipment", "celsius")
    celsius = op.body["celsius"]
    if not isinstance(celsius, int | float) or not -80 <= celsius <= 60:
        raise BadStatement("body.celsius must be a number from -80 to 60")
    row = {"idx": op.ledger.index, "shipment": f.text(op.body, "shipment", 40)}
    op.ledger.put("temperature", {**row, "celsius": float(celsius), "party": op.party})


cold = Blueprint("cold", __name__)


@cold.get("/temperatures")
def temperatures() -> Response:
    with read_connection(service().engine) as conn:
        rows = query_dicts(conn, "SELECT shipment, celsius FROM temperature ORDER BY idx")
    return jsonify(rows)


@report_kind("cold-chain", "Cold chain", "Readings out of range.", steps=1)
def cold_report(source: Source, params: Params, step: Step) -> Report:
    readings = source.table("temperature")
    warm = readings[readings["celsius"] > 8] if not readings.empty else pd.DataFrame()
    step("read the temperatures")
    section = Section("Readings", metrics=[Metric("Above 8 °C", str(len(warm)), bool(len(warm)))])
    return Report("cold-chain", "Cold chain", params, [section])


def story(run: DemoRun) -> str:
    run.submit([run.sign("truck", "temperature.record", {"shipment": "S1", "celsius": 5})])
    return "cold chain: 1 reading"


def _blueprints() -> Sequence[Blueprint]:
    return (cold,)


def _access() -> Mapping[str, Rule]:
    return {"cold.temperatures": roles("carrier")}


def _reports() -> Sequence[ReportKind]:
    return (cold_report,)


COLD_CHAIN = Plugin(
    personality=Personality(
        "cold",
        kinds=(record,),
        tables={"temperature": ("idx",)},
        metadata=METADATA,
        roles=frozenset({"carrier"}),
    ),
    blueprints=_blueprints,
    access=_access,
    reports=_reports,
    demo=Demo((DemoParty("truck", "Cold Trucks", "5412345000075", ("carrier",)),), story),
    nav=(("Temperatures", "/temperatures"),),
)


def test_a_new_domain_is_one_declaration(tmp_path: Path) -> None:
    assert isinstance(record, KindRule)
    app = create_app(
        {"TESTING": True, "DATA_DIR": str(tmp_path / "data")}, Installed((COLD_CHAIN,))
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init", "--demo"]).exit_code == 0
    seeded = runner.invoke(args=["seed-demo", "--entries", "2"])
    assert "registered 1 demo parties" in seeded.output and "cold chain: 1 reading" in seeded.output
    client = app.test_client()
    carrier = register_party(
        client, Authority.from_app(app), "Ice Van", "5412345000082", ["carrier"]
    )
    hot = carrier.envelope("temperature.record", {"shipment": "S2", "celsius": 12.5})
    assert client.post("/api/v1/statements", json=hot).status_code == 201
    too_hot = carrier.envelope("temperature.record", {"shipment": "S2", "celsius": 99})
    assert client.post("/api/v1/statements", json=too_hot).status_code == 422
    assert client.get("/temperatures").status_code == 401
    assert read(client, carrier, "/temperatures").get_json() == [
        {"shipment": "S1", "celsius": 5.0},
        {"shipment": "S2", "celsius": 12.5},
    ]
    assert 'href="/temperatures"' in client.get("/").get_data(as_text=True)
    assert client.get("/scan").status_code == 404  # the other domains are not installed
    report = run_named_report(app, "cold-chain", Params())
    assert report.metric("Above 8 °C").value == "1" and report.metric("Above 8 °C").flag
    verified = runner.invoke(args=["verify", "--quiet", "--workers", "1"])
    assert verified.exit_code == 0 and "log intact" in verified.output
    rebuilt = runner.invoke(args=["rebuild", "--quiet"])
    assert "identical" in rebuilt.output
    with app.app_context():
        truck = PartyKey(demo_key(service().settings.data_dir, "truck"), "5412345000075")
    assert client.get("/api/v1/log/entries/2").status_code == 401  # its signer's to read
    entry: Any = read(client, truck, "/api/v1/log/entries/2").get_json()
    assert entry["entry"]["statement"]["kind"] == "temperature.record"
    with app.app_context():
        with read_connection(service().engine) as conn:
            assert _count(conn) == 2
        service().close()


def _count(conn: Connection) -> int:
    return len(query_dicts(conn, "SELECT idx FROM temperature"))
