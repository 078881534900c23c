"""`flask --app app epcis-deliver`: the operator's side of EPCIS query subscriptions."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from provenance.commands import reporting_errors
from provenance.supply.epcis_delivery import deliver_due
from provenance.supply.webhooks import Policy
from provenance.web.context import service


@click.command("epcis-deliver")
@with_appcontext
@reporting_errors
@click.option("--once", is_flag=True, help="one pass over the due subscriptions, then exit")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="seconds between passes",
)
def epcis_deliver(once: bool, interval: float) -> None:
    """Send each due EPCIS query subscription the events recorded since its last delivery.

    With --once, exit 1 if any delivery failed (it is retried, later, by the next pass that
    finds it due). Without it, run a pass every --interval seconds until interrupted.
    """
    policy = Policy.from_config(current_app.config)
    while True:
        report = deliver_due(service(), policy, datetime.now(UTC))
        if once:
            click.echo(report.summary())
            if report.failed:
                raise click.exceptions.Exit(1)
            return
        if report.due:
            click.echo(report.summary())
        time.sleep(interval)


COMMANDS: tuple[click.Command, ...] = (epcis_deliver,)
