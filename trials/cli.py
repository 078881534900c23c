"""`provenance trial register`, `protocol commit`, `submit-dataset`, `amend`: signed locally."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from provenance.client import load_private_key, sign_and_submit
from provenance.key_option import KEY, key_help
from trials.client import (
    dataset_body,
    media_type_of,
    new_salt,
    protocol_body,
    signature,
    summarise_file,
    upload,
    upload_file,
)
from trials.rules import MEANINGS

F = Callable[..., Any]


def signing_options(command: F) -> F:
    """The key (a registered person's), the server and the meaning of the signature."""
    for option in reversed(
        [
            click.option(
                "--key", required=True, type=KEY, help=key_help("your registered person key")
            ),
            click.option("--url", required=True, help="the log server, e.g. http://127.0.0.1:8000"),
            click.option(
                "--printed-name",
                default=None,
                help="only for a log of rules 1: from rules 2 the log prints the name your "
                "party registered for your key (21 CFR 11.50)",
            ),
            click.option("--meaning", required=True, type=click.Choice(sorted(MEANINGS))),
        ]
    ):
        command = option(command)
    return command


def _done(result: dict[str, Any]) -> None:
    note = " (already logged)" if result.get("duplicate") else ""
    click.echo(f"index {result['index']}{note}  leaf {result['leaf_hash']}")


@click.group()
def trial() -> None:
    """Clinical trial registration."""


@trial.command("register")
@click.argument("registration", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@signing_options
def register(
    registration: Path, key: Path | str, url: str, printed_name: str | None, meaning: str
) -> None:
    """Register a trial from a JSON file {trial, title, phase, sites, planned_enrolment,
    primary_completion}."""
    body = json.loads(registration.read_text())
    body["signature"] = signature(printed_name, meaning)
    _done(sign_and_submit(url, load_private_key(key), "trial.register", body))


@click.group()
def protocol() -> None:
    """Protocol versions."""


@protocol.command("commit")
@click.argument("trial_id")
@click.option("--version", "version", type=int, required=True)
@click.option(
    "--document",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="the exact protocol document (uploaded off-log)",
)
@click.option(
    "--outcomes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="JSON list of {id, title, type, time_frame}",
)
@click.option("--reason", help="why this version changes the last (required after v1)")
@click.option("--reconsent", is_flag=True, help="subjects must consent again")
@signing_options
def commit(
    trial_id: str,
    version: int,
    document: Path,
    outcomes: Path,
    reason: str | None,
    reconsent: bool,
    key: Path | str,
    url: str,
    printed_name: str | None,
    meaning: str,
) -> None:
    """Upload a protocol document and commit it as the next version."""
    data, salt = document.read_bytes(), new_salt()
    private = load_private_key(key)
    upload(url, data, salt, "application/octet-stream", private)
    body = protocol_body(
        trial_id,
        version,
        data,
        salt,
        json.loads(outcomes.read_text()),
        reason,
        reconsent,
        signature(printed_name, meaning),
    )
    _done(sign_and_submit(url, private, "protocol.commit", body))


def _dataset(
    kind: str,
    trial_id: str,
    dataset: str,
    path: Path,
    domain: str,
    key: Path | str,
    url: str,
    printed_name: str | None,
    meaning: str,
    **extra: Any,
) -> None:
    salt = new_salt()
    sig = signature(printed_name, meaning)
    body, fmt = dataset_body(trial_id, dataset, domain, path, salt, sig)
    private = load_private_key(key)
    upload_file(url, path, salt, media_type_of(path, fmt), private)
    body.update(extra)
    _done(sign_and_submit(url, private, kind, body))
    click.echo(f"  {dataset}: {body['rows']} rows x {body['columns']} columns ({fmt})")


@click.command("submit-dataset")
@click.argument("trial_id")
@click.argument("dataset")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--domain", required=True, help="DM, AE, VS, LB, …")
@signing_options
def submit_dataset(trial_id: str, dataset: str, path: Path, domain: str, **sign: Any) -> None:
    """Submit a dataset file (CSV, SAS XPT or Dataset-JSON)."""
    _dataset("dataset.submit", trial_id, dataset, path, domain, **sign)


@click.command("amend")
@click.argument("trial_id")
@click.argument("dataset")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--domain", required=True)
@click.option("--supersedes", type=int, required=True, help="the version this one replaces")
@click.option("--reason", required=True, help="why (empty or boilerplate reasons are refused)")
@signing_options
def amend(
    trial_id: str,
    dataset: str,
    path: Path,
    domain: str,
    supersedes: int,
    reason: str,
    **sign: Any,
) -> None:
    """Submit a new version of a dataset; both versions stay retrievable."""
    _dataset(
        "dataset.amend",
        trial_id,
        dataset,
        path,
        domain,
        supersedes=supersedes,
        reason=reason,
        **sign,
    )


@click.command("dataset-hash")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--digits",
    type=click.IntRange(1, 17),
    help="hash numbers rounded to this many significant digits (15 compares a file written "
    "with fewer digits, such as Dataset-JSON from a SAS export, with its source)",
)
def dataset_hash(paths: tuple[Path, ...], digits: int | None) -> None:
    """Print the content hash of dataset files, read locally; with several, fail if they differ."""
    hashes = set()
    for path in paths:
        summary = summarise_file(path, digits)
        hashes.add(summary.content_hash)
        shape = f"{summary.row_count} rows x {summary.column_count} columns"
        click.echo(f"{summary.content_hash}  {shape} ({summary.format})  {path}")
    if len(hashes) > 1:
        at = f" at {digits} significant digits" if digits else ""
        raise click.ClickException(f"the datasets differ{at}")


COMMANDS = (trial, protocol, submit_dataset, amend, dataset_hash)
