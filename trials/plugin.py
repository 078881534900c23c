"""The clinical-trials plug-in: registration, protocols, datasets, consent, checks, monitoring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from provenance.log.personality import Personality
from provenance.plugins import INSPECTORS, Demo, NavLink, Plugin
from trials import registry, submissions, tables
from trials.demo.parties import PARTIES
from trials.errors import PROBLEMS
from trials.readers import trial_readers

if TYPE_CHECKING:
    import click
    from flask import Blueprint
    from sqlalchemy import Connection

    from provenance.access.rules import Rule
    from provenance.plugins import DemoRun
    from provenance.reports.model import ReportKind

ROLES = frozenset({"sponsor", "site"})


def _blueprints() -> Sequence[Blueprint]:
    from trials import bundles_web, diff_web
    from trials.web import bp

    return (bp, bundles_web.bp, diff_web.bp)


def _access() -> Mapping[str, Rule]:
    from trials import bundles_web, diff_web
    from trials.web import ACCESS

    return {**ACCESS, **bundles_web.ACCESS, **diff_web.ACCESS}


def _commands() -> Sequence[click.Command]:
    from trials.cli import COMMANDS

    return COMMANDS


def _admin_commands() -> Sequence[click.Command]:
    from trials.admin import COMMANDS

    return COMMANDS


def _reports() -> Sequence[ReportKind]:
    from trials.checks.report import trial_checks_report
    from trials.monitoring.report import monitoring_report

    return (trial_checks_report, monitoring_report)


# pandas is imported only when the trials' queries, demo or reports run: listing the commands
# (`provenance --help`) loads this declaration, and should not wait for it.


def _trial_entries(conn: Connection, params: Mapping[str, str]) -> list[int]:
    from trials import bundles

    return bundles.trial_entries(conn, params)


def _submission_entries(conn: Connection, params: Mapping[str, str]) -> list[int]:
    from trials import bundles

    return bundles.submission_entries(conn, params)


def _tell(run: DemoRun) -> str:
    from trials.demo import story

    return story.tell(run)


PLUGIN = Plugin(
    personality=Personality(
        name="trials",
        kinds=(*registry.KINDS, *submissions.KINDS),
        tables=tables.TRIAL_KEYS,
        off_log=tables.OFF_LOG_KEYS,
        metadata=tables.METADATA,
        roles=ROLES,
        readers=trial_readers,
        bundle_subjects={"trial": _trial_entries, "submission": _submission_entries},
    ),
    problems=PROBLEMS,
    blueprints=_blueprints,
    access=_access,
    commands=_commands,
    admin_commands=_admin_commands,
    reports=_reports,
    demo=Demo(PARTIES, _tell),
    nav=(
        NavLink("Trials", "/trials", INSPECTORS, "registered trials, protocols, datasets, consent"),
    ),
)
