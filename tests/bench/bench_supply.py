"""Supply-chain benchmarks (`make bench`); every ratio compares figures from the same run.

1. Scan lookups (the resolver's verdict + timeline) at B batches and E custody entries: in
   process and over HTTP (gunicorn, 2 workers), latency percentiles, against a bare
   primary-key read of the batch row (in process) and GET /log/checkpoint (over HTTP).
2. EPCIS capture: events/s for documents of 1,000 events, one signature each, in process and
   over HTTP, against validating and hashing the same documents alone; in process, the CPU
   per event in all and under the log's append lock (and of that, the rules' share).
3. Rebuild beside appends: `rebuild` of an EPCIS log (in a process of its own, as
   `flask --app app rebuild` runs) while this process appends a statement every 20 ms; the
   rebuild's total time, how long it held the append lock, and how long those appends took.
4. EPC queries: MATCH_epc / MATCH_anyEPC through the query /epcis/events runs, at N EPCIS
   events (rows written directly), latency percentiles against a bare indexed SELECT of the
   EPC index.
5. Custody statements as EPCIS events: native custody statements (8 per lot) appended in
   process with their EPCIS events derived, against the same statements with the plain rules,
   alternating for 3 rounds: statements/s, events/s, wall and process CPU per statement.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import click  # noqa: E402
from bench_log import demo_keys, installed, percentile, say, start_server  # noqa: E402
from bench_log import demo_service as parties_service  # noqa: E402

from provenance import demo  # noqa: E402
from provenance.access.principal import Principal  # noqa: E402
from provenance.epcis.document import parse_epcis_document  # noqa: E402
from provenance.epcis.epc_index import MATCH_FIELDS, match_keys  # noqa: E402
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE, LOG_HEADER  # noqa: E402
from provenance.gs1 import keys as gs1  # noqa: E402
from provenance.log.rebuild import RebuildReport, rebuild  # noqa: E402
from provenance.log.service import Service  # noqa: E402
from provenance.log.settings import DEFAULT_ORIGIN  # noqa: E402
from provenance.log.signing import key_id, public_key_der, sign_envelope  # noqa: E402
from provenance.log.statements import make_statement, now_timestamp  # noqa: E402
from provenance.log.store.engine import (  # noqa: E402
    make_engine,
    read_connection,
    write_transaction,
)
from provenance.log.store.projection import DbView  # noqa: E402
from provenance.supply import demo as demo_supply  # noqa: E402
from provenance.supply import (  # noqa: E402
    epcis_view,
    event_queries,
)
from provenance.supply import kinds as supply_kinds  # noqa: E402
from provenance.supply import queries as supply_queries  # noqa: E402
from provenance.supply.tables import KEYS  # noqa: E402

RESULTS: dict[str, Any] = {}
CHUNK = 50_000
GTINS = 1_000
EVENTS_PER_BATCH = 10
SERIALISED_EVERY = 10  # one batch in ten carries 10 serialised packs
CLIENTS = 4


def supply_service(data_dir: Path) -> Service:
    return parties_service(data_dir, stories=("supply",))


def gtin_of(n: int) -> str:
    return gs1.with_check_digit(f"0950{n:09d}")


def _rows(table: str, rows: list[tuple[Any, ...]], conn: Any) -> None:
    marks = ", ".join("?" * len(rows[0]))
    conn.exec_driver_sql(f"INSERT INTO {table} VALUES ({marks})", rows)


def fill_projection(service: Service, batches: int) -> None:
    """Projection rows as the rules write them: products, batches, holdings, shipments, packs
    and EVENTS_PER_BATCH custody events per batch. Lookups read only these tables."""
    maker, wholesaler = demo_supply.GLNS[demo_supply.ACME], demo_supply.GLNS[demo_supply.MEDSUPPLY]
    pharmacy = demo_supply.GLNS[demo_supply.CITY]
    key = "ab" * 32
    with write_transaction(service.engine) as conn:
        _rows(
            "product",
            [(gtin_of(g), maker, f"Product {g}", None, "tablet", "10 mg", 1) for g in range(GTINS)],
            conn,
        )
    with click.progressbar(length=batches, label="filling projection", file=sys.stderr) as bar:
        for start in range(0, batches, CHUNK):
            batch_rows, holdings, shipments, packs, events = [], [], [], [], []
            for b in range(start, min(batches, start + CHUNK)):
                gtin, lot = gtin_of(b % GTINS), f"L{b:08d}"
                serialised = b % SERIALISED_EVERY == 0
                idx = 100 + b * EVENTS_PER_BATCH
                batch_rows.append(
                    (
                        gtin,
                        lot,
                        maker,
                        "301231",
                        100,
                        int(serialised),
                        10,
                        0,
                        "active",
                        None,
                        None,
                        idx,
                        "2026-01-01T00:00:00.000Z",
                    )
                )
                holdings += [
                    (gtin, lot, wholesaler, 80, idx + 2),
                    (gtin, lot, pharmacy, 10, idx + 4),
                ]
                shipments.append(
                    (
                        maker,
                        f"BENCH{b}",
                        gtin,
                        lot,
                        wholesaler,
                        90,
                        90,
                        "[]",
                        "received",
                        None,
                        None,
                        idx + 1,
                        "2026-01-02T00:00:00.000Z",
                        idx + 2,
                        "2026-01-03T00:00:00.000Z",
                    )
                )
                if serialised:
                    packs += [
                        (
                            gtin,
                            f"S{b}-{p}",
                            lot,
                            pharmacy,
                            "active",
                            maker,
                            idx,
                            "2026-01-01T00:00:00.000Z",
                            None,
                        )
                        for p in range(10)
                    ]
                for e in range(EVENTS_PER_BATCH):
                    events.append(
                        (
                            idx + e,
                            0,
                            gtin,
                            lot,
                            ("commission", "ship", "receive", "scan")[e % 4],
                            maker,
                            wholesaler,
                            10,
                            "[]",
                            "",
                            "2026-01-01T00:00:00.000Z",
                            key,
                        )
                    )
            with write_transaction(service.engine) as conn:
                _rows("batch", batch_rows, conn)
                _rows("holding", holdings, conn)
                _rows("shipment", shipments, conn)
                if packs:
                    _rows("pack", packs, conn)
                _rows("custody_event", events, conn)
            bar.update(len(batch_rows))


def bench_scan(workdir: Path, batches: int, lookups: int, workers: int) -> None:
    entries = batches * EVENTS_PER_BATCH
    say(f"\n== Scan lookups at {batches:,} batches / {entries:,} custody entries ==")
    service = supply_service(workdir / "scan")
    started = time.perf_counter()
    fill_projection(service, batches)
    say(f"filled in {time.perf_counter() - started:.0f} s")
    rng = random.Random(7)
    keys: list[tuple[str, str, str | None]] = []
    for _ in range(lookups):
        b = rng.randrange(batches)
        gtin, lot = gtin_of(b % GTINS), f"L{b:08d}"
        if b % SERIALISED_EVERY == 0:
            keys.append((gtin, lot, f"S{b}-{rng.randrange(12)}"))  # some serials are unknown
        else:
            keys.append((gtin, lot, None))

    def timed(
        call: Callable[[Any, tuple[str, str, str | None]], object],
    ) -> tuple[float, list[float]]:
        latencies = []
        with read_connection(service.engine) as conn:
            begin = time.perf_counter()
            for key in keys:
                t0 = time.perf_counter()
                call(conn, key)
                latencies.append(time.perf_counter() - t0)
            total = time.perf_counter() - begin
        return len(keys) / total, latencies

    base_rate, base_lat = timed(lambda conn, k: DbView(conn, KEYS).row("batch", (k[0], k[1])))
    rate, lat = timed(lambda conn, k: supply_queries.lookup(conn, *k).to_json("http://x"))
    say(
        f"in process, 1 core: bare batch-row read {base_rate:,.0f}/s; full lookup {rate:,.0f}/s "
        f"= {rate / base_rate:.2f}x; p50 {percentile(lat, 0.5) * 1e3:.2f} ms, "
        f"p99 {percentile(lat, 0.99) * 1e3:.2f} ms"
    )
    http_rate, http_lat, base_http, base_http_lat = _http_scans(
        service, workdir / "scan", keys, workers
    )
    say(
        f"HTTP, gunicorn {workers} workers, {CLIENTS} clients: "
        f"GET /log/checkpoint {base_http:,.0f}/s; "
        f"resolver JSON {http_rate:,.0f}/s = {http_rate / base_http:.2f}x; p50 "
        f"{percentile(http_lat, 0.5) * 1e3:.1f} ms, p99 {percentile(http_lat, 0.99) * 1e3:.1f} ms "
        f"(checkpoint p99 {percentile(base_http_lat, 0.99) * 1e3:.1f} ms)"
    )
    db = workdir / "scan" / "provenance.db"
    RESULTS["scan"] = {
        "batches": batches,
        "custody_entries": entries,
        "lookups": lookups,
        "bare_row_per_s": base_rate,
        "lookup_per_s": rate,
        "lookup_p50_ms": percentile(lat, 0.5) * 1e3,
        "lookup_p99_ms": percentile(lat, 0.99) * 1e3,
        "http_checkpoint_per_s": base_http,
        "http_scan_per_s": http_rate,
        "http_scan_p50_ms": percentile(http_lat, 0.5) * 1e3,
        "http_scan_p99_ms": percentile(http_lat, 0.99) * 1e3,
        "db_bytes": db.stat().st_size if db.exists() else None,
    }


def _get_all(port: int, paths: list[str]) -> tuple[float, list[float]]:
    local = threading.local()
    latencies: list[float] = []

    def get(path: str) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port)
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Accept": "application/json"})
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - t0)
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(get, paths))
    return len(paths) / (time.perf_counter() - started), latencies


def _http_scans(
    service: Service, data_dir: Path, keys: list[tuple[str, str, str | None]], workers: int
) -> tuple[float, list[float], float, list[float]]:
    paths = [f"/01/{g}/10/{lot}" + (f"/21/{s}" if s else "") for g, lot, s in keys]
    server, port = start_server(data_dir, workers)
    try:
        _get_all(port, paths[:200])  # warm both workers
        base, base_lat = _get_all(port, ["/log/checkpoint"] * len(paths))
        rate, lat = _get_all(port, paths)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return rate, lat, base, base_lat


# --- 2. EPCIS capture -------------------------------------------------------------------------


def epcis_document(doc_no: int, events: int) -> dict[str, Any]:
    """Half commissioning events (a new lot each, two serials), half shipping those lots."""
    gtin = demo_supply.AMOXICILLIN
    company, item = "9506000", "013435"  # GTIN 09506000134352 as an SGTIN
    to = "urn:epc:id:sgln:5412345.00002.0"
    out: list[dict[str, Any]] = []
    half = events // 2
    for n in range(half):
        lot = f"B{doc_no:04d}{n:05d}"
        epcs = [f"https://id.gs1.org/01/{gtin}/21/{lot}S{p}" for p in range(2)]
        out.append(
            {
                "type": "ObjectEvent",
                "eventTime": "2026-11-01T10:00:00.000Z",
                "eventTimeZoneOffset": "+00:00",
                "epcList": epcs,
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "readPoint": {"id": "urn:epc:id:sgln:5412345.00001.0"},
                "ilmd": {"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": "2029-06-30"},
            }
        )
        out.append(
            {
                "type": "ObjectEvent",
                "eventTime": "2026-11-02T10:00:00.000Z",
                "eventTimeZoneOffset": "+00:00",
                "epcList": epcs,
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": {"id": "urn:epc:id:sgln:5412345.00001.0"},
                "bizTransactionList": [{"type": "desadv", "bizTransaction": f"urn:desadv:{lot}"}],
                "destinationList": [{"type": "owning_party", "destination": to}],
            }
        )
    del company, item
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": now_timestamp(),  # a capture must be fresh
        "epcisHeader": {LOG_HEADER: DEFAULT_ORIGIN},  # and name the log it is for
        "epcisBody": {"eventList": out},
    }


class _LockClock:
    """Process CPU and wall time spent holding a log's append lock (the in-process capture
    runs on one thread, so the CPU is that thread's), and the CPU of the rules run under it."""

    def __init__(self, log: Any) -> None:
        self.cpu = self.wall = self.rules = 0.0
        self._log, self._lock, self._evaluate = log, log._lock, log.registry.evaluate
        clock = self

        class Timed:
            def __enter__(self) -> None:
                clock._lock.acquire()
                self.started = time.process_time(), time.perf_counter()

            def __exit__(self, *exc: object) -> None:
                clock.cpu += time.process_time() - self.started[0]
                clock.wall += time.perf_counter() - self.started[1]
                clock._lock.release()

        def evaluate(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return clock._evaluate(*args, **kwargs)
            finally:
                clock.rules += time.process_time() - started

        log._lock = Timed()
        log.registry.evaluate = evaluate

    def stop(self) -> None:
        self._log._lock = self._lock
        del self._log.registry.evaluate


def bench_epcis(workdir: Path, documents: int, events: int, workers: int) -> None:
    say(f"\n== EPCIS capture: {documents} documents x {events:,} events, one signature each ==")
    data_dir = workdir / "epcis"
    service = supply_service(data_dir)
    key = demo.demo_key(data_dir, demo_supply.ACME)
    payloads = [json.dumps(epcis_document(d, events)).encode() for d in range(2 * documents)]
    envelopes = [sign_envelope(key, p, EPCIS_PAYLOAD_TYPE).to_json() for p in payloads]
    started = time.perf_counter()
    for payload in payloads[:documents]:
        parse_epcis_document(json.loads(payload))
    base = documents * events / (time.perf_counter() - started)
    locked = _LockClock(service.log)
    started, cpu = time.perf_counter(), time.process_time()
    for envelope in envelopes[:documents]:
        service.log.submit(envelope)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    locked.stop()
    captured = documents * events
    rate = captured / wall
    say(
        f"validate + hash alone: {base:,.0f} events/s; in-process capture {rate:,.0f} events/s "
        f"= {rate / base:.2f}x; process CPU {cpu / captured * 1e6:.1f} µs/event"
    )
    say(
        f"under the append lock: {locked.cpu / captured * 1e6:.1f} µs CPU/event "
        f"({locked.cpu / cpu:.0%} of the CPU; wall {locked.wall / captured * 1e6:.1f} µs/event, "
        f"{locked.wall / wall:.0%} of the time), of which the rules (planning the rows) "
        f"{locked.rules / captured * 1e6:.1f} µs CPU/event; the rest writes the rows, the entry "
        "and the checkpoint and commits"
    )
    service.close()
    server, port = start_server(data_dir, workers)
    try:
        bodies = [json.dumps(e).encode() for e in envelopes[documents:]]
        local = threading.local()

        def post(body: bytes) -> None:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            conn.request("POST", "/epcis/capture", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            text = response.read()
            if response.status != 202:
                raise RuntimeError(f"capture: HTTP {response.status} {text[:300]!r}")

        # Warm every worker (imports, the compiled EPCIS schema) outside the timing.
        warm = []
        for n in range(4 * workers):
            doc = epcis_document(10_000 + n, 2)
            doc["epcisBody"]["eventList"] = doc["epcisBody"]["eventList"][:1]
            warm.append(
                json.dumps(
                    sign_envelope(key, json.dumps(doc).encode(), EPCIS_PAYLOAD_TYPE).to_json()
                ).encode()
            )
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(post, warm))
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(post, bodies))
        http_rate = documents * events / (time.perf_counter() - started)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    say(
        f"HTTP capture, gunicorn {workers} workers: {http_rate:,.0f} events/s = "
        f"{http_rate / base:.2f}x validate + hash alone"
    )
    RESULTS["epcis"] = {
        "documents": documents,
        "events_per_document": events,
        "validate_hash_per_s": base,
        "capture_per_s": rate,
        "capture_cpu_us_per_event": cpu / captured * 1e6,
        "locked_cpu_us_per_event": locked.cpu / captured * 1e6,
        "locked_wall_us_per_event": locked.wall / captured * 1e6,
        "locked_rules_cpu_us_per_event": locked.rules / captured * 1e6,
        "http_capture_per_s": http_rate,
        "envelope_bytes": len(json.dumps(envelopes[0])),
        "payload_b64_bytes": len(base64.b64encode(payloads[0])),
    }


# --- 3. Rebuild beside appends -----------------------------------------------------------------


def _rebuild_apart(url: str, results: Any) -> None:
    """In a forked process: its own engine, connections and append lock, as the CLI has."""
    started = time.perf_counter()
    report = rebuild(make_engine(url), installed().registry)
    results.put((time.perf_counter() - started, report))


def bench_rebuild(workdir: Path, documents: int, events: int) -> None:
    say(f"\n== Rebuild beside appends: {documents} EPCIS documents x {events:,} events ==")
    data_dir = workdir / "rebuild"
    service = supply_service(data_dir)
    key = demo.demo_key(data_dir, demo_supply.ACME)
    started = time.perf_counter()
    for d in range(documents):
        payload = json.dumps(epcis_document(d, events)).encode()
        service.log.submit(sign_envelope(key, payload, EPCIS_PAYLOAD_TYPE).to_json())
    say(f"log of {documents * events:,} events built in {time.perf_counter() - started:.1f} s")
    keys = demo_keys(data_dir)
    sequence = iter(range(1_000_000))

    def append() -> float:
        """Sign and log one attestation; how long logging it took."""
        n = next(sequence)
        signer = keys[n % len(keys)]
        body = {"subject": f"bench/rebuild/{n}", "claim": {"sequence": n}}
        statement = make_statement(
            "attestation", body, key_id(public_key_der(signer)), log=DEFAULT_ORIGIN
        )
        envelope = sign_envelope(signer, statement.payload()).to_json()
        started = time.perf_counter()
        service.log.submit(envelope)
        return time.perf_counter() - started

    idle = [append() for _ in range(50)]
    forked = multiprocessing.get_context("fork")
    results = forked.Queue()
    child = forked.Process(target=_rebuild_apart, args=(service.settings.database_url, results))
    child.start()
    waits: list[float] = []
    while child.is_alive() and results.empty():
        waits.append(append())
        time.sleep(0.02)
    total, report = results.get(timeout=600)
    child.join(60)
    service.close()
    assert isinstance(report, RebuildReport) and report.identical, report
    say(
        f"rebuild: {total:.1f} s in all, the append lock held {report.locked_seconds:.2f} s "
        f"(the swap, and {report.caught_up} entries replayed under it); before shadow tables "
        f"it was held for all {total:.1f} s"
    )
    say(
        f"{len(waits)} appends during the rebuild: median {percentile(waits, 0.5) * 1000:.1f} ms, "
        f"max {max(waits) * 1000:.0f} ms (idle: median {percentile(idle, 0.5) * 1000:.1f} ms, "
        f"max {max(idle) * 1000:.0f} ms)"
    )
    RESULTS["rebuild"] = {
        "documents": documents,
        "events": documents * events,
        "total_s": total,
        "lock_held_s": report.locked_seconds,
        "lock_held_before_s": total,
        "caught_up": report.caught_up,
        "appends_during": len(waits),
        "append_wait_median_s": percentile(waits, 0.5),
        "append_wait_max_s": max(waits),
        "append_idle_median_s": percentile(idle, 0.5),
    }


# --- 4. EPC queries -----------------------------------------------------------------------------

EVENTS_PER_PACK = 4  # commissioning, packing (by its case), shipping, receiving
PACKS_PER_CASE = 10


def fill_epcis_events(service: Service, events: int) -> int:
    """EPCIS event rows and their EPC index rows as capture writes them, `events` in all: each
    pack is commissioned, aggregated into a case (the case its parentID), shipped and received.
    Returns the number of packs."""
    packs = events // EVENTS_PER_PACK
    steps = ("commissioning", "packing", "shipping", "receiving")
    with click.progressbar(length=packs, label="filling EPCIS events", file=sys.stderr) as bar:
        for start in range(0, packs, CHUNK):
            event_rows, index_rows = [], []
            for p in range(start, min(packs, start + CHUNK)):
                gtin, lot = gtin_of(p % GTINS), f"L{p // 1000:08d}"
                pack = f"https://id.gs1.org/01/{gtin}/21/S{p}"
                case = f"https://id.gs1.org/00/0950600{p // PACKS_PER_CASE:010d}"
                for e, step in enumerate(steps):
                    hash_id = f"ni:///sha-256;{p:056x}{e:08x}?ver=CBV2.0"
                    kind = "AggregationEvent" if step == "packing" else "ObjectEvent"
                    at = f"2026-{1 + e:02d}-01T00:00:00.{p % 1000:03d}Z"
                    event_rows.append((hash_id, 100 + p, e, kind, step, at, gtin, lot, pack, "{}"))
                    field = "childEPCs" if step == "packing" else "epcList"
                    index_rows.append((hash_id, field, pack))
                    if step == "packing":
                        index_rows.append((hash_id, "parentID", case))
            with write_transaction(service.engine) as conn:
                _rows("epcis_event", event_rows, conn)
                _rows("epcis_epc", index_rows, conn)
            bar.update(len(event_rows) // len(steps))
    return packs


def bench_epc_queries(workdir: Path, events: int, queries: int) -> None:
    say(f"\n== EPC queries at {events:,} EPCIS events ==")
    service = supply_service(workdir / "epc")
    started = time.perf_counter()
    packs = fill_epcis_events(service, events)
    say(f"filled in {time.perf_counter() - started:.0f} s")
    rng = random.Random(11)
    asks: list[tuple[str, str]] = []
    for _ in range(queries):
        p = rng.randrange(packs + packs // 10)  # one in eleven names a pack never captured
        pack = f"https://id.gs1.org/01/{gtin_of(p % GTINS)}/21/S{p}"
        asks.append((rng.choice(("MATCH_epc", "MATCH_anyEPC")), pack))
    party = Principal(gln=demo_supply.GLNS[demo_supply.ACME], roles=frozenset({"manufacturer"}))

    def timed(call: Callable[[Any, tuple[str, str]], object]) -> list[float]:
        latencies = []
        with read_connection(service.engine) as conn:
            for ask in asks:
                t0 = time.perf_counter()
                call(conn, ask)
                latencies.append(time.perf_counter() - t0)
        return latencies

    def epc_query(reader: Principal | None) -> Callable[[Any, tuple[str, str]], object]:
        def run(conn: Any, ask: tuple[str, str]) -> object:
            name, value = ask
            match = [(MATCH_FIELDS[name], match_keys(name, value))]
            return event_queries.epcis_events(conn, epcs=match, reader=reader)

        return run

    bare = timed(
        lambda conn, ask: conn.exec_driver_sql(
            "SELECT hash_id FROM epcis_epc WHERE epc = ?", (ask[1],)
        ).fetchall()
    )
    regulator = timed(epc_query(None))
    own = timed(epc_query(party))
    ms = {
        name: (percentile(lat, 0.5) * 1e3, percentile(lat, 0.99) * 1e3)
        for name, lat in (("bare", bare), ("regulator", regulator), ("party", own))
    }
    say(
        f"bare indexed SELECT p50 {ms['bare'][0]:.3f} ms, p99 {ms['bare'][1]:.3f} ms; "
        f"epcis_events as a regulator p50 {ms['regulator'][0]:.3f} ms, "
        f"p99 {ms['regulator'][1]:.3f} ms; as a party (access checked per event) "
        f"p50 {ms['party'][0]:.3f} ms, p99 {ms['party'][1]:.3f} ms"
    )
    RESULTS["epc_query"] = {
        "events": packs * EVENTS_PER_PACK,
        "queries": queries,
        "bare_select_p50_ms": ms["bare"][0],
        "bare_select_p99_ms": ms["bare"][1],
        "regulator_p50_ms": ms["regulator"][0],
        "regulator_p99_ms": ms["regulator"][1],
        "party_p50_ms": ms["party"][0],
        "party_p99_ms": ms["party"][1],
    }


# --- 5. Custody statements as EPCIS events -----------------------------------------------------


def custody_flow(lot: str, packs: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(party slug, kind, body): a serialised lot commissioned, shipped, received, shipped on,
    received, dispensed, destroyed and written off, as native statements."""
    acme, medsupply, city = demo_supply.ACME, demo_supply.MEDSUPPLY, demo_supply.CITY
    glns = demo_supply.GLNS
    batch = {"gtin": demo_supply.AMOXICILLIN, "lot": lot}
    serials = [f"{lot}S{n}" for n in range(packs)]
    on = serials[: packs // 2]
    return [
        (acme, "batch.commission", {**batch, "expiry": "301231", "serials": serials}),
        (
            acme,
            "custody.ship",
            {
                **batch,
                "shipment": f"{lot}D",
                "to": glns[medsupply],
                "serials": serials,
                "po": f"PO-{lot}",
            },
        ),
        (
            medsupply,
            "custody.receive",
            {"from": glns[acme], "shipment": f"{lot}D", "serials": serials},
        ),
        (
            medsupply,
            "custody.ship",
            {**batch, "shipment": f"{lot}W", "to": glns[city], "serials": on},
        ),
        (city, "custody.receive", {"from": glns[medsupply], "shipment": f"{lot}W", "serials": on}),
        (city, "custody.dispense", {**batch, "serials": on[:1]}),
        (medsupply, "custody.destroy", {**batch, "serials": serials[-1:], "reason": "damaged"}),
        (medsupply, "custody.write-off", {**batch, "serials": serials[-2:-1], "reason": "lost"}),
    ]


def _spread(values: list[float]) -> str:
    """Median and range of per-round figures in milliseconds."""
    return f"{statistics.median(values):.2f} ms ({min(values):.2f}-{max(values):.2f})"


def bench_custody_epcis(workdir: Path, flows: int, packs: int, rounds: int = 3) -> None:
    """Native custody statements with their EPCIS events derived, against the same statements
    with the plain rules (no derived events), alternating, on one log; new lots each time."""
    say(f"\n== Custody statements as EPCIS events: {flows} lots x 8 statements, {rounds} rounds ==")
    data_dir = workdir / "custody-epcis"
    service = supply_service(data_dir)
    keys = {slug: demo.demo_key(data_dir, slug) for slug in demo_supply.GLNS}
    ids = {slug: key_id(public_key_der(key)) for slug, key in keys.items()}
    derived = {rule.kind: service.registry.kinds[rule.kind] for rule in supply_kinds.CUSTODY_KINDS}
    plain = {rule.kind: rule for rule in supply_kinds.CUSTODY_KINDS}

    def envelopes(tag: str) -> list[dict[str, Any]]:
        out = []
        for n in range(flows):
            for slug, kind, body in custody_flow(f"{tag}L{n:05d}", packs):
                statement = make_statement(kind, body, ids[slug], log=DEFAULT_ORIGIN)
                out.append(sign_envelope(keys[slug], statement.payload()).to_json())
        return out

    def epcis_events() -> int:
        with read_connection(service.engine) as conn:
            ((count,),) = conn.exec_driver_sql("SELECT count(*) FROM epcis_event").all()
        return int(count)

    deriving = [0.0]  # process CPU spent in the derivation itself
    derive = epcis_view.derived_changes

    def timed_derive(changes: Any, view: Any) -> Any:
        started = time.process_time()
        try:
            return derive(changes, view)
        finally:
            deriving[0] += time.process_time() - started

    def run(rules: dict[str, Any], tag: str) -> tuple[float, float, int, int]:
        """(wall s, process CPU s, statements, EPCIS events made) of one round."""
        signed = envelopes(tag)  # signing is the parties' work, outside the timing
        service.registry.kinds.update(rules)
        before = epcis_events()
        wall, cpu = time.perf_counter(), time.process_time()
        for envelope in signed:
            service.log.submit(envelope)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return wall, cpu, len(signed), epcis_events() - before

    run(derived, "warm")  # imports, caches and the first pages of every table
    rows: dict[str, list[tuple[float, float, int, int]]] = {"plain": [], "derived": []}
    epcis_view.derived_changes = timed_derive  # as the derived rules call it
    try:
        for r in range(rounds):
            rows["plain"].append(run(plain, f"P{r}"))
            rows["derived"].append(run(derived, f"D{r}"))
    finally:
        epcis_view.derived_changes = derive
    service.registry.kinds.update(derived)
    service.close()
    figures: dict[str, Any] = {"lots": flows, "packs_per_lot": packs, "rounds": rounds}
    for mode, measured in rows.items():
        wall_ms = [1000 * w / n for w, _c, n, _e in measured]
        cpu_ms = [1000 * c / n for _w, c, n, _e in measured]
        events = sum(e for *_rest, e in measured)
        statements = sum(n for _w, _c, n, _e in measured)
        wall = sum(w for w, *_rest in measured)
        say(
            f"{mode:>7}: {statements / wall:,.0f} statements/s, "
            f"{events / wall:,.0f} EPCIS events/s; per statement wall {_spread(wall_ms)}, "
            f"process CPU {_spread(cpu_ms)}"
        )
        figures[mode] = {
            "statements_per_s": statements / wall,
            "events_per_s": events / wall,
            "events": events,
            "wall_ms_per_statement": wall_ms,
            "cpu_ms_per_statement": cpu_ms,
        }
    ratios = [
        (d[1] / d[2]) / (p[1] / p[2]) for p, d in zip(rows["plain"], rows["derived"], strict=True)
    ]
    listed = ", ".join(f"{x:.2f}" for x in ratios)
    say(f"derived/plain process CPU per statement, per round: {listed}")
    per_event = 1000 * deriving[0] / figures["derived"]["events"]
    say(f"the derivation itself: {per_event:.2f} ms process CPU per event")
    figures["cpu_ratio_per_round"] = ratios
    figures["derive_cpu_ms_per_event"] = per_event
    RESULTS["custody_epcis"] = figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--rebuild-documents",
        type=int,
        help="EPCIS documents in the rebuilt log (default: twice --documents, as many as the "
        "capture benchmark logs)",
    )
    parser.add_argument("--epcis-events", type=int, default=1_000_000)
    parser.add_argument("--epc-queries", type=int, default=2_000)
    parser.add_argument("--custody-lots", type=int, default=100)
    parser.add_argument("--custody-packs", type=int, default=10)
    parser.add_argument("--only", choices=["scan", "epcis", "rebuild", "epc", "custody-epcis"])
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    say(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="provenance-bench-") as tmp:
        if args.only in (None, "epcis"):
            bench_epcis(Path(tmp), args.documents, args.events, args.workers)
        if args.only in (None, "rebuild"):
            rebuild_documents = args.rebuild_documents or 2 * args.documents
            bench_rebuild(Path(tmp), rebuild_documents, args.events)
        if args.only in (None, "scan"):
            bench_scan(Path(tmp), args.batches, args.lookups, args.workers)
        if args.only in (None, "epc"):
            bench_epc_queries(Path(tmp), args.epcis_events, args.epc_queries)
        if args.only in (None, "custody-epcis"):
            bench_custody_epcis(Path(tmp), args.custody_lots, args.custody_packs)
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=2) + "\n")


if __name__ == "__main__":
    main()
