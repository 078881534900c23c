"""The supply-chain plug-in: custody of drug batches and packs, EPCIS capture, the resolver."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.epcis.errors import PROBLEMS as EPCIS_PROBLEMS
from provenance.epcis.simple_query import PROBLEMS as QUERY_PROBLEMS
from provenance.gs1.errors import PROBLEMS as GS1_PROBLEMS
from provenance.log.personality import Personality
from provenance.plugins import Demo, NavLink, Panel, Plugin
from provenance.supply import bundles, capture, demo, kinds, queries, readers, tables

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from provenance.access.rules import Rule
    from provenance.reports.model import ReportKind

ROLES = frozenset({"manufacturer", "wholesaler", "pharmacy", "regulator"})
LATEST_BATCHES = 25


def _web_modules() -> Sequence[ModuleType]:
    """The supply chain's route modules, each with its blueprint `bp` and its `ACCESS` rules."""
    from provenance.supply.web import (
        bundles,
        dscsa_export,
        epcis,
        epcis_capture,
        epcis_queries,
        epcis_rest,
        resolver,
    )

    return (resolver, epcis, epcis_rest, epcis_capture, bundles, dscsa_export, epcis_queries)


def _blueprints() -> Sequence[Blueprint]:
    return tuple(module.bp for module in _web_modules())


def _access() -> Mapping[str, Rule]:
    return {name: rule for module in _web_modules() for name, rule in module.ACCESS.items()}


def _commands() -> Sequence[click.Command]:
    from provenance.supply.cli import COMMANDS

    return COMMANDS


def _admin_commands() -> Sequence[click.Command]:
    from provenance.supply.admin import COMMANDS

    return COMMANDS


def _reports() -> Sequence[ReportKind]:
    from provenance.supply.reports.report import supply_chain_report

    return (supply_chain_report,)


def _front_page(conn: Connection, reader: Principal) -> dict[str, Any]:
    """The batches and open alerts this reader may see (a regulator all, a party its own)."""
    if not reader.authenticated:
        return {"batches": [], "open_alerts": None}
    return {
        "batches": queries.batches(conn, limit=LATEST_BATCHES, reader=reader),
        "open_alerts": queries.open_alert_count(conn, reader),
    }


PLUGIN = Plugin(
    personality=Personality(
        name="supply",
        kinds=(*kinds.KINDS, capture.CAPTURE),
        tables=tables.KEYS,
        metadata=tables.METADATA,
        roles=ROLES,
        codecs=(capture.CODEC,),
        public_kinds=readers.PUBLIC_KINDS,
        readers=readers.named_parties,
        bundle_subjects=bundles.SUBJECTS,
    ),
    problems=(*GS1_PROBLEMS, *EPCIS_PROBLEMS, *QUERY_PROBLEMS),
    blueprints=_blueprints,
    access=_access,
    commands=_commands,
    admin_commands=_admin_commands,
    reports=_reports,
    demo=Demo(demo.parties(), demo.tell),
    nav=(NavLink("Scan", "/scan", "Pharmacists", "scan a pack's 2D code to check it is genuine"),),
    panels=(Panel("supply_panel.html", _front_page),),
)
