"""`provenance witness …`: make a witness, tell it which logs to follow, serve it."""

from __future__ import annotations

from pathlib import Path

import click

from provenance.witness.store import WitnessStore

DIRECTORY = click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="the witness's directory (its key and its state)",
)


@click.group("witness")
def witness_group() -> None:
    """Run a C2SP tlog-witness that cosigns logs' checkpoints."""


@witness_group.command()
@DIRECTORY
@click.option("--name", required=True, help="the witness's key name, e.g. witness.example.org/w1")
def init(directory: Path, name: str) -> None:
    """Make the witness's Ed25519 key and state; print its verifier key."""
    store = WitnessStore.create(directory, name)
    click.echo(store.signer.vkey())
    store.close()


@witness_group.command("add-log")
@DIRECTORY
@click.option("--vkey", required=True, help="the log's verifier key (GET /log/key)")
@click.option("--origin", help="the log's origin line (default: the key's name)")
def add_log(directory: Path, vkey: str, origin: str | None) -> None:
    """Follow a log: cosign its checkpoints signed by VKEY."""
    store = WitnessStore(directory)
    state = store.add_log(vkey, origin)
    click.echo(f"following {state.origin} (latest cosigned size {state.size})")
    store.close()


@witness_group.command()
@DIRECTORY
def logs(directory: Path) -> None:
    """List the logs the witness follows and the latest size it cosigned of each."""
    store = WitnessStore(directory)
    for state in store.logs():
        click.echo(f"{state.origin}\t{state.size}\t{state.vkey}")
    store.close()


@witness_group.command()
@DIRECTORY
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7380, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int, help="worker threads")
def serve(directory: Path, host: str, port: int, threads: int) -> None:
    """Serve add-checkpoint (POST /add-checkpoint) and GET /<origin hash>/checkpoint."""
    from waitress import serve as waitress_serve

    from provenance.witness.http import MAX_REQUEST_BYTES, WITNESS, create_witness_app

    app = create_witness_app(directory)
    click.echo(f"witness {app.extensions[WITNESS].signer.vkey()}", err=True)
    waitress_serve(
        app,
        host=host,
        port=port,
        threads=threads,
        connection_limit=200,
        channel_timeout=60,
        max_request_body_size=MAX_REQUEST_BYTES,
        ident="provenance-witness",
    )
