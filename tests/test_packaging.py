"""The wheel, built offline and installed in a new virtual environment, seeds and serves the
demo (tests/wheel_check.py does it; it takes about a minute, so it runs as one script)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = Path(__file__).resolve().parent / "wheel_check.py"


def test_the_wheel_installs_its_packages_only_and_serves_the_demo(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(CHECK), str(tmp_path)], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "wheel OK" in done.stdout
