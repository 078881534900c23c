"""Plug-ins: a domain's personality with its pages, commands, reports and demo; and the loader.

A domain declares one `Plugin` in its own package (like a Flask Blueprint) and names it in the
`provenance.plugins` entry-point group of its distribution. The app factory, the command line
and report runs install plug-ins through `load_plugins` and hand the result on explicitly; no
module fills another module's registry. Parts that pull in heavy libraries (Flask pages, pandas
reports, click commands) are given as functions, so what is not used is not imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from provenance.errors import Error
from provenance.log.personality import Personality, Registry

if TYPE_CHECKING:
    import click
    from cryptography.hazmat.primitives.asymmetric import ec
    from flask import Blueprint
    from sqlalchemy import Connection

    from provenance.access.principal import Principal
    from provenance.access.rules import Rule
    from provenance.log.append import Submission
    from provenance.log.service import Service
    from provenance.reports.model import ReportKind

GROUP = "provenance.plugins"


def _none() -> tuple[Any, ...]:
    return ()


def _no_rules() -> Mapping[str, Rule]:
    return {}


@dataclass(frozen=True)
class DemoParty:
    slug: str  # names its key file under data/demo/
    name: str
    gln: str
    roles: tuple[str, ...]


class DemoRun(Protocol):
    """What a demo story works with: the service, and demo keys to sign with."""

    @property
    def service(self) -> Service: ...

    def key(self, slug: str) -> ec.EllipticCurvePrivateKey: ...

    def sign(self, slug: str, kind: str, body: dict[str, Any]) -> Submission:
        """A statement signed on the demo party's side, ready for `submit`."""
        ...

    def sign_as_authority(self, kind: str, body: dict[str, Any]) -> Submission:
        """A statement signed by the log's registry authority (e.g. assigning a prefix)."""
        ...

    def submit(self, items: Sequence[Submission]) -> None: ...


@dataclass(frozen=True)
class Demo:
    """A domain's demo: its parties (registered with keys derived on this machine) and a story
    that appends its statements once and says what it did in one line."""

    parties: tuple[DemoParty, ...]
    story: Callable[[DemoRun], str] | None = None


#: Audiences the front page points to; a plug-in may name another for its own links.
INSPECTORS = "Inspectors and auditors"
OPERATORS = "Operators and integrators"


@dataclass(frozen=True)
class NavLink:
    """A link in every page's navigation; with an `audience`, the front page also points that
    audience to it, saying `summary` beside it."""

    label: str
    path: str
    audience: str | None = None
    summary: str = ""


@dataclass(frozen=True)
class Panel:
    """A section of the front page: a template of the plug-in's and the data it shows."""

    template: str
    #: What the panel shows this reader (the connection is a read snapshot).
    data: Callable[[Connection, Principal], dict[str, Any]]


@dataclass(frozen=True)
class Plugin:
    """Everything a domain adds; the log core sees only `personality`."""

    personality: Personality
    problems: tuple[type[Error], ...] = ()
    blueprints: Callable[[], Sequence[Blueprint]] = _none
    #: The access rule of every route its blueprints add (endpoint name → rule).
    access: Callable[[], Mapping[str, Rule]] = _no_rules
    #: Subcommands of the party-side `provenance` command.
    commands: Callable[[], Sequence[click.Command]] = _none
    #: Operator commands under `flask --app app` (beside init, verify, rebuild).
    admin_commands: Callable[[], Sequence[click.Command]] = _none
    reports: Callable[[], Sequence[ReportKind]] = _none
    demo: Demo | None = None
    #: Links in the site's navigation: `NavLink`s, or plain (label, path) pairs.
    nav: tuple[NavLink | tuple[str, str], ...] = ()
    panels: tuple[Panel, ...] = ()

    @property
    def name(self) -> str:
        return self.personality.name


@dataclass(frozen=True)
class Installed:
    """The plug-ins one app, command or report run works with, in a fixed order."""

    plugins: tuple[Plugin, ...] = ()
    registry: Registry = field(init=False)

    def __post_init__(self) -> None:
        names = [plugin.name for plugin in self.plugins]
        if len(set(names)) != len(names):
            raise ValueError(f"plug-ins installed twice: {names}")
        registry = Registry([plugin.personality for plugin in self.plugins])
        object.__setattr__(self, "registry", registry)

    def named(self, names: Iterable[str]) -> tuple[Plugin, ...]:
        wanted = set(names)
        return tuple(plugin for plugin in self.plugins if plugin.name in wanted)

    def problems(self) -> tuple[type[Error], ...]:
        return tuple(problem for plugin in self.plugins for problem in plugin.problems)

    def nav(self) -> tuple[NavLink, ...]:
        return tuple(
            link if isinstance(link, NavLink) else NavLink(*link)
            for plugin in self.plugins
            for link in plugin.nav
        )


def available() -> dict[str, Callable[[], Plugin]]:
    """The plug-ins installed in this environment, by entry-point name, not yet imported."""
    found: dict[str, Callable[[], Plugin]] = {}
    for point in entry_points(group=GROUP):
        found[point.name] = point.load
    return found


def load_plugins(names: Sequence[str] | None = None) -> Installed:
    """Import the named plug-ins (all installed ones if None), sorted by name."""
    found = available()
    chosen = sorted(found) if names is None else list(names)
    unknown = [name for name in chosen if name not in found]
    if unknown:
        raise ValueError(
            f"no plug-in {', '.join(unknown)} in the {GROUP!r} entry points; "
            f"installed: {', '.join(sorted(found)) or 'none'}"
        )
    plugins = []
    for name in sorted(chosen):
        plugin = found[name]()
        if not isinstance(plugin, Plugin) or plugin.name != name:
            raise TypeError(f"entry point {name!r} of {GROUP!r} is not the Plugin {name!r}")
        plugins.append(plugin)
    return Installed(tuple(plugins))
