"""What an operator runs the service with: liveness and readiness, metrics, access logs, file
modes, options from the environment, and a command line that starts quickly."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine

from provenance.cli import main as provenance_cli
from provenance.errors import PROBLEM_BASE
from provenance.log.note import Checkpoint, format_checkpoint
from provenance.web.context import service
from provenance.web.gunicorn_worker import problem_bytes
from tests.conftest import make_app
from tests.parties import Authority, PartyKey, attestation, post, read, register_party
from tests.server import gunicorn

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "scraper-token-0123456789"
ACCESS_LOGGER = "provenance.access"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    made = make_app(tmp_path / "data")
    made.config["METRICS_TOKEN"] = TOKEN
    try:
        yield made
    finally:
        with made.app_context():
            service().close()


@pytest.fixture
def parties(client: FlaskClient, authority: Authority) -> dict[str, PartyKey | None]:
    return {
        "anonymous": None,
        "manufacturer": register_party(
            client, authority, "Acme Pharma", "5412345000013", ["manufacturer"]
        ),
        "regulator": register_party(client, authority, "Agency", "5412345000099", ["regulator"]),
    }


def problem_type(response: object) -> str:
    body = response.get_json()  # type: ignore[attr-defined]
    return str(body["type"]).removeprefix(PROBLEM_BASE)


def scrape(client: FlaskClient) -> str:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, buffered=True)
    assert answer.status_code == 200, answer.data
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    return answer.get_data(as_text=True)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series of a Prometheus text exposition, or None if it is absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = f"{name}{{{wanted}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


# --- who may use each route ------------------------------------------------------------------

ROUTES = {
    # route: status for (anonymous, manufacturer, regulator)
    "/healthz": (200, 200, 200),
    "/readyz": (200, 200, 200),
    "/metrics": (401, 403, 200),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_each_route_answers_each_reader(
    client: FlaskClient, parties: dict[str, PartyKey | None], route: str
) -> None:
    statuses = tuple(read(client, party, route).status_code for party in parties.values())
    assert statuses == ROUTES[route]


def test_a_scraper_with_the_metrics_token_reads_metrics_and_no_other_token_does(
    client: FlaskClient,
) -> None:
    assert "provenance_log_entries 1.0" in scrape(client)
    for header in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer "):
        assert client.get("/metrics", headers={"Authorization": header}).status_code == 401
    # The token opens /metrics only, nothing else.
    answer = client.get("/reports", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 401


def test_without_a_token_setting_no_bearer_token_reads_metrics(client: FlaskClient) -> None:
    client.application.config["METRICS_TOKEN"] = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_a_short_metrics_token_stops_the_app_at_start(tmp_path: Path) -> None:
    from app import create_app

    with pytest.raises(ValueError, match="METRICS_TOKEN"):
        create_app({"DATA_DIR": str(tmp_path / "data"), "METRICS_TOKEN": "short"})


# --- liveness and readiness ------------------------------------------------------------------


def test_liveness_and_readiness_answer_json_that_is_never_cached(client: FlaskClient) -> None:
    live = client.get("/healthz")
    assert (live.status_code, live.get_json()) == (200, {"status": "live"})
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {
        "status": "ready",
        "schema_version": 1,
        "size": 1,
        "appends": "accepted",
    }
    assert live.headers["Cache-Control"] == ready.headers["Cache-Control"] == "no-store"


def test_not_ready_before_init_but_alive(tmp_path: Path) -> None:
    from app import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data")})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert problem_type(answer) == "not-initialised"
    with app.app_context():
        service().close()


def test_not_ready_when_the_guard_would_refuse_appends(app: Flask, client: FlaskClient) -> None:
    """The database lacks a checkpoint this log published (kept in checkpoints/latest)."""
    with app.app_context():
        log = service().log
        assert log.guard.outside is not None
        published = Checkpoint(log.signer.name, 99, bytes(32))
        log.guard.outside.record(log.signer.sign(format_checkpoint(published)))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert problem_type(answer) == "log-state-unvouched"
    assert answer.get_json()["checkpoint_size"] == 99
    assert client.get("/healthz").status_code == 200  # alive: reads are still served


def test_not_ready_when_the_database_does_not_answer(app: Flask, client: FlaskClient) -> None:
    assert client.get("/readyz").status_code == 200
    with app.app_context():
        svc = service()
        working = svc.engine
        # Nothing listens on port 1 of the loopback: the connection is refused at once.
        svc.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
        try:
            answer = client.get("/readyz")
            assert client.get("/healthz").status_code == 200
        finally:
            svc.engine.dispose()
            svc.engine = working
    assert answer.status_code == 503
    assert problem_type(answer) == "database-unavailable"


def test_a_read_only_server_is_ready_and_says_it_appends_nothing(tmp_path: Path) -> None:
    from app import create_app

    close(make_app(tmp_path / "data"))
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "READ_ONLY": True})
    answer = app.test_client().get("/readyz")
    assert (answer.status_code, answer.get_json()["appends"]) == (200, "read-only")
    with app.app_context():
        service().close()


# --- metrics ---------------------------------------------------------------------------------


def test_requests_are_counted_by_route_template_and_timed(client: FlaskClient) -> None:
    before = scrape(client)
    labels = {"method": "GET", "route": "/log/receipt/<int:index>", "status": "200"}
    counted = sample(before, "provenance_http_requests_total", **labels) or 0.0
    timed = sample(before, "provenance_http_request_duration_seconds_count", route=labels["route"])
    for _ in range(3):
        client.get("/log/receipt/0", buffered=True)
    client.get("/no/such/lot-7", buffered=True)
    after = scrape(client)
    assert sample(after, "provenance_http_requests_total", **labels) == counted + 3
    assert (
        sample(after, "provenance_http_request_duration_seconds_count", route=labels["route"])
        == (timed or 0.0) + 3
    )
    unmatched = {"method": "GET", "route": "(unmatched)", "status": "404"}
    assert (sample(after, "provenance_http_requests_total", **unmatched) or 0) >= 1
    assert "lot-7" not in after  # a path never becomes a label


def test_appends_size_and_verification_lag(
    app: Flask, client: FlaskClient, authority: Authority
) -> None:
    before = scrape(client)
    appends = sample(before, "provenance_log_append_transactions_total") or 0.0
    assert sample(before, "provenance_log_verification_lag_entries") is None  # never verified
    party = register_party(client, authority, "Acme Pharma", "5412345000013", ["manufacturer"])
    result = app.test_cli_runner().invoke(args=["verify", "--quiet"])
    assert result.exit_code == 0, result.output
    assert post(client, attestation(party, "lot/1")).status_code == 201
    after = scrape(client)
    assert sample(after, "provenance_log_append_transactions_total") == appends + 2
    assert sample(after, "provenance_log_entries") == 3
    assert sample(after, "provenance_log_verified_entries") == 2
    assert sample(after, "provenance_log_verification_lag_entries") == 1


def test_rate_limited_requests_are_counted(tmp_path: Path) -> None:
    from app import create_app

    close(make_app(tmp_path / "data"))
    config = {"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "METRICS_TOKEN": TOKEN}
    reader = create_app(config)  # the counters are the process's: any app of it reads them
    before = sample(scrape(reader.test_client()), "provenance_rate_limited_requests_total")
    limited = create_app({**config, "RATE_LIMIT_ADDRESS": 2})
    statuses = [limited.test_client().get("/healthz").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    after = sample(scrape(reader.test_client()), "provenance_rate_limited_requests_total")
    assert after == (before or 0.0) + 1
    close(reader)
    close(limited)


def close(app: Flask) -> None:
    with app.app_context():
        service().close()


# --- access log ------------------------------------------------------------------------------


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]


def test_one_json_line_a_request_without_paths_queries_or_secrets(
    client: FlaskClient, parties: dict[str, PartyKey | None], caplog: pytest.LogCaptureFixture
) -> None:
    regulator = parties["regulator"]
    assert regulator is not None
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        read(client, regulator, "/log/receipt/0?secret=q-1", buffered=True)
        client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, buffered=True)
    signed, scraped = access_lines(caplog)
    assert signed["method"] == "GET"
    assert signed["route"] == "/log/receipt/<int:index>"
    assert signed["status"] == 200
    assert signed["key_id"] == regulator.key_id
    assert isinstance(signed["duration_ms"], float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(signed["time"]))
    assert set(signed) == {"time", "method", "route", "status", "duration_ms", "key_id"}
    assert "key_id" not in scraped and scraped["status"] == 200
    assert "secret" not in caplog.text and TOKEN not in caplog.text


def test_an_unexpected_error_is_logged_with_its_traceback_and_answered_500(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("the disk went away")

    app.view_functions["problem_types"] = broken
    with caplog.at_level(logging.INFO):
        answer = client.get("/problems", buffered=True)
    assert answer.status_code == 500 and problem_type(answer) == "internal"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert errors and "the disk went away" in str(errors[0].exc_info[1])  # type: ignore[index]
    assert access_lines(caplog)[-1]["status"] == 500


# --- files -----------------------------------------------------------------------------------


def test_the_database_and_data_directory_are_private(
    app: Flask, client: FlaskClient, authority: Authority, tmp_path: Path
) -> None:
    register_party(client, authority, "Acme Pharma", "5412345000013", ["manufacturer"])
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [data / "provenance.db", data / "provenance.db-wal", data / "provenance.db-shm"]
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}


# --- the command line ------------------------------------------------------------------------


def test_every_option_can_come_from_the_environment(tmp_path: Path) -> None:
    key = tmp_path / "acme.pem"
    assert CliRunner().invoke(provenance_cli, ["keygen", str(key)]).exit_code == 0
    statement = tmp_path / "s.json"
    statement.write_text(json.dumps({"kind": "attestation", "body": {"subject": "lot/7"}}))
    env = {"PROVENANCE_KEY": str(key), "PROVENANCE_SIGN_LOG": "example.org/log"}
    signed = CliRunner(env=env).invoke(provenance_cli, ["sign", str(statement)])
    assert signed.exit_code == 0, signed.output
    assert json.loads(signed.output)["signatures"][0]["keyid"]
    helped = CliRunner().invoke(provenance_cli, ["submit", "--help"])
    assert "PROVENANCE_URL" in helped.output and "PROVENANCE_KEY" in helped.output


def test_register_party_prints_even_with_a_server_in_the_environment(tmp_path: Path) -> None:
    """--url switches register-party from printing to submitting: PROVENANCE_URL does not."""
    key, public = tmp_path / "a.pem", tmp_path / "a.pub.pem"
    made = CliRunner().invoke(provenance_cli, ["keygen", str(key), "--public-out", str(public)])
    assert made.exit_code == 0
    args = ["register-party", "--authority-key", str(key), "--name", "Acme", "--gln",
            "5412345000013", "--role", "manufacturer", "--public-key", str(public),
            "--log", "example.org/log"]  # fmt: skip
    env = {"PROVENANCE_URL": "http://127.0.0.1:1"}  # nothing listens there
    printed = CliRunner(env=env).invoke(provenance_cli, args)
    assert printed.exit_code == 0, printed.output
    assert "payloadType" in printed.output


def test_the_command_line_loads_no_pandas_to_start() -> None:
    """`provenance keygen --help` (any core command) imports no plug-in, pandas or matplotlib."""
    code = (
        "import sys; from provenance.cli import main\n"
        "try: main(['keygen', '--help'])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('pandas', 'matplotlib', 'trials') if m in sys.modules))"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert time.perf_counter() - started < 10


# --- serving ---------------------------------------------------------------------------------


def test_the_front_says_where_it_serves_once_the_port_answers(tmp_path: Path) -> None:
    close(make_app(tmp_path / "data"))
    env = {**os.environ, "PROVENANCE_DATA_DIR": str(tmp_path / "data"), "PROVENANCE_PORT": "0"}
    with subprocess.Popen(
        [sys.executable, "-m", "provenance.front"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            found = re.search(r"serving at (http://127\.0\.0\.1:(\d+)/)", line)
            assert found, line
            port = int(found.group(2))
            assert port != 0
            # The moment the line is printed, the port takes connections.
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_gunicorn_answers_its_own_refusals_as_problems_and_logs_requests(tmp_path: Path) -> None:
    close(make_app(tmp_path / "data"))
    env = {"PROVENANCE_DATA_DIR": str(tmp_path / "data"), "WEB_CONCURRENCY": "1"}
    with gunicorn(tmp_path, env, cwd=tmp_path) as (_, port, stderr):
        too_long = http(port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = too_long.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 414")
        assert b"Content-Type: application/problem+json" in head
        assert json.loads(body)["type"] == PROBLEM_BASE + "http-414"
        malformed = http(port, b"GET / HTTP/9.9\r\nHost: x\r\n\r\n")
        assert malformed.startswith(b"HTTP/1.1 400")
        assert b"application/problem+json" in malformed
    lines = [json.loads(x) for x in stderr.read_text().splitlines() if x.startswith("{")]
    assert {"route": "/healthz", "status": 200} in [
        {"route": line["route"], "status": line["status"]} for line in lines
    ]


def http(port: int, request: bytes) -> bytes:
    """One raw request on a new connection, closed after the answer (b"" if refused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(request)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)
    except OSError:
        return b""


def test_the_problem_bytes_are_a_whole_http_answer() -> None:
    answer = problem_bytes(431, "Request Header Fields Too Large", "")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.splitlines()[0] == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body)["detail"] == "Request Header Fields Too Large"
