"""The Flask application factory: settings, plug-ins, the log service, blueprints, commands."""

from __future__ import annotations

from typing import Any

from flask import Flask

from provenance import commands
from provenance.access import login, sessions
from provenance.access import web as access
from provenance.access.errors import PROBLEMS as ACCESS_PROBLEMS
from provenance.log.service import Service
from provenance.log.settings import Settings
from provenance.plugins import Installed, load_plugins
from provenance.web import (
    access_log,
    api,
    headers,
    health,
    log_http,
    metrics,
    modes,
    openapi_http,
    pages,
    problems,
    reports_http,
)
from provenance.web.context import PLUGINS, SERVICE

MAX_REQUEST_BYTES = 1 << 20  # 1 MiB
#: Tables the app keeps besides the log's and the plug-ins' (browser sessions, request nonces):
#: a database made for the app by a script (a benchmark, say) is migrated with them too.
APP_METADATA = (sessions.METADATA,)


def create_app(
    test_config: dict[str, Any] | None = None, plugins: Installed | None = None
) -> Flask:
    """The app over one log; `plugins` default to those the settings name (all installed)."""
    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, JSON_SORT_KEYS=False)
    app.config.from_prefixed_env("PROVENANCE")
    if test_config is not None:
        app.config.update(test_config)
    settings = Settings.from_config(app.config)
    if plugins is None:
        plugins = load_plugins(settings.plugins)
    app.extensions[PLUGINS] = plugins
    app.extensions[SERVICE] = Service(settings, plugins.registry, APP_METADATA)
    problems.register(app, (*ACCESS_PROBLEMS, *health.PROBLEMS, *plugins.problems()))
    for blueprint in (log_http.bp, api.bp, pages.bp, reports_http.bp, login.bp, openapi_http.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    rules = {**log_http.ACCESS, **api.ACCESS, **pages.ACCESS, **reports_http.ACCESS}
    rules.update({**problems.ACCESS, **login.ACCESS, **openapi_http.ACCESS})
    rules.update({**health.ACCESS, **metrics.ACCESS})
    for plugin in plugins.plugins:
        for blueprint in plugin.blueprints():
            app.register_blueprint(blueprint)
        rules.update(plugin.access())
    service = app.extensions[SERVICE]
    modes.install(app, service)  # first: refuses before anything else runs
    access.install(app, service, rules)
    metrics.install(app, service)
    pages.install_navigation(app, plugins.nav())
    headers.install(app)
    commands.register(app)
    access_log.install(app, metrics.observe)  # outermost: times everything the app does
    return app
