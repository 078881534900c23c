"""Where the tests find their reference data: tests/vectors (with SOURCE.md) and the project."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
PROJECT = TESTS.parent
VECTORS = TESTS / "vectors"
