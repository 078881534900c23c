"""Copies of a seeded log that hold the public verifier key only, damaged through SQL as an
attacker with the database file would (append-only guards dropped first)."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask

from app import create_app
from provenance.log.keystore import LOG_VKEY_FILE
from provenance.web.context import SERVICE

DATABASE = "provenance.db"


def public_copy(source: Path, target: Path) -> Path:
    """The database of the data directory `source` and its log.vkey, nothing else: no key
    under target/keys is private."""
    target.mkdir(parents=True)
    src = sqlite3.connect(source / DATABASE)
    dst = sqlite3.connect(target / DATABASE)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    (target / "keys").mkdir()
    shutil.copy(source / "keys" / LOG_VKEY_FILE, target / "keys" / LOG_VKEY_FILE)
    return target


def damage(data_dir: Path, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
    """Run SQL on the database with every trigger dropped (an attacker is not stopped by them)."""
    conn = sqlite3.connect(data_dir / DATABASE, isolation_level=None)
    try:
        triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        for (name,) in triggers.fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            sql, params = statement if isinstance(statement, tuple) else (statement, ())
            conn.execute(sql, params)
    finally:
        conn.close()


def loosen(data_dir: Path, table: str) -> None:
    """Copy `table` into one without constraints, so NULLs and any types can be written."""
    damage(
        data_dir,
        f"CREATE TABLE loose AS SELECT * FROM {table}",
        f"DROP TABLE {table}",
        f"ALTER TABLE loose RENAME TO {table}",
    )


def row(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    conn = sqlite3.connect(data_dir / DATABASE)
    try:
        found: tuple[Any, ...] = conn.execute(sql, params).fetchone()
    finally:
        conn.close()
    return found


@contextlib.contextmanager
def app_over(data_dir: Path) -> Iterator[Flask]:
    """The app over a data directory as it is (no `init`: nothing is created or signed)."""
    app = create_app({"TESTING": True, "DATA_DIR": str(data_dir)})
    try:
        yield app
    finally:
        app.extensions[SERVICE].close()


def run_verify(data_dir: Path, *args: str) -> tuple[int, str]:
    """`flask --app app verify` over the data directory: exit status and output."""
    with app_over(data_dir) as app:
        outcome = app.test_cli_runner().invoke(args=["verify", "--quiet", "--workers", "1", *args])
    return outcome.exit_code, outcome.output


def first_problem(output: str) -> str:
    """The line naming the first problem, without its "LOG DAMAGED: " prefix."""
    line = output.splitlines()[0]
    assert line.startswith("LOG DAMAGED: first bad index "), output
    return line.removeprefix("LOG DAMAGED: ")
