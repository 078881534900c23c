"""Flask application factory: configuration, the log service, blueprints and admin commands."""

from __future__ import annotations

from typing import Any

from flask import Flask

import trials.demo.story  # noqa: F401
import trials.registry
import trials.submissions
import trials.web
from provenance import commands, web

MAX_REQUEST_BYTES = 1 << 20  # 1 MiB


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, JSON_SORT_KEYS=False)
    app.config.from_prefixed_env("PROVENANCE")
    if test_config is not None:
        app.config.update(test_config)
    web.init_service(app)
    web.register(app)
    trials.web.register(app)
    commands.register(app)
    return app
