"""`provenance capture-epcis` and `provenance scan`: supply-chain statements signed locally."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from provenance import client
from provenance.cli import report_result
from provenance.gs1.scanner import parse_scan
from provenance.key_option import KEY, key_help
from provenance.supply import client as supply_client


@click.command("capture-epcis")
@click.argument(
    "documents",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--key", required=True, type=KEY, help=key_help("your registered key"))
@click.option("--url", required=True, help="the log server, e.g. http://127.0.0.1:8000")
def capture_epcis(documents: tuple[Path, ...], key: Path | str, url: str) -> None:
    """Sign EPCIS 2.0 JSON-LD documents (one signature each) and capture them."""
    private = client.load_private_key(key)
    with click.progressbar(
        documents, label="capturing", file=sys.stderr, hidden=len(documents) < 2
    ) as bar:
        results = [
            (path, supply_client.capture_epcis(url, private, path.read_bytes())) for path in bar
        ]
    for path, result in results:
        report_result(result)
        click.echo(f"  {path.name}: {result['events_captured']} new events")


@click.command()
@click.argument("code")
@click.option("--key", required=True, type=KEY, help=key_help("your registered key"))
@click.option("--url", required=True, help="the log server, e.g. http://127.0.0.1:8000")
def scan(code: str, key: Path | str, url: str) -> None:
    """Record a signed scan of CODE (any GS1 form a scanner produces); print the verdict.

    Anything wrong with the pack (unknown serial, recalled, expired, already dispensed, never
    received here) is stored as an alert in the log. A GTIN alone (an EAN-13, UPC-A or ITF-14)
    names no pack: nothing is recorded, and the answer is the product's.
    """
    read = parse_scan(code)
    private = client.load_private_key(key)
    if read.names_a_pack:
        envelope = supply_client.scan_statement(private, read, log=client.log_origin(url))
        report_result(client.submit(url, envelope))
    answer = supply_client.verdict(url, read, private)
    click.echo(f"{answer['title']}" + "".join(f"\n  {r}" for r in answer["reasons"]))


COMMANDS: tuple[click.Command, ...] = (capture_epcis, scan)
