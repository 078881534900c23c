"""`flask --app app` and gunicorn's `app:create_app()`: the factory lives in provenance.app."""

from provenance.app import create_app

__all__ = ["create_app"]
