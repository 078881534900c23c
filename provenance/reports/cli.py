"""`provenance report NAME --out DIR [--pdf FILE]`: run a report over a database and write its
files; exit status 0, 1 (flagged figures, with --fail-on-flag) or 2 (it could not run)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from provenance.errors import Error
from provenance.log.service import Service
from provenance.log.settings import Settings
from provenance.plugins import load_plugins

if TYPE_CHECKING:
    from provenance.reports.model import Report

#: Exit status of a report with flagged figures under --fail-on-flag.
EXIT_FLAGGED = 1
#: Exit status of a report that could not run: an unknown report or trial, a bad parameter, a
#: file that could not be written.
EXIT_ERROR = 2


class ReportFailed(click.ClickException):
    """A report that could not run: its message on stderr, exit status 2."""

    exit_code = EXIT_ERROR


@click.command("report")
@click.argument("name")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="output folder (all files)"
)
@click.option(
    "--pdf",
    "pdf_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also (or only) write the report as one PDF, every row of every table",
)
@click.option("--as-of", help="reference date YYYY-MM-DD (default: today, UTC)")
@click.option("--days", help="threshold in days, e.g. for shipments not yet received")
@click.option("--trial", help="only this trial (trial reports); an unknown trial is an error")
@click.option("--database", envvar="DATABASE_URL", help="database URL (default: the local one)")
@click.option("--data-dir", envvar="PROVENANCE_DATA_DIR", help="data folder holding the log key")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option(
    "--fail-on-flag",
    is_flag=True,
    help=f"exit with status {EXIT_FLAGGED} when the report has flagged figures",
)
def report_command(
    name: str,
    out: Path | None,
    pdf_file: Path | None,
    as_of: str | None,
    days: str | None,
    trial: str | None,
    database: str | None,
    data_dir: str | None,
    quiet: bool,
    fail_on_flag: bool,
) -> None:
    """Run report NAME (ledger, supply-chain, trial-checks, monitoring) into folder OUT:
    index.html with charts, report.json, and a CSV and a JSON file per table; with --pdf, one PDF.

    Exit status: 0 when the report ran (with --fail-on-flag: and flagged nothing), 1 with
    --fail-on-flag when it has flagged figures, 2 when it could not run (an unknown report or
    trial, a bad parameter, a file that could not be written)."""
    if out is None and pdf_file is None:
        raise ReportFailed("give --out DIR, --pdf FILE or both")
    try:
        report, written = _run(
            name,
            out,
            pdf_file,
            {"as_of": as_of, "days": days, "trial": trial},
            {"DATA_DIR": data_dir, "DATABASE_URL": database},
            quiet,
        )
    except Error as exc:
        raise ReportFailed(exc.detail) from exc
    except OSError as exc:
        raise ReportFailed(str(exc)) from exc
    flagged = [
        f"{section.title}: {metric.label} = {metric.value}"
        for section in report.sections
        for metric in section.metrics
        if metric.flag
    ]
    if out is not None:
        files = [p for p in written if p != pdf_file]
        click.echo(f"{report.title}: {len(files)} files in {out} (open {out / 'index.html'})")
    if pdf_file is not None:
        click.echo(f"{report.title}: PDF in {pdf_file}")
    click.echo(f"log size {report.log_size}; {len(flagged)} flagged figure(s)")
    for line in flagged:
        click.echo(f"  ! {line}")
    if fail_on_flag and flagged:
        click.get_current_context().exit(EXIT_FLAGGED)


def _run(
    name: str,
    out: Path | None,
    pdf_file: Path | None,
    raw_params: dict[str, str | None],
    config: dict[str, str | None],
    quiet: bool,
) -> tuple[Report, list[Path]]:
    # pandas and matplotlib load only when a report is run, not for every `provenance` command.
    from provenance.reports.catalog import catalog, report_kind
    from provenance.reports.render import chart_png, write_report
    from provenance.reports.run import parse_params, require_trial, run_report

    settings = Settings.from_config(config)
    installed = load_plugins(settings.plugins)
    kind = report_kind(catalog(installed), name)
    params = parse_params(raw_params)
    service = Service(settings, installed.registry)
    written: list[Path] = []
    try:
        require_trial(service, params)
        with click.progressbar(
            length=kind.steps + 1, label=kind.title, file=sys.stderr, hidden=quiet
        ) as bar:
            report = run_report(service, kind, params, lambda _label: bar.update(1))
            if out is not None:
                written += write_report(report, out)
            if pdf_file is not None:
                from provenance.reports.pdf import report_pdf

                pngs = {chart.name: chart_png(chart) for chart in report.charts()}
                pdf_file.write_bytes(report_pdf(report, pngs))
                written.append(pdf_file)
            bar.update(1)
    finally:
        service.close()
    return report, written
