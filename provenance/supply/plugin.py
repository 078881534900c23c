"""The supply-chain plug-in: custody of drug batches and packs, EPCIS capture, the resolver."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from provenance.epcis.errors import PROBLEMS as EPCIS_PROBLEMS
from provenance.gs1.errors import PROBLEMS as GS1_PROBLEMS
from provenance.log.personality import Personality
from provenance.plugins import Demo, Panel, Plugin
from provenance.supply import capture, demo, kinds, queries, tables

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from provenance.reports.model import ReportKind

ROLES = frozenset({"manufacturer", "wholesaler", "pharmacy", "regulator"})
LATEST_BATCHES = 25


def _blueprints() -> Sequence[Blueprint]:
    from provenance.supply.web import epcis, resolver

    return (resolver.bp, epcis.bp)


def _commands() -> Sequence[click.Command]:
    from provenance.supply.cli import COMMANDS

    return COMMANDS


def _reports() -> Sequence[ReportKind]:
    from provenance.supply.reports.report import supply_chain_report

    return (supply_chain_report,)


def _front_page(conn: Connection) -> dict[str, Any]:
    return {
        "batches": queries.batches(conn, limit=LATEST_BATCHES),
        "open_alerts": queries.open_alert_count(conn),
    }


PLUGIN = Plugin(
    personality=Personality(
        name="supply",
        kinds=(*kinds.KINDS, capture.CAPTURE),
        tables=tables.KEYS,
        metadata=tables.METADATA,
        roles=ROLES,
        codecs=(capture.CODEC,),
    ),
    problems=(*GS1_PROBLEMS, *EPCIS_PROBLEMS),
    blueprints=_blueprints,
    commands=_commands,
    reports=_reports,
    demo=Demo(demo.parties(), demo.tell),
    nav=(("Scan a pack", "/scan"),),
    panels=(Panel("supply_panel.html", _front_page),),
)
