"""`provenance --help` starts without the libraries only reports and datasets need."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.paths import PROJECT

#: What listing the commands must not import: pandas (about half a second), and pyreadstat
#: with numpy, which only a SAS V8 transport file needs.
HEAVY = ("pandas", "pyreadstat", "numpy", "matplotlib")

HELP = """
import contextlib, io, json, sys
sys.argv = ["provenance", "--help"]
from provenance.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as exit:
        code = exit.code
print(json.dumps({"code": code, "help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_help_lists_every_command_without_importing_pandas() -> None:
    result = subprocess.run(
        [sys.executable, "-c", HELP], capture_output=True, text=True, cwd=PROJECT, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["code"] == 0
    # The core's, the supply chain's and the trials' commands are all listed...
    for command in ("keygen", "verify-receipt", "report", "scan", "trial", "submit-dataset"):
        assert f"  {command} " in answer["help"], command
    # ...without importing what only running some of them needs.
    loaded = set(answer["modules"])
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_trials_demo_and_bundles_still_work_through_the_lazy_plugin() -> None:
    from provenance.plugins import load_plugins
    from trials import bundles
    from trials.demo import parties, story

    trials = load_plugins(["trials"]).plugins[0]
    assert trials.demo is not None and trials.demo.parties == parties.PARTIES
    assert story.SPONSOR is parties.SPONSOR
    subjects = trials.personality.bundle_subjects
    assert set(subjects) == set(bundles.SUBJECTS)
