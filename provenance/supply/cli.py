"""`provenance capture-epcis` and `provenance scan`: supply-chain statements signed locally."""

from __future__ import annotations

import json
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
@click.option(
    "--plain",
    is_flag=True,
    help="send each document byte for byte, signed in a DSSE-Signature header, not in an "
    "envelope (the file is not rewritten to name the log)",
)
def capture_epcis(documents: tuple[Path, ...], key: Path | str, url: str, plain: bool) -> None:
    """Sign EPCIS 2.0 JSON-LD documents (one signature each) and capture them."""
    private = client.load_private_key(key)
    with click.progressbar(
        documents, label="capturing", file=sys.stderr, hidden=len(documents) < 2
    ) as bar:
        results = [
            (path, supply_client.capture_epcis(url, private, path.read_bytes(), plain=plain))
            for path in bar
        ]
    for path, result in results:
        report_result(result)
        claims = result.get("unverified_claims", 0)
        stored = f", {claims} stored as unverified claims" if claims else ""
        click.echo(f"  {path.name}: {result['events_captured']} new events{stored}")


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


@click.command("dscsa-export")
@click.option("--shipment", required=True, help="the shipment id, as the sender named it")
@click.option("--sender", required=True, help="the GLN of the party that shipped it")
@click.option("--key", required=True, type=KEY, help=key_help("your registered key"))
@click.option("--url", required=True, help="the log server, e.g. http://127.0.0.1:8000")
def dscsa_export(shipment: str, sender: str, key: Path | str, url: str) -> None:
    """Print a shipment's DSCSA Transaction Information and Statement (EPCIS 2.0 JSON-LD)."""
    document = supply_client.dscsa_document(url, client.load_private_key(key), sender, shipment)
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


COMMANDS: tuple[click.Command, ...] = (capture_epcis, scan, dscsa_export)
