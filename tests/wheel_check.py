"""Build the wheel offline, install it in a new virtual environment, seed and serve the demo
from it: `python tests/wheel_check.py WORKDIR` (exit 1, saying what failed; about a minute).

The wheel must hold the packages provenance and trials and nothing else at the top level (no
`app` module, no data/ folder), keep its state in the instance folder, and seed the demo trial
from the sample tables it installs under <prefix>/share. Nothing is downloaded: the build uses
this environment's setuptools, and the new environment reaches this one's dependencies through
a .pth line (this checkout's own editable install is not reached that way)."""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

PROJECT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
TOP_LEVEL = {"provenance", "trials"}
SAMPLE = "data/share/provenance/clindata/ctms_study.csv.gz"
VENDORED = "provenance/supply/web/static/vendor/zxing-library-"


class CheckFailed(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(what)


def run(*command: str, **options: Any) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, **options)
    check(done.returncode == 0, f"{' '.join(command[:4])} … failed:\n{done.stderr}")
    return str(done.stdout)


def build_wheel(work: Path) -> Path:
    """The wheel of a copy of the sources (a build writes build/ and egg-info beside them)."""
    source = work / "source"
    skipped = shutil.ignore_patterns(
        ".*", "*cache*", "*.egg-info", "build", "dist", "tests", "*.db", "*.db-*", "*.lock"
    )

    def ignore(directory: str, names: list[str]) -> set[str]:
        if Path(directory) == PROJECT / "data":  # a deployment's state: only the sample data
            return {name for name in names if name != "clindata"}
        return set(skipped(directory, names))

    shutil.copytree(PROJECT, source, ignore=ignore)
    out = work / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--no-index", "-w", str(out), str(source))  # fmt: skip
    (wheel,) = out.glob("provenance-*.whl")
    return wheel


def check_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names if ".dist-info/" not in n and ".data/" not in n}
    check(tops == TOP_LEVEL, f"the wheel's top level is {sorted(tops)}, not {sorted(TOP_LEVEL)}")
    check(any(n.endswith(SAMPLE) for n in names), "the wheel lacks the demo trial's tables")
    check(any(VENDORED in n for n in names), "the wheel lacks the scan page's barcode decoder")


def install(work: Path, wheel: Path) -> Path:
    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = str(venv / "bin" / "python")
    # This environment's pip installs into the new one (packages, scripts, data files);
    # --ignore-installed: never uninstall this checkout's own install from this environment.
    run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
        "--ignore-installed", "--prefix", str(venv), str(wheel))  # fmt: skip
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    Path(purelib.strip(), "dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    return venv


def serve_demo(work: Path, venv: Path) -> None:
    python = str(venv / "bin" / "python")
    elsewhere = work / "elsewhere"  # no app.py, no data/ here: only what the wheel installed
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PROVENANCE_DATA_DIR", "DATABASE_URL")}
    options = {"cwd": elsewhere, "env": env}
    found = subprocess.run([python, "-c", "import app"], capture_output=True, text=True, **options)  # type: ignore[call-overload]
    check("ModuleNotFoundError" in found.stderr, "the wheel installs a top-level module app")
    flask = (python, "-m", "flask", "--app", "provenance.app")
    run(*flask, "init", "--demo", **options)
    seeded = run(*flask, "seed-demo", "--if-empty", "--entries", "0", **options)
    check("demo trial" in seeded and "supply chain" in seeded, f"seed-demo said: {seeded}")
    instance = venv / "var" / "provenance.app-instance"
    check((instance / "provenance.db").is_file(), f"no database in the instance folder {instance}")
    with subprocess.Popen(
        [python, "-m", "provenance.front"], cwd=elsewhere, env={**env, "PROVENANCE_PORT": "0"},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as server:  # fmt: skip
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            url = re.search(r"serving at (\S+)", line)
            check(url is not None, f"the server said {line!r}")
            assert url is not None
            for path in ("", "healthz"):
                with urllib.request.urlopen(url.group(1) + path, timeout=30) as answer:
                    check(answer.status == 200, f"GET /{path} answered {answer.status}")
        finally:
            server.terminate()
            server.wait(timeout=30)


def timed(name: str, step: Callable[[], T]) -> T:
    began = time.perf_counter()
    result = step()
    print(f"{name}: {time.perf_counter() - began:.1f} s")
    return result


def main(work: Path) -> None:
    started = time.perf_counter()
    wheel = timed("build", lambda: build_wheel(work))
    timed("contents", lambda: check_contents(wheel))
    venv = timed("install", lambda: install(work, wheel))
    timed("seed and serve", lambda: serve_demo(work, venv))
    print(f"wheel OK in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/wheel_check.py WORKDIR (an empty directory)")
    try:
        main(Path(sys.argv[1]))
    except CheckFailed as failed:
        sys.exit(f"wheel check failed: {failed}")
