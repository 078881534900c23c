"""The `app` fixture over each database: a test module that imports it runs every test on
SQLite and on PostgreSQL (skipped where PROVENANCE_TEST_POSTGRES_URL names none)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import BACKENDS, app_on


@pytest.fixture(params=BACKENDS, name="app")
def app_on_each_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    with app_on(request.param, tmp_path / "data") as made:
        yield made
