"""The clinical-trials plug-in: registration, protocols, datasets, consent, checks, monitoring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from provenance.log.personality import Personality
from provenance.plugins import Demo, Plugin
from trials import bundles, registry, submissions, tables
from trials.demo import story
from trials.errors import PROBLEMS
from trials.readers import trial_readers

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from provenance.access.rules import Rule
    from provenance.reports.model import ReportKind

ROLES = frozenset({"sponsor", "site"})


def _blueprints() -> Sequence[Blueprint]:
    from trials import bundles_web
    from trials.web import bp

    return (bp, bundles_web.bp)


def _access() -> Mapping[str, Rule]:
    from trials import bundles_web
    from trials.web import ACCESS

    return {**ACCESS, **bundles_web.ACCESS}


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


PLUGIN = Plugin(
    personality=Personality(
        name="trials",
        kinds=(*registry.KINDS, *submissions.KINDS),
        tables=tables.TRIAL_KEYS,
        off_log=tables.OFF_LOG_KEYS,
        metadata=tables.METADATA,
        roles=ROLES,
        readers=trial_readers,
        bundle_subjects=bundles.SUBJECTS,
    ),
    problems=PROBLEMS,
    blueprints=_blueprints,
    access=_access,
    commands=_commands,
    admin_commands=_admin_commands,
    reports=_reports,
    demo=Demo(story.PARTIES, story.tell),
    nav=(("Trials", "/trials"),),
)
