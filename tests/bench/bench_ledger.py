"""Ledger page latency at N signed entries (`bench_reports.py --only ledger`).

(a) a first run: GET /reports/ledger/ verifies every entry (no stored verification state);
(b) a run after 1,000 more appends: it resumes from the state the last run stored. (a) is
measured twice, (b) 5 times (the report cache emptied, and for (a) the stored verification
state and entry counts removed, before each),
as the regulator, in-process through the app; CPU time includes the signature-checking
processes. The log is built with the fast direct append (signatures made here, not re-checked
on append: the page's verification checks every one).
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import click
from bench_log import BATCH, say
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from provenance import demo
from provenance.access.http_signatures import sign_request
from provenance.log.service import Service
from provenance.log.signing import key_id, public_key_der, sign_envelope
from provenance.log.statements import make_statement
from provenance.log.store import logdb, verification
from provenance.log.store.engine import read_connection, write_transaction
from provenance.web import reports_http
from provenance.web.context import installed, service

ROUNDS = 5
#: A first run verifies every entry: minutes at 1M, so fewer of them.
FULL_ROUNDS = 2
APPENDS = 1_000
PAGE = "/reports/ledger/"


class Appender:
    """Attestations signed by the demo parties in turn, appended BATCH to a transaction."""

    def __init__(self, svc: Service) -> None:
        self.service = svc
        self.keys = [
            demo.demo_key(svc.settings.data_dir, p.slug) for p in demo.parties(installed().plugins)
        ]
        self.ids = [key_id(public_key_der(key)) for key in self.keys]
        self.sent = 0

    def append(self, count: int, bar: Any = None) -> None:
        origin = self.service.settings.origin
        for start in range(0, count, BATCH):
            items = []
            for i in range(self.sent + start, self.sent + min(count, start + BATCH)):
                body = {"subject": f"bench/ledger/{i}", "claim": {"sequence": i}}
                who = i % len(self.keys)
                statement = make_statement("attestation", body, self.ids[who], log=origin)
                envelope = sign_envelope(self.keys[who], statement.payload()).to_json()
                items.append(self.service.log.parse(envelope))
            self.service.log.submit_many(items, verify=False)
            if bar is not None:
                bar.update(len(items))
        self.sent += count


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the reaped signature workers
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def page_once(client: FlaskClient, regulator: Any, expect: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one ledger page, built afresh."""
    reports_http._cache.items.clear()
    headers = sign_request(regulator, method="GET", path=PAGE, query="", body=b"")
    wall, cpu = time.perf_counter(), _cpu()
    response = client.get(PAGE, headers=headers)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text[:500]
    assert "intact" in text and expect in text, f"expected {expect!r} on the page"
    return wall, cpu


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _line(label: str, runs: list[tuple[float, float]]) -> str:
    wall, cpu = spread([w for w, _ in runs]), spread([c for _, c in runs])
    return (
        f"{label}: wall median {wall['median']:.2f} s ({wall['min']:.2f}–{wall['max']:.2f}), "
        f"CPU median {cpu['median']:.2f} s ({cpu['min']:.2f}–{cpu['max']:.2f})"
    )


def bench_ledger(workdir: Path, entries: int) -> dict[str, Any]:
    say(
        f"\n== Ledger page latency at {entries:,} signed entries: {FULL_ROUNDS} first runs, "
        f"{ROUNDS} resumed =="
    )
    app: Flask = create_app({"DATA_DIR": str(workdir / "ledger")})
    with app.app_context():
        svc = service()
        svc.initialise(demo=True)
        demo.seed(svc, installed().plugins, 0, stories=())
        regulator = demo.demo_key(svc.settings.data_dir, "regulator")
        appender = Appender(svc)
        started = time.perf_counter()
        with click.progressbar(length=entries, label="building signed log", file=sys.stderr) as bar:
            appender.append(entries, bar)
        say(f"built in {time.perf_counter() - started:.0f} s")
        client = app.test_client()
        full = []
        for _ in range(FULL_ROUNDS):
            with write_transaction(svc.engine) as conn:
                conn.exec_driver_sql(f"DELETE FROM {verification.TABLE}")
                conn.exec_driver_sql(f"DELETE FROM {verification.COUNTS_TABLE}")
            full.append(page_once(client, regulator, "every entry (no earlier verification"))
            say(_line(f"  first run ({len(full)})", full[-1:]))
        resumed = []
        for _ in range(ROUNDS):
            appender.append(APPENDS)
            resumed.append(page_once(client, regulator, "those before were verified earlier"))
            say(_line(f"  after {APPENDS:,} appends ({len(resumed)})", resumed[-1:]))
        with read_connection(svc.engine) as conn:
            size = logdb.tree_size(conn)
            counted = time.perf_counter()
            logdb.entry_counts(conn)
            counts_s = time.perf_counter() - counted
        svc.close()
    say(_line("(a) first run, every entry verified", full))
    say(_line(f"(b) after {APPENDS:,} more appends, resumed", resumed))
    say(f"entry counts per kind, signer and day alone (a scan of log_entry): {counts_s:.2f} s")
    return {
        "entries": entries,
        "size_after": size,
        "first_run": {
            "wall_s": spread([w for w, _ in full]),
            "cpu_s": spread([c for _, c in full]),
        },
        "after_appends": {
            "appends": APPENDS,
            "wall_s": spread([w for w, _ in resumed]),
            "cpu_s": spread([c for _, c in resumed]),
        },
        "entry_counts_s": counts_s,
    }
