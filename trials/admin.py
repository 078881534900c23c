"""The trials' operator commands under `flask --app app`: expiring uploads no statement names."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext

from provenance.web.context import service
from trials.uploads import WINDOW, expire_uploads


@click.command("expire-uploads")
@with_appcontext
@click.option(
    "--older-than",
    "hours",
    type=click.FloatRange(min=0),
    default=WINDOW.total_seconds() / 3600,
    show_default=True,
    help="hours since the payload was stored",
)
def expire_uploads_command(hours: float) -> None:
    """Delete uploaded payloads no statement names, stored more than HOURS ago, and scrub them
    from the database's files as erasures are."""
    expired = expire_uploads(service().engine, timedelta(hours=hours))
    click.echo(
        f"expired {expired.uploads} uploads no statement names ({expired.size} bytes), "
        f"stored more than {hours:g} hours ago"
    )


COMMANDS: tuple[click.Command, ...] = (expire_uploads_command,)
