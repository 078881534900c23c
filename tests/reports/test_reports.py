"""Report framework: parameters, the files a report writes, `provenance report`, and /reports."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from flask import Flask
from matplotlib.figure import Figure

from provenance import demo
from provenance.cli import main
from provenance.errors import BadParameter, NotFound
from provenance.log.store import verification
from provenance.plugins import load_plugins
from provenance.reports.catalog import catalog, report_kind
from provenance.reports.model import Chart, Metric, Params, Report, Section, Table
from provenance.reports.render import report_json, write_report
from provenance.reports.run import parse_params, run_report
from provenance.web.context import installed, service
from tests.conftest import make_app, run_named_report
from tests.parties import Reader, demo_party

NAMES = ("ledger", "supply-chain", "trial-checks", "monitoring")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("reports") / "data", demo=True)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo", "--entries", "0"])
    assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        service().close()


def _report_args(app: Flask, name: str, out: Path, *more: str) -> list[str]:
    """`provenance report` arguments for the database and key folder of `app`."""
    settings = app.extensions["provenance"].settings
    return [
        *("report", name, "--out", str(out), "--database", settings.database_url),
        *("--data-dir", str(settings.data_dir), *more),
    ]


def _bars(figure: Figure) -> None:
    figure.add_subplot().bar(["a", "b"], [1, 2])


def _toy(params: Params) -> Report:
    frame = pd.DataFrame({"site": ["01", "<b>02</b>", None], "rate": [0.25, float("nan"), 1.0]})
    section = Section(
        "Sites",
        "triage only",
        [Metric("sites flagged", "1", flag=True), Metric("sites", "3")],
        [Table("site_rates", "Rates per site", frame, note="per 100 subjects")],
        [Chart("rates", "Rates", _bars, alt="two bars")],
    )
    return Report("toy", "Toy report", params, [section], log_size=7)


def test_parse_params_reads_text_and_refuses_nonsense() -> None:
    params = parse_params({"as_of": "2026-01-31", "days": "30", "trial": " NCT01 "})
    assert params == Params(as_of=date(2026, 1, 31), days=30, trial="NCT01")
    assert parse_params({"trial": ""}).trial is None
    assert parse_params({}).days == 14
    for bad in ({"as_of": "31/01/2026"}, {"days": "0"}, {"days": "-3"}, {"days": "x"}):
        with pytest.raises(BadParameter):
            parse_params(bad)
    with pytest.raises(BadParameter):
        parse_params({"days": "3651"})


def test_every_report_kind_is_registered() -> None:
    kinds = catalog(load_plugins())
    assert set(NAMES) <= set(kinds)
    for name in NAMES:
        assert kinds[name].steps >= 1 and kinds[name].description
    with pytest.raises(NotFound, match="ledger"):
        report_kind(kinds, "no-such-report")


def test_written_files_hold_every_row_and_escape_html(tmp_path: Path) -> None:
    report = _toy(Params(as_of=date(2026, 1, 1)))
    written = write_report(report, tmp_path / "out")
    names = sorted(str(p.relative_to(tmp_path / "out")) for p in written)
    assert names == [
        "charts/rates.png",
        "index.html",
        "report.json",
        "tables/site_rates.csv",
        "tables/site_rates.json",
    ]
    out = tmp_path / "out"
    assert (out / "charts/rates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    csv = pd.read_csv(out / "tables/site_rates.csv", dtype=str, keep_default_na=False)
    assert csv["site"].tolist() == ["01", "<b>02</b>", ""]
    rows = json.loads((out / "tables/site_rates.json").read_text())
    assert rows[1] == {"site": "<b>02</b>", "rate": None}
    assert rows[2]["site"] is None
    meta = json.loads((out / "report.json").read_text())
    assert meta["params"] == {"as_of": "2026-01-01", "days": 14, "trial": None}
    assert meta["log_size"] == 7
    assert meta["sections"][0]["metrics"][0] == {
        "label": "sites flagged",
        "value": "1",
        "flag": True,
    }
    assert meta["sections"][0]["tables"][0]["rows"] == 3
    page = (out / "index.html").read_text()
    assert "&lt;b&gt;02&lt;/b&gt;" in page and "<b>02</b>" not in page
    assert 'href="tables/site_rates.csv"' in page and "data:image/png;base64," in page
    assert 'class="flag"' in page


def test_report_json_can_carry_rows() -> None:
    body = report_json(_toy(Params()), rows=True)
    assert body["sections"][0]["tables"][0]["data"][0] == {"site": "01", "rate": 0.25}


@pytest.mark.parametrize("name", NAMES)
def test_cli_writes_a_report_of_the_demo_log(seeded: Flask, tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    result = CliRunner().invoke(main, _report_args(seeded, name, out, "--as-of", "2026-11-25"))
    assert result.exit_code == 0, result.output
    assert f"files in {out}" in result.output
    meta = json.loads((out / "report.json").read_text())
    assert meta["report"] == name and meta["log_size"] > 2600
    tables = [t for s in meta["sections"] for t in s["tables"]]
    assert tables, "every report has at least one table"
    for table in tables:
        frame = pd.read_csv(out / table["csv"], dtype=str, keep_default_na=False)
        assert len(frame) == table["rows"]
        assert list(frame.columns) == table["columns"] or table["rows"] == 0
        assert len(json.loads((out / table["json"]).read_text())) == table["rows"]
    for chart in (c for s in meta["sections"] for c in s["charts"]):
        assert (out / chart["png"]).stat().st_size > 1000
    assert "<h1>" in (out / "index.html").read_text()


def test_cli_refuses_unknown_report_and_bad_date(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "nope", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "ledger" in result.output
    result = CliRunner().invoke(
        main, ["report", "ledger", "--out", str(tmp_path / "o"), "--as-of", "yesterday"]
    )
    assert result.exit_code == 2 and "as_of must be a date" in result.output
    assert not (tmp_path / "o").exists()


def test_reports_index_lists_each_report(seeded: Flask) -> None:
    regulator = Reader(seeded.test_client(), demo_party(seeded, "regulator"))
    assert seeded.test_client().get("/reports").status_code == 401
    page = regulator.get("/reports").get_data(as_text=True)
    for name in NAMES:
        assert f'formaction="/reports/{name}/"' in page


@pytest.mark.parametrize("name", NAMES)
def test_web_report_page_json_and_tables_agree(seeded: Flask, name: str) -> None:
    client = Reader(seeded.test_client(), demo_party(seeded, "regulator"))
    query = "?as_of=2026-11-25&days=14"
    page = client.get(f"/reports/{name}/{query}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = html.unescape(page.get_data(as_text=True))
    body = client.get(f"/reports/{name}/report.json{query}").get_json()
    assert body["report"] == name and body["params"]["as_of"] == "2026-11-25"
    for section in body["sections"]:
        assert section["title"] in text
        for table in section["tables"]:
            assert f'href="tables/{table["name"]}.csv{query}"' in text
            rows = client.get(f"/reports/{name}/tables/{table['name']}.json{query}").get_json()
            assert rows == table["data"]
            csv = client.get(f"/reports/{name}/tables/{table['name']}.csv{query}")
            assert csv.mimetype == "text/csv"
            assert len(csv.get_data(as_text=True).splitlines()) == len(rows) + 1
        for chart in section["charts"]:
            png = client.get(f"/reports/{name}/charts/{chart['name']}.png{query}")
            assert png.mimetype == "image/png" and png.data[:4] == b"\x89PNG"


def test_web_report_errors_are_problems(seeded: Flask) -> None:
    client = Reader(seeded.test_client(), demo_party(seeded, "regulator"))
    missing = client.get("/reports/nope/")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    bad = client.get("/reports/ledger/?days=0")
    assert bad.status_code == 400 and bad.get_json()["type"].endswith("bad-parameter")
    table = client.get("/reports/ledger/tables/nope.csv")
    assert table.status_code == 404
    chart = client.get("/reports/ledger/charts/nope.png")
    assert chart.status_code == 404


def test_web_report_follows_the_log(demo_app: Flask) -> None:
    app = demo_app
    with app.app_context():
        demo.seed(service(), installed().plugins, 0, stories=())  # the demo regulator
    client = Reader(app.test_client(), demo_party(app, "regulator"))
    before = client.get("/reports/ledger/report.json").get_json()["log_size"]
    assert client.get("/reports/ledger/report.json").get_json()["log_size"] == before
    with app.app_context():
        demo.seed(service(), installed().plugins, 3, stories=())
    after = client.get("/reports/ledger/report.json").get_json()["log_size"]
    assert after > before


def test_report_command_in_its_own_process_knows_every_statement_kind(
    seeded: Flask, tmp_path: Path
) -> None:
    """Run as a user would: a fresh interpreter that never imported the web application."""
    out = tmp_path / "ledger"
    program = [sys.executable, "-c", "from provenance.cli import main; main()"]
    result = subprocess.run(
        [*program, *_report_args(seeded, "ledger", out, "--quiet")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "0 flagged figure(s)" in result.stdout
    meta = json.loads((out / "report.json").read_text())
    kinds = pd.read_csv(out / "tables" / f"{_entries_by_kind(meta)}.csv")
    assert {"trial.register", "custody.ship", "subject.enrol"} <= set(kinds.iloc[:, 0])


def _entries_by_kind(meta: dict[str, object]) -> str:
    sections = meta["sections"]
    assert isinstance(sections, list)
    names = [t["name"] for s in sections for t in s["tables"] if "kind" in t["name"]]
    assert names, "the ledger report has a table of entries per kind"
    return str(names[0])


def _untimed(value: str) -> str:
    return re.sub(r" at \d{4}-\d\d-\d\dT[\d:.]+Z", " at <time>", value)


def _forget_verifications(app: Flask) -> None:
    with app.app_context(), service().engine.begin() as conn:
        for table in (verification.TABLE, verification.COUNTS_TABLE):
            conn.exec_driver_sql(f"DELETE FROM {table}")


def test_reports_agree_on_postgresql(seeded: Flask, postgres_database: str, tmp_path: Path) -> None:
    """The same demo log on PostgreSQL gives the same figures as on SQLite."""
    app = make_app(tmp_path / "pg", postgres_database, demo=True)
    try:
        result = app.test_cli_runner().invoke(args=["seed-demo", "--entries", "0"])
        assert result.exit_code == 0, result.output
        params = Params(as_of=date(2026, 11, 25))
        for name in NAMES:
            for each in (seeded, app):
                _forget_verifications(each)  # both verify every entry, as a first run does
            lite = run_named_report(seeded, name, params)
            pg = run_named_report(app, name, params)
            assert pg.log_size == lite.log_size
            # Timings, the generation time and when a verification ran differ; every counted
            # figure must not.
            figures = {(m.label, _untimed(m.value)) for s in pg.sections for m in s.metrics}
            counted = {(m.label, _untimed(m.value)) for s in lite.sections for m in s.metrics}
            assert figures == counted, name
            for table in lite.tables():
                assert len(pg.table(table.name).frame) == len(table.frame), table.name
    finally:
        with app.app_context():
            service().close()


@pytest.mark.parametrize("name", NAMES)
def test_progress_steps_match_what_each_report_declares(seeded: Flask, name: str) -> None:
    labels: list[str] = []
    with seeded.app_context():
        kind = report_kind(catalog(installed()), name)
        run_report(service(), kind, Params(as_of=date(2026, 11, 25)), labels.append)
    assert len(labels) == kind.steps
    assert all(label for label in labels)
