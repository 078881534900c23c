"""`provenance report NAME --out DIR`: run a report over a database and write its files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from provenance.log.service import Service
from provenance.log.settings import Settings
from provenance.plugins import load_plugins


@click.command("report")
@click.argument("name")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="output folder"
)
@click.option("--as-of", help="reference date YYYY-MM-DD (default: today, UTC)")
@click.option("--days", help="threshold in days, e.g. for shipments not yet received")
@click.option("--trial", help="only this trial (trial reports)")
@click.option("--database", envvar="DATABASE_URL", help="database URL (default: the local one)")
@click.option("--data-dir", envvar="PROVENANCE_DATA_DIR", help="data folder holding the log key")
@click.option("--quiet", is_flag=True, help="no progress bar")
def report_command(
    name: str,
    out: Path,
    as_of: str | None,
    days: str | None,
    trial: str | None,
    database: str | None,
    data_dir: str | None,
    quiet: bool,
) -> None:
    """Run report NAME (ledger, supply-chain, trial-checks, monitoring) into folder OUT:
    index.html with charts, report.json, and a CSV and a JSON file per table."""
    # pandas and matplotlib load only when a report is run, not for every `provenance` command.
    from provenance.reports.catalog import catalog, report_kind
    from provenance.reports.render import write_report
    from provenance.reports.run import parse_params, run_report

    settings = Settings.from_config({"DATA_DIR": data_dir, "DATABASE_URL": database})
    installed = load_plugins(settings.plugins)
    kind = report_kind(catalog(installed), name)
    params = parse_params({"as_of": as_of, "days": days, "trial": trial})
    service = Service(settings, installed.registry)
    try:
        with click.progressbar(
            length=kind.steps + 1, label=kind.title, file=sys.stderr, hidden=quiet
        ) as bar:
            report = run_report(service, kind, params, lambda _label: bar.update(1))
            written = write_report(report, out)
            bar.update(1)
    finally:
        service.close()
    flagged = [
        f"{section.title}: {metric.label} = {metric.value}"
        for section in report.sections
        for metric in section.metrics
        if metric.flag
    ]
    click.echo(f"{kind.title}: {len(written)} files in {out} (open {out / 'index.html'})")
    click.echo(f"log size {report.log_size}; {len(flagged)} flagged figure(s)")
    for line in flagged:
        click.echo(f"  ! {line}")
