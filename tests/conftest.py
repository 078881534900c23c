"""Fixtures: app → client → runner on a temporary data directory (SQLite by default)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text

from app import create_app
from provenance import demo
from provenance.reports.catalog import catalog, report_kind
from provenance.reports.model import Params, Report
from provenance.reports.run import run_report
from provenance.web.context import installed as _installed
from provenance.web.context import service as _service
from tests.chromium import FLAGS, require
from tests.parties import Authority, PartyKey, register_party

POSTGRES_ENV = "PROVENANCE_TEST_POSTGRES_URL"

# Tests make thousands of requests a minute from one address: the rate limiter runs in every
# test app and server, with limits they never reach; tests/access/test_rate_limits.py sets
# real ones.
for _limit in ("PROVENANCE_RATE_LIMIT_PARTY", "PROVENANCE_RATE_LIMIT_ADDRESS"):
    os.environ.setdefault(_limit, "1000000")


def make_app(
    data_dir: Path,
    database_url: str | None = None,
    *,
    demo: bool = False,
    public_url: str | None = None,
) -> Flask:
    """An app over a new log; `demo`: a demonstration log, which alone takes the demo seed."""
    config: dict[str, object] = {"TESTING": True, "DATA_DIR": str(data_dir)}
    if public_url:
        config["PUBLIC_URL"] = public_url
    if database_url:
        config["DATABASE_URL"] = database_url
    app = create_app(config)
    with app.app_context():
        _service().initialise(demo=demo)
    return app


@contextlib.contextmanager
def seeded_demo_app(directory: Path, count: int, stories: tuple[str, ...]) -> Iterator[Flask]:
    """An app whose log holds the demo parties, the demo `stories` and `count` attestations."""
    app = make_app(directory / "data", demo=True)
    try:
        with app.app_context():
            demo.seed(_service(), _installed().plugins, count, stories=stories)
        yield app
    finally:
        with app.app_context():
            _service().close()


def run_named_report(app: Flask, name: str, params: Params) -> Report:
    """Run report `name` as the CLI and /reports do; it ticks once per step it declares."""
    steps: list[str] = []
    with app.app_context():
        kind = report_kind(catalog(_installed()), name)
        report = run_report(_service(), kind, params, steps.append)
    assert len(steps) == kind.steps
    return report


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    with app_on("sqlite", tmp_path / "data") as made:
        yield made


@pytest.fixture
def demo_app(tmp_path: Path) -> Iterator[Flask]:
    """An app over a new demonstration log (for tests that seed the demo)."""
    with app_on("sqlite", tmp_path / "demo-data", demo=True) as made:
        yield made


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def authority(app: Flask) -> Authority:
    return Authority.from_app(app)


@pytest.fixture
def manufacturer(client: FlaskClient, authority: Authority) -> PartyKey:
    return register_party(client, authority, "Acme Pharma", "5412345000013", ["manufacturer"])


@pytest.fixture
def pharmacy(client: FlaskClient, authority: Authority) -> PartyKey:
    return register_party(client, authority, "City Pharmacy", "5412345000037", ["pharmacy"])


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV)


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards (skips where none is configured)."""
    base = postgres_url()
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set (CI sets it; PostgreSQL tests never skip there)")
    name = f"provenance_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


#: The two databases an access matrix runs on.
BACKENDS = ("sqlite", "postgresql")


@contextlib.contextmanager
def app_on(backend: str, data_dir: Path, *, demo: bool = False) -> Iterator[Flask]:
    """An app over a new log on `backend` (SQLite in `data_dir`, or a fresh PostgreSQL),
    its connections returned afterwards."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if backend == "postgresql" else None
        app = make_app(data_dir, url, demo=demo)
        try:
            yield app
        finally:
            with app.app_context():
                _service().close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    chromium, chromedriver = require("chromium", "chromedriver")
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager reach the network
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1400"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(chromedriver))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
