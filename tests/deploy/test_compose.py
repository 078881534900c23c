"""compose.yaml and the Dockerfile, run without a container engine: each service's own command,
as compose.yaml writes it, against a local PostgreSQL, with the volumes as folders."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import fresh_postgres_database

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-for-the-test-0001"
VOLUMES = ("/data", "/log-public", "/witness-public", "/witness")


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((PROJECT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def dockerfile_env() -> dict[str, str]:
    """The runtime image's ENV lines (the last stage's), as the services inherit them."""
    text = (PROJECT / "Dockerfile").read_text().replace("\\\n", " ")
    last_stage = text.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in last_stage.splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def test_the_dockerfile_copies_what_exists_and_runs_the_front() -> None:
    text = (PROJECT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.M):
        for path in source.split():
            assert (PROJECT / path).exists(), path
    assert dockerfile_env()["FLASK_APP"] == "provenance.app"
    assert 'CMD ["python", "-m", "provenance.front"]' in text
    assert "/readyz" in text


def test_compose_orders_the_services_and_publishes_only_on_loopback() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "init", "witness", "app"}
    assert services["init"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["witness"]["depends_on"]["init"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["app"]["depends_on"]["witness"]["condition"] == "service_healthy"
    assert services["app"]["ports"] == ["127.0.0.1:8000:8000"]
    # Only the owner-run init sees the owner's credentials; the service connects as its role.
    assert "provenance_service:" in services["app"]["environment"]["DATABASE_URL"]
    assert "provenance_owner:" in services["init"]["environment"]["DATABASE_URL"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Stack:
    """compose.yaml's services as local processes: `db` is the test PostgreSQL, each volume a
    folder, each service host the loopback address."""

    def __init__(self, root: Path, database_url: str, host_env: dict[str, str]) -> None:
        self.root = root
        self.host_env = host_env  # what compose would read from the shell that runs it
        self.owner_url = database_url
        self.database = database_url.split("://", 1)[1].split("@", 1)[-1]  # host:port/name
        self.witness_port = free_port()
        self.app_port = free_port()
        for volume in VOLUMES:
            (root / volume.strip("/")).mkdir(mode=0o700)

    def substituted(self, text: str) -> str:
        """A compose string as compose and the container would see it."""

        def variable(match: re.Match[str]) -> str:
            return self.host_env.get(match.group(1)) or match.group(2)

        text = re.sub(r"(?<!\$)\$\{(\w+):-([^}]*)\}", variable, text).replace("$$", "$")
        # compose's `db` makes its POSTGRES_USER a superuser: here that is the test server's
        # own user. The service role keeps its name; the local server trusts loopback logins.
        text = re.sub(
            r"postgresql://provenance_owner:[^@]*@db:5432/provenance", self.owner_url, text
        )
        text = re.sub(r"@db:5432/provenance", f"@{self.database}", text)
        text = text.replace("http://witness:7380", f"http://127.0.0.1:{self.witness_port}")
        text = text.replace("--port 7380", f"--port {self.witness_port}")
        text = text.replace("--host 0.0.0.0", "--host 127.0.0.1")
        for volume in sorted(VOLUMES, key=len, reverse=True):
            text = re.sub(rf"{volume}(?=[/\s\"']|$)", str(self.root / volume.strip("/")), text)
        return text

    def environment(self, service: str) -> dict[str, str]:
        spec = compose()["services"][service]
        env = {**os.environ, **dockerfile_env()}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        env["PROVENANCE_HOST"] = "127.0.0.1"
        env["PROVENANCE_PORT"] = str(self.app_port)
        for name, value in (spec.get("environment") or {}).items():
            env[name] = self.substituted(str(value))
        return env

    def command(self, service: str) -> list[str]:
        command = compose()["services"][service]["command"]
        return [self.substituted(part) for part in command]

    def run(self, service: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(service),
            cwd=self.root / "data",
            env=self.environment(service),
            capture_output=True,
            text=True,
            timeout=600,
        )

    @contextmanager
    def start(self, service: str) -> Iterator[subprocess.Popen[str]]:
        log = (self.root / f"{service}.log").open("w")
        process = subprocess.Popen(
            self.command(service),
            cwd=self.root / "data",
            env=self.environment(service),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def wait_for(url: str, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer:\n{log.read_text()[-3000:]}")


def test_the_compose_services_serve_the_demo_on_postgresql(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        shell = {"PROVENANCE_COMPOSE_DEMO": "1", "PROVENANCE_METRICS_TOKEN": TOKEN}
        stack = Stack(tmp_path, url, shell)
        # 1. `init`: the service role, schema, keys, genesis, demo data and the grants.
        done = stack.run("init")
        assert done.returncode == 0, done.stdout + done.stderr
        assert (tmp_path / "log-public" / "log.vkey").read_text().strip()
        # Idempotent, as a release's `docker compose run --rm init` relies on.
        again = stack.run("init")
        assert again.returncode == 0, again.stdout + again.stderr

        # 2. `witness`, healthy as compose's healthcheck asks; 3. `app` as the service role.
        with stack.start("witness"):
            wait_for(f"http://127.0.0.1:{stack.witness_port}/", tmp_path / "witness.log")
            assert (tmp_path / "witness-public" / "vkey").read_text().strip()
            with stack.start("app"):
                base = f"http://127.0.0.1:{stack.app_port}"
                wait_for(f"{base}/healthz", tmp_path / "app.log")
                status, body = get(f"{base}/readyz")
                assert status == 200, body
                ready = json.loads(body)
                assert ready["status"] == "ready" and ready["size"] > 100  # the demo log
                status, body = get(f"{base}/api/v1/trials")
                assert status == 200 and json.loads(body), body
                assert get(f"{base}/metrics")[0] == 401
                status, metrics = get(f"{base}/metrics", {"Authorization": f"Bearer {TOKEN}"})
                assert status == 200 and b"provenance_log_entries" in metrics, metrics[:500]
                # The witness has cosigned the log's checkpoint.
                deadline = time.monotonic() + 60
                cosigned = b""
                while b"witness.compose.local/w1" not in cosigned:
                    assert time.monotonic() < deadline, cosigned
                    status, cosigned = get(f"{base}/log/checkpoint/cosigned")
                    time.sleep(0.5)
                assert "\n\u2014 witness.compose.local/w1 ".encode() in cosigned
        # The service role owns nothing: the tables belong to the role that ran init.
        owners = subprocess.run(
            [sys.executable, "-c", OWNERS, url], capture_output=True, text=True, check=True
        ).stdout.split()
        assert owners and "provenance_service" not in owners


OWNERS = """
import sys, psycopg
with psycopg.connect(sys.argv[1]) as conn:
    rows = conn.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
    print(" ".join(r[0] for r in rows))
"""
