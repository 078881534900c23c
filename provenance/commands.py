"""Admin commands under `flask --app app`: init, seed-demo, verify, rebuild, and the plug-ins'."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask
from flask.cli import with_appcontext

from provenance import demo
from provenance.client import http_request, load_private_key
from provenance.errors import Error
from provenance.key_option import KEY, key_help
from provenance.log.note import Verifier
from provenance.log.outside import CHECKPOINTS_DIR, LATEST
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.plugins import Installed
from provenance.web.context import PLUGINS, installed, service

F = TypeVar("F", bound=Callable[..., Any])


def reporting_errors(command: F) -> F:
    """Errors end the command with one clear line and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Error as exc:
            raise click.ClickException(exc.detail) from exc

    return wrapper  # type: ignore[return-value]


@click.command("init")
@with_appcontext
@reporting_errors
@click.option(
    "--demo",
    is_flag=True,
    help="a demonstration log: its genesis says so, every page and answer shows it, and only "
    "it accepts seed-demo",
)
def init_command(demo: bool) -> None:
    """Create the log's keys, database and genesis entry (idempotent)."""
    report = service().initialise(demo=demo)
    keys = service().settings.keys
    if report.created:
        for change in report.changes:
            click.echo(f"  {change}")
        click.echo(f"initialised the log; keys are in {keys.log_key.parent} (mode 0600)")
    else:
        click.echo("already initialised: nothing changed")
    click.echo(f"log verifier key: {report.verifier_key}")
    click.echo(f"authority key id: {report.authority_key_id}")


@click.command("migrate")
@with_appcontext
@reporting_errors
def migrate_command() -> None:
    """Create or migrate the schema (tables, append-only guards, version): run by the role that
    owns the tables, before the service starts on a new release."""
    from provenance.log.store.schema import SCHEMA_VERSION

    svc = service()
    before = svc.schema
    svc.migrate()
    if before.empty:
        click.echo(f"created the schema, version {SCHEMA_VERSION}")
    elif before.version == SCHEMA_VERSION and not before.missing:
        click.echo(f"schema version {SCHEMA_VERSION}: already current")
    else:
        held = before.version or "from before schema versions"
        click.echo(f"migrated the schema from version {held} to {SCHEMA_VERSION}")


@click.command("grants")
@with_appcontext
@reporting_errors
@click.option("--role", required=True, help="the PostgreSQL role the service runs as")
def grants_command(role: str) -> None:
    """Print the GRANT statements for a PostgreSQL service role that owns nothing: it can
    append to the log and keep the projection, but not drop a guard, a table or a row."""
    from provenance.log.store.grants import grant_statements

    svc = service()
    for line in grant_statements(svc.engine, role, svc.metadata):
        click.echo(line)


@click.command("seed-demo")
@with_appcontext
@reporting_errors
@click.option(
    "--entries",
    "count",
    default=demo.DEFAULT_ENTRIES,
    show_default=True,
    help="signed statements to append",
)
@click.option("--if-empty", is_flag=True, help="only seed a log that holds nothing but genesis")
def seed_demo_command(count: int, if_empty: bool) -> None:
    """Register demo parties (keys under data/demo/) and append signed demo statements."""
    result = demo.seed(service(), installed().plugins, count, only_if_empty=if_empty)
    click.echo(result.summary())


@click.command("verify")
@with_appcontext
@reporting_errors
@click.option("--workers", type=int, default=None, help="processes (default: all cores)")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a signed checkpoint kept outside the log (repeatable)",
)
@click.option(
    "--full",
    is_flag=True,
    help="check every entry again, not only those appended since the last verification",
)
@click.option(
    "--vkey",
    "vkey_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the log's public verifier key (default: data/keys/log.vkey)",
)
@click.option("--vkey-url", help="take the log's verifier key from <URL>/log/key")
@click.option(
    "--url",
    help="verify the log the server at URL publishes (checkpoint, tiles, entry bundles) "
    "instead of this database",
)
@click.option(
    "--key",
    "key_file",
    type=KEY,
    help=key_help("with --url: a regulator's key to sign the requests with"),
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    help="a witness's verifier key (cosignature/v1), or a file holding one (repeatable): the "
    "checkpoints kept outside (--checkpoint; with --url, the server's cosigned checkpoint) "
    "must carry their cosignatures",
)
@click.option(
    "--min-witnesses",
    type=click.IntRange(min=1),
    help="how many of the --witness keys must have cosigned (default: all)",
)
def verify_command(
    workers: int | None,
    quiet: bool,
    checkpoints: tuple[Path, ...],
    full: bool,
    vkey_file: Path | None,
    vkey_url: str | None,
    url: str | None,
    key_file: Path | str | None,
    witnesses: tuple[str, ...],
    min_witnesses: int | None,
) -> None:
    """Re-check every entry, link, tree hash, checkpoint and signature, with public keys only:
    from where the last verification stopped (--full: from the start), or over HTTP (--url)."""
    from provenance.remote_verify import HttpLog, fetch_vkey, verify_remote

    svc = service()
    if vkey_file is not None:
        verifier = svc.verifier(vkey_file.read_text(), vkey_file.name)
    elif vkey_url is not None:
        verifier = svc.verifier(fetch_vkey(vkey_url), f"{vkey_url}/log/key")
    elif url is not None and not svc.settings.keys.log_vkey.exists():
        raise click.UsageError("give --vkey FILE or --vkey-url URL: the key of the log at --url")
    else:
        verifier = svc.verifier()
    external = [path.read_text() for path in checkpoints]
    if witnesses or min_witnesses is not None:
        external = _witnessed(verifier, witnesses, min_witnesses, external, url)
    latest = svc.settings.data_dir / CHECKPOINTS_DIR / LATEST
    if url is None and latest.is_file():
        # The log's own record of what it published, kept outside the database: a database
        # restored from before it (a lost WAL tail, an old backup) is named, not called intact.
        external.append(latest.read_text())
        if not quiet:
            click.echo(f"also checking {CHECKPOINTS_DIR}/{LATEST}", err=True)
    if url is not None:
        key = load_private_key(key_file) if key_file is not None else None
        _, published = HttpLog(url).checkpoint(verifier)  # the bar's length; it may grow
        with click.progressbar(
            length=published.size, label="verifying", file=sys.stderr, hidden=quiet
        ) as bar:
            report = verify_remote(
                url, svc.registry, verifier, key=key, external=external, workers=workers,
                progress=bar.update,
            )  # fmt: skip
    else:
        with read_connection(svc.engine) as conn:
            total = logdb.tree_size(conn)
        with click.progressbar(
            length=total, label="verifying", file=sys.stderr, hidden=quiet
        ) as bar:
            report = svc.verify(
                verifier, workers=workers, progress=bar.update, external=external, resume=not full
            )
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


def _witnessed(
    verifier: Verifier,
    witnesses: tuple[str, ...],
    min_witnesses: int | None,
    external: list[str],
    url: str | None,
) -> list[str]:
    """The checkpoints kept outside, each checked to carry the named witnesses' cosignatures;
    with `url`, the server's latest cosigned checkpoint joins them."""
    from provenance.audit.cli import checkpoint_opener

    opener = checkpoint_opener(verifier, witnesses, min_witnesses)
    given = list(external)
    if url is not None:
        needed = min_witnesses or len(witnesses)
        _, body = http_request(f"{url.rstrip('/')}/log/checkpoint/cosigned?witnesses={needed}")
        given.append(body.decode())
    if not given:
        raise click.UsageError(
            "--witness checks checkpoints kept outside: give --checkpoint or --url"
        )
    for note in given:
        # A checkpoint without the cosignatures asked for fails the whole run, before any entry.
        opener(note)
    return given


@click.command("rebuild")
@with_appcontext
@reporting_errors
@click.option("--quiet", is_flag=True, help="no progress bar")
def rebuild_command(quiet: bool) -> None:
    """Replay the projection (parties, keys, batches, custody, alerts, EPCIS events) from the
    log alone into shadow tables and swap it in; appends wait only for the swap. Reports
    whether the result is identical to what it replaced."""
    from provenance.log.rebuild import rebuild

    svc = service()
    with read_connection(svc.engine) as conn:
        total = logdb.tree_size(conn)
    with click.progressbar(
        length=total, label="replaying entries", file=sys.stderr, hidden=quiet
    ) as bar:
        report = rebuild(svc.engine, svc.registry, bar.update)
    click.echo(f"replayed {report.entries} entries; projection fingerprint {report.after[:16]}…")
    click.echo(
        f"append lock held {report.locked_seconds:.2f} s: the swap, and {report.caught_up} "
        "entries appended at the last moment replayed under it"
    )
    if report.identical:
        click.echo("identical to the projection it replaced")
    else:
        click.echo(f"DIFFERENT from the projection it replaced ({report.before[:16]}…)")
        sys.exit(1)


@click.command("access")
@with_appcontext
def access_command() -> None:
    """Print every route with its methods and its access rule."""
    from flask import current_app

    from provenance.access.web import RULES

    rules = current_app.extensions[RULES]
    for route in sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule):
        methods = ",".join(sorted(m for m in route.methods or () if m not in ("HEAD", "OPTIONS")))
        rule = rules.get(route.endpoint)
        name = rule.name if rule is not None else "anyone (static files)"
        click.echo(f"{methods:<5} {route.rule:<56} {name}")


def register(app: Flask) -> None:
    """The core's admin commands, then those of the app's installed plug-ins."""
    commands = (
        init_command,
        migrate_command,
        grants_command,
        seed_demo_command,
        verify_command,
        rebuild_command,
        access_command,
    )
    for command in commands:
        app.cli.add_command(command)
    plugins: Installed = app.extensions[PLUGINS]
    for plugin in plugins.plugins:
        for command in plugin.admin_commands():
            app.cli.add_command(command)
