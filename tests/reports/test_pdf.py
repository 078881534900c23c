"""A report as a PDF: every row of every table of the demo's reports, over HTTP and the CLI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from provenance.cli import main
from provenance.reports.model import Params, Report
from provenance.reports.pdf import FONT, _Document, _lines, close_fonts, layout
from provenance.reports.render import NO_ROWS, headers, table_rows
from tests.conftest import run_named_report, seeded_demo_app
from tests.parties import demo_party, read
from tests.reports.pdf_text import pdf_lines

TRIAL = "NCT99000001"
QUERIES = {
    "ledger": "",
    "supply-chain": "?days=1",
    "trial-checks": f"?trial={TRIAL}",
    "monitoring": f"?trial={TRIAL}",
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with seeded_demo_app(tmp_path_factory.mktemp("pdf"), 0, ("supply", "trials")) as app:
        yield app


def _params(query: str) -> Params:
    if "trial=" in query:
        return Params(trial=TRIAL)
    return Params(days=1) if "days=1" in query else Params()


def _expected_lines(report: Report) -> dict[str, Counter[str]]:
    """Per table, the text line each row starts with on paper: every cell's first line (a cell
    wider than its column wraps onto lines below, which this leaves out)."""
    pdf = _Document(report)
    pdf.add_page()
    expected: dict[str, Counter[str]] = {}
    for table in report.tables():
        rows = list(table_rows(table))
        size, widths = layout(pdf, headers(table), rows)
        pdf.set_font(FONT, "", size)
        expected[table.name] = Counter(
            " ".join(
                first
                for value, width in zip(row, widths, strict=True)
                if (first := _lines(pdf, value, width)[0])
            )
            for row in rows
        )
    close_fonts(pdf)
    return expected


@pytest.mark.parametrize("name", list(QUERIES))
def test_every_report_prints_every_row_to_pdf(seeded: Flask, name: str) -> None:
    regulator = demo_party(seeded, "regulator")
    answer = read(seeded.test_client(), regulator, f"/reports/{name}/report.pdf{QUERIES[name]}")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=")
    data = answer.get_data()
    assert data.startswith(b"%PDF-")
    found = Counter(pdf_lines(data))
    report = run_named_report(seeded, name, _params(QUERIES[name]))
    rows = 0
    for table, wanted in _expected_lines(report).items():
        missing = wanted - found
        assert not missing, f"{name}/{table}: {sum(missing.values())} rows missing, e.g. {missing}"
        rows += sum(wanted.values())
    assert rows == sum(len(t.frame) for t in report.tables())
    if any(t.frame.empty for t in report.tables()):
        assert NO_ROWS in found
    for section in report.sections:
        assert section.title in found


def test_the_biggest_report_keeps_all_its_rows(seeded: Flask) -> None:
    """The demo's biggest table (monitoring's date records, 5,495 rows) runs over 100 pages;
    none is dropped, and a row dropped from the PDF fails the check."""
    report = run_named_report(seeded, "monitoring", Params(trial=TRIAL))
    biggest = max(report.tables(), key=lambda t: len(t.frame))
    assert len(biggest.frame) > 5000
    regulator = demo_party(seeded, "regulator")
    data = read(seeded.test_client(), regulator, f"/reports/monitoring/report.pdf?trial={TRIAL}")
    lines = pdf_lines(data.get_data())
    wanted = _expected_lines(report)[biggest.name]
    assert not wanted - Counter(lines)
    assert data.get_data().count(b"/Type /Page\n") > 100
    one = next(iter(wanted))
    dropped = [line for line in lines if line != one]
    assert wanted - Counter(dropped)  # the check sees one missing row


def test_pdf_has_the_pages_access_rule(seeded: Flask) -> None:
    client = seeded.test_client()
    path = f"/reports/trial-checks/report.pdf?trial={TRIAL}"
    assert read(client, None, path).status_code == 401
    assert read(client, demo_party(seeded, "sponsor"), path).status_code == 200
    assert read(client, demo_party(seeded, "site001"), path).status_code == 403
    assert (
        read(client, demo_party(seeded, "sponsor"), "/reports/ledger/report.pdf").status_code == 403
    )
    unknown = read(
        client, demo_party(seeded, "regulator"), "/reports/monitoring/report.pdf?trial=NCT00000000"
    )
    assert unknown.status_code == 404
    assert "NCT00000000" in unknown.get_json()["detail"]


def _cli(app: Flask, *args: str) -> list[str]:
    settings = app.extensions["provenance"].settings
    return [
        *("report", *args, "--quiet", "--database", settings.database_url),
        *("--data-dir", str(settings.data_dir)),
    ]


def test_cli_writes_a_pdf_and_fails_on_flags(seeded: Flask, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "checks.pdf"
    flagged = runner.invoke(
        main, _cli(seeded, "trial-checks", "--trial", TRIAL, "--pdf", str(out), "--fail-on-flag")
    )
    assert flagged.exit_code == 1, flagged.output
    assert "flagged figure(s)" in flagged.output and "  ! R6" in flagged.output
    assert out.read_bytes().startswith(b"%PDF-")
    report = run_named_report(seeded, "trial-checks", Params(trial=TRIAL))
    assert not _expected_lines(report)["r6"] - Counter(pdf_lines(out.read_bytes()))
    # Without --fail-on-flag the same report exits 0; a report with nothing flagged exits 0 with it.
    plain = runner.invoke(main, _cli(seeded, "trial-checks", "--trial", TRIAL, "--pdf", str(out)))
    assert plain.exit_code == 0, plain.output
    clean = runner.invoke(
        main, _cli(seeded, "ledger", "--out", str(tmp_path / "l"), "--fail-on-flag")
    )
    assert clean.exit_code == 0, clean.output
    assert "0 flagged figure(s)" in clean.output


def test_cli_refuses_an_unknown_trial(seeded: Flask, tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("trial-checks", "monitoring"):
        result = runner.invoke(
            main, _cli(seeded, name, "--trial", "NCT00000000", "--out", str(tmp_path / name))
        )
        assert result.exit_code == 2, result.output
        assert "no trial NCT00000000" in result.output
        assert "flagged" not in result.output
        assert not (tmp_path / name).exists()
    nothing = runner.invoke(main, _cli(seeded, "ledger"))
    assert nothing.exit_code == 2 and "--out" in nothing.output
    unknown = runner.invoke(main, _cli(seeded, "no-such-report", "--out", str(tmp_path / "x")))
    assert unknown.exit_code == 2 and "no report" in unknown.output


def test_any_text_prints_as_text() -> None:
    """Cells that look like markup, PDF syntax or formulas print as they are; a character the
    font lacks does not stop the PDF."""
    import pandas as pd

    from provenance.reports.model import Section, Table
    from provenance.reports.pdf import report_pdf

    odd = ["<b>bold</b>", "a (b) \\ c) (", "=HYPERLINK(1)", "Ünïcødé Ωμέγα Жук", "名前 x"]
    frame = pd.DataFrame({"party_name": odd, "n": range(len(odd))})
    report = Report("odd", "Odd", Params(), [Section("Odd", "", [], [Table("odd", "Odd", frame)])])
    lines = pdf_lines(report_pdf(report, {}))
    for number, text in enumerate(odd[:-1]):
        assert f"{text} {number}" in lines
    assert any(line.endswith(" x 4") for line in lines)
