"""The running app's service and plug-ins, for blueprints (a leaf: it imports no blueprint)."""

from __future__ import annotations

from flask import current_app

from provenance.log.service import Service
from provenance.plugins import Installed

SERVICE = "provenance"
PLUGINS = "provenance.plugins"


def service() -> Service:
    svc: Service = current_app.extensions[SERVICE]
    return svc


def installed() -> Installed:
    plugins: Installed = current_app.extensions[PLUGINS]
    return plugins
