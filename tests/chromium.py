"""Debian's headless Chromium (and its ChromeDriver) for page tests: present in CI, or skipped."""

from __future__ import annotations

import os
import shutil

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require(*programs: str) -> list[str]:
    """Paths of these programs; missing ones fail in CI (.ci/run installs them) and skip else."""
    found = [shutil.which(program) for program in programs]
    missing = [p for p, path in zip(programs, found, strict=True) if path is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing: .ci/run installs Debian's packages")
        pytest.skip(f"{', '.join(missing)} not installed")
    return [path for path in found if path is not None]
