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
from provenance.errors import Error
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
def verify_command(workers: int | None, quiet: bool, checkpoints: tuple[Path, ...]) -> None:
    """Re-check every entry, link, tree hash, checkpoint and signature."""
    svc = service()
    external = [path.read_text() for path in checkpoints]
    with read_connection(svc.engine) as conn:
        total = logdb.tree_size(conn)
    with click.progressbar(length=total, label="verifying", file=sys.stderr, hidden=quiet) as bar:
        report = svc.verify(workers=workers, progress=bar.update, external=external)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@click.command("rebuild")
@with_appcontext
@reporting_errors
@click.option("--quiet", is_flag=True, help="no progress bar")
def rebuild_command(quiet: bool) -> None:
    """Drop the projection (parties, keys, batches, custody, alerts, EPCIS events) and replay
    it from the log alone; reports whether the result is identical to what it replaced."""
    from provenance.log.rebuild import rebuild

    svc = service()
    with read_connection(svc.engine) as conn:
        total = logdb.tree_size(conn)
    with click.progressbar(length=total, label="replaying entries", hidden=quiet) as bar:
        report = rebuild(svc.engine, svc.registry, bar.update)
    click.echo(f"replayed {report.entries} entries; projection fingerprint {report.after[:16]}…")
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
    commands = (init_command, seed_demo_command, verify_command, rebuild_command, access_command)
    for command in commands:
        app.cli.add_command(command)
    plugins: Installed = app.extensions[PLUGINS]
    for plugin in plugins.plugins:
        for command in plugin.admin_commands():
            app.cli.add_command(command)
