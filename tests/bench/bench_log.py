"""Benchmarks of the log core (`make bench`); every ratio compares figures from the same run.

1. Merkle store: append/s and inclusion proofs/s (with latency percentiles) at N entries,
   against pymerkle's InmemoryTree and SqliteTree on the same leaves.
2. Signed ingest through the HTTP API (gunicorn, 2 workers), one statement per request and
   100 per batch request, against the bare python-ecdsa verify rate of the same signatures.
3. `verify` of an N-entry signed log against the verify-only bound (bare rate x workers).
5. python-ecdsa with and without the precomputed point tables the server keeps per key.
4. What the request rate limiter costs: CPU per request with it on (limits never reached)
   against the same app with it off, in one process, repeated.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import click  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from pymerkle import InmemoryTree, SqliteTree  # noqa: E402

from provenance import demo  # noqa: E402
from provenance.app import APP_METADATA  # noqa: E402
from provenance.log import merkle, reader  # noqa: E402
from provenance.log.append import Submission  # noqa: E402
from provenance.log.service import Service  # noqa: E402
from provenance.log.settings import DEFAULT_ORIGIN, Settings  # noqa: E402
from provenance.log.signing import is_valid_p256, key_id, public_key_der, sign_envelope  # noqa: E402
from provenance.log.statements import make_statement  # noqa: E402
from provenance.log.store import logdb  # noqa: E402
from provenance.log.store.engine import make_engine, read_connection, write_transaction  # noqa: E402
from provenance.log.store.schema import migrate_schema  # noqa: E402
from provenance.plugins import Installed, load_plugins  # noqa: E402

BATCH = 10_000
APPEND_BATCH = 1_000
SINGLES = 500
CLIENTS = 4
CONCURRENT = 16  # clients of the single-statement measurement
RESULTS: dict[str, Any] = {}
#: Statements name the log they are meant for; every bench log has the default origin.
ORIGIN = DEFAULT_ORIGIN
LIMITS_OFF = {"PROVENANCE_RATE_LIMIT_PARTY": "0", "PROVENANCE_RATE_LIMIT_ADDRESS": "0"}


def say(text: str) -> None:
    print(text, flush=True)


def leaf_data(n: int) -> bytes:
    return hashlib.sha256(n.to_bytes(8, "big")).digest() * 3  # 96-byte entries


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- 1. Merkle store --------------------------------------------------------------------------


def store_batch(engine: Any, frontier: merkle.Frontier, start: int, end: int) -> bytes:
    """Append entries [start, end) in one transaction, as the log does; return the new root."""
    entries, nodes = [], []
    for i in range(start, end):
        data = leaf_data(i)
        leaf = merkle.leaf_hash(data)
        nodes += [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in frontier.append(leaf)]
        entries.append(
            {
                "idx": i,
                "leaf_hash": leaf,
                "payload_digest": hashlib.sha256(data).digest(),
                "kind": "bench",
                "signer": "0" * 64,
                "logged_at": "",
                "data": data,
            }
        )
    with write_transaction(engine) as conn:
        logdb.insert_rows(conn, "log_entry", entries)
        logdb.insert_rows(conn, "log_node", nodes)
    return frontier.root()


def bare_rows(frontier: merkle.Frontier, start: int, end: int) -> tuple[list[Any], list[Any]]:
    """The rows `store_batch` writes for entries [start, end), made outside any timing."""
    entries, nodes = [], []
    for i in range(start, end):
        data = leaf_data(i)
        leaf = merkle.leaf_hash(data)
        nodes += [(lv, ix, h) for lv, ix, h in frontier.append(leaf)]
        entries.append((i, leaf, hashlib.sha256(data).digest(), "bench", "0" * 64, "", data))
    return entries, nodes


def bench_bare_insert(n: int, workdir: Path, indexed: bool) -> tuple[float, float]:
    """Rows/s and CPU seconds per entry of plain `sqlite3` inserting the store's rows in the same
    batches and transactions (WAL, synchronous=FULL): the ceiling the store's append works under.
    `indexed` keeps the store's unique payload-digest index and primary keys; without them it is
    the bare table write."""
    import sqlite3

    path = workdir / f"bare-{'indexed' if indexed else 'plain'}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    key = " PRIMARY KEY" if indexed else ""
    conn.execute(
        f"CREATE TABLE log_entry (idx INTEGER{key}, leaf_hash BLOB, payload_digest BLOB, "
        "kind TEXT, signer TEXT, logged_at TEXT, data BLOB)"
    )
    node_key = ", PRIMARY KEY (level, idx)" if indexed else ""
    conn.execute(f"CREATE TABLE log_node (level INTEGER, idx INTEGER, hash BLOB{node_key})")
    if indexed:
        conn.execute("CREATE UNIQUE INDEX entry_digest ON log_entry (payload_digest)")
    frontier = merkle.Frontier()
    wall = cpu = 0.0
    for start in range(0, n, APPEND_BATCH):
        entries, nodes = bare_rows(frontier, start, min(n, start + APPEND_BATCH))
        t, c = time.perf_counter(), time.process_time()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO log_entry VALUES (?, ?, ?, ?, ?, ?, ?)", entries)
        conn.executemany("INSERT INTO log_node VALUES (?, ?, ?)", nodes)
        conn.execute("COMMIT")
        wall += time.perf_counter() - t
        cpu += time.process_time() - c
    conn.close()
    return n / wall, cpu / n


def bench_store(n: int, workdir: Path) -> None:
    """Each append batch ends with the root (a checkpoint needs it), for every contender."""
    say(f"\n== Merkle store, {n:,} entries, batches of {APPEND_BATCH:,} + root per batch ==")
    engine = make_engine(f"sqlite:///{workdir / 'store.db'}")
    migrate_schema(engine)
    frontier = merkle.Frontier()
    started, cpu_started = time.perf_counter(), time.process_time()
    with click.progressbar(length=n, label="store append", file=sys.stderr) as bar:
        for start in range(0, n, APPEND_BATCH):
            root = store_batch(engine, frontier, start, min(n, start + APPEND_BATCH))
            bar.update(min(n, start + APPEND_BATCH) - start)
    ours_append = n / (time.perf_counter() - started)
    ours_cpu = (time.process_time() - cpu_started) / n
    say("bare sqlite3 insert of the same rows …")
    bare_indexed, bare_indexed_cpu = bench_bare_insert(n, workdir, indexed=True)
    bare_plain, bare_plain_cpu = bench_bare_insert(n, workdir, indexed=False)
    # One entry per transaction, at full size: the cost of a lone HTTP submission's append.
    started = time.perf_counter()
    for i in range(n, n + SINGLES):
        store_batch(engine, frontier, i, i + 1)
    ours_single = SINGLES / (time.perf_counter() - started)

    rng = random.Random(1)
    indices = [rng.randrange(n) for _ in range(10_000)]
    latencies = []
    with read_connection(engine) as conn:
        for index in indices:
            t = time.perf_counter()
            proof = reader.inclusion_proof(conn, index, n)  # proofs at size n
            latencies.append(time.perf_counter() - t)
            if index % 97 == 0:
                merkle.verify_inclusion(index, n, merkle.leaf_hash(leaf_data(index)), proof, root)
    ours_proofs = len(indices) / sum(latencies)

    say("pymerkle InmemoryTree …")
    tree = InmemoryTree()
    started = time.perf_counter()
    for start in range(0, n, APPEND_BATCH):
        for i in range(start, min(n, start + APPEND_BATCH)):
            tree.append_entry(leaf_data(i))
        tree.get_root()
    mem_append = n / (time.perf_counter() - started)
    assert tree.get_root() == root, "pymerkle and the store disagree on the root"
    t = time.perf_counter()
    for index in indices[:2000]:
        tree.prove_inclusion(index + 1, n)  # pymerkle counts leaves from 1
    mem_proofs = 2000 / (time.perf_counter() - t)
    del tree

    say("pymerkle SqliteTree …")
    sqlite_tree = SqliteTree(str(workdir / "pymerkle.db"))
    started = time.perf_counter()
    with click.progressbar(length=n, label="pymerkle SqliteTree append", file=sys.stderr) as bar:
        for start in range(0, n, APPEND_BATCH):
            end = min(n, start + APPEND_BATCH)
            sqlite_tree.append_entries([leaf_data(i) for i in range(start, end)])
            sqlite_root = sqlite_tree.get_root()
            bar.update(end - start)
    sql_append = n / (time.perf_counter() - started)
    assert sqlite_root == root
    started = time.perf_counter()
    for i in range(n, n + SINGLES):
        sqlite_tree.append_entry(leaf_data(i))
        sqlite_tree.get_root()
    sql_single = SINGLES / (time.perf_counter() - started)
    assert sqlite_tree.get_root() == frontier.root()
    sample = indices[:200]
    t = time.perf_counter()
    for index in sample:
        sqlite_tree.prove_inclusion(index + 1, n)
    sql_proofs = len(sample) / (time.perf_counter() - t)
    sqlite_tree.close()

    RESULTS["store"] = {
        "entries": n,
        "append_per_s": ours_append,
        "append_cpu_us_per_entry": ours_cpu * 1e6,
        "bare_insert_indexed_per_s": bare_indexed,
        "bare_insert_indexed_cpu_us_per_entry": bare_indexed_cpu * 1e6,
        "bare_insert_plain_per_s": bare_plain,
        "bare_insert_plain_cpu_us_per_entry": bare_plain_cpu * 1e6,
        "proofs_per_s": ours_proofs,
        "proof_p50_ms": percentile(latencies, 0.50) * 1000,
        "proof_p99_ms": percentile(latencies, 0.99) * 1000,
        "pymerkle_memory_append_per_s": mem_append,
        "pymerkle_memory_proofs_per_s": mem_proofs,
        "pymerkle_sqlite_append_per_s": sql_append,
        "pymerkle_sqlite_proofs_per_s": sql_proofs,
        "single_append_per_s": ours_single,
        "pymerkle_sqlite_single_append_per_s": sql_single,
    }
    r = RESULTS["store"]
    say(
        f"append/s against what limits it: store {ours_append:,.0f} "
        f"({ours_cpu * 1e6:.1f} us CPU/entry) | bare sqlite3 insert of the same rows with the "
        f"store's keys {bare_indexed:,.0f} ({bare_indexed_cpu * 1e6:.1f} us; store "
        f"{ours_append / bare_indexed:.2f}x wall, CPU ratio {bare_indexed_cpu / ours_cpu:.2f}) | "
        f"without keys {bare_plain:,.0f} ({bare_plain_cpu * 1e6:.1f} us; store "
        f"{ours_append / bare_plain:.2f}x, CPU ratio {bare_plain_cpu / ours_cpu:.2f})"
    )
    say(
        f"append/s: store {ours_append:,.0f} | pymerkle memory {mem_append:,.0f} "
        f"({ours_append / mem_append:.1f}x) | pymerkle SQLite {sql_append:,.0f} "
        f"({ours_append / sql_append:.1f}x)"
    )
    say(
        f"single appends/s (one transaction + root each, at size {n:,}): store "
        f"{ours_single:,.0f} | pymerkle SQLite {sql_single:,.0f} ({ours_single / sql_single:.1f}x)"
    )
    say(
        f"proofs/s: store {ours_proofs:,.0f} (p50 {r['proof_p50_ms']:.3f} ms, p99 "
        f"{r['proof_p99_ms']:.3f} ms) | pymerkle memory {mem_proofs:,.0f} "
        f"({ours_proofs / mem_proofs:.1f}x) | pymerkle SQLite {sql_proofs:,.1f} "
        f"({ours_proofs / sql_proofs:.0f}x)"
    )
    engine.dispose()


# --- signed statements --------------------------------------------------------------------------


@cache
def installed() -> Installed:
    """Every installed plug-in (supply, trials), as the app and the command line load them."""
    return load_plugins()


def demo_service(data_dir: Path, stories: tuple[str, ...] = ()) -> Service:
    """A log with the demo parties (and the demo stories named, by plug-in name)."""
    service = Service(
        Settings.from_config({"DATA_DIR": str(data_dir)}), installed().registry, APP_METADATA
    )
    service.initialise(demo=True)  # demo parties are seeded into demonstration logs only
    demo.seed(service, installed().plugins, 0, stories=stories)
    return service


def demo_keys(data_dir: Path) -> list[ec.EllipticCurvePrivateKey]:
    """The private keys of every demo party, in the order `demo.seed` registers them."""
    return [demo.demo_key(data_dir, p.slug) for p in demo.parties(installed().plugins)]


def signed_envelopes(data_dir: Path, count: int, tag: str) -> list[dict[str, Any]]:
    keys = demo_keys(data_dir)
    ids = [key_id(public_key_der(k)) for k in keys]
    out = []
    for i in range(count):
        body = {"subject": f"bench/{tag}/{i}", "claim": {"sequence": i}}
        statement = make_statement("attestation", body, ids[i % len(keys)], log=ORIGIN)
        out.append(sign_envelope(keys[i % len(keys)], statement.payload()).to_json())
    return out


def _verify_jobs(args: tuple[bytes, bytes, bytes]) -> bool:
    return is_valid_p256(*args)


def verify_jobs(
    service: Service, envelopes: list[dict[str, Any]]
) -> list[tuple[bytes, bytes, bytes]]:
    """(signer's key DER, signed bytes, signature) of each envelope, as the server checks them."""
    from provenance.log.store.projection import DbView

    with read_connection(service.engine) as conn:
        view = DbView(conn, service.registry.key_columns)
        jobs = []
        for envelope in envelopes:
            item = service.log.parse(envelope)
            key = view.key(item.statement.signer)
            assert key is not None
            jobs.append((key.public_key, item.envelope.pae(), item.envelope.signatures[0].sig))
    return jobs


def bare_verify_rates(
    service: Service, envelopes: list[dict[str, Any]], workers: int
) -> tuple[float, float]:
    """Signatures/s of python-ecdsa alone on these envelopes: one core, and `workers` processes."""
    jobs = verify_jobs(service, envelopes)
    started = time.perf_counter()
    assert all(_verify_jobs(job) for job in jobs)
    one = len(jobs) / (time.perf_counter() - started)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_verify_jobs, jobs[:workers])  # start-up outside the timing
        started = time.perf_counter()
        assert all(pool.map(_verify_jobs, jobs, chunksize=50))
        many = len(jobs) / (time.perf_counter() - started)
    return one, many


# --- 2. HTTP ingest -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post_all(port: int, bodies: list[bytes], path: str, threads: int) -> float:
    """Seconds to POST every body from `threads` keep-alive clients."""
    started = time.perf_counter()
    post_timed(port, bodies, path, threads)
    return time.perf_counter() - started


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and every live process below it, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total


def post_timed(port: int, bodies: list[bytes], path: str, clients: int) -> list[float]:
    """POST each body once from `clients` keep-alive connections; each request's latency."""
    local = threading.local()

    def post(body: bytes) -> float:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port)
        started = time.perf_counter()
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        return time.perf_counter() - started

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(post, bodies))


def start_server(
    data_dir: Path, workers: int, threads: int = 4, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn (gthread; ./gunicorn.conf.py, which starts the appender) on a free port, once
    it accepts connections; its access log goes nowhere."""
    port = free_port()
    # One load generator on one address: the limits would measure themselves (see part 4).
    env = {**os.environ, "PROVENANCE_DATA_DIR": str(data_dir), **LIMITS_OFF, **(env or {})}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
         "--worker-class", "gthread", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "app:create_app()"],
        cwd=ROOT,
        env=env,
        stderr=(data_dir.parent / "gunicorn.log").open("ab"),
    )  # fmt: skip
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, port


def bench_ingest(workdir: Path, count: int, workers: int) -> None:
    say(f"\n== Signed ingest over HTTP, {count:,} statements, gunicorn {workers} workers ==")
    data_dir = workdir / "ingest"
    service = demo_service(data_dir)
    singles = signed_envelopes(data_dir, count, "single")
    batched = signed_envelopes(data_dir, count, "batch")
    one, many = bare_verify_rates(service, singles[:2000], workers)
    server, port = start_server(data_dir, workers)
    try:
        single_bodies = [json.dumps(e).encode() for e in singles]
        seconds = post_all(port, single_bodies, "/api/v1/statements", threads=CLIENTS)
        single_rate = count / seconds
        batch_bodies = [json.dumps(batched[i : i + 100]).encode() for i in range(0, count, 100)]
        seconds = post_all(port, batch_bodies, "/api/v1/statements/batch", threads=workers)
        batch_rate = count / seconds
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    report = service.verify(workers=workers)
    assert report.ok, report.summary()
    RESULTS["ingest"] = {
        "statements": count,
        "workers": workers,
        "bare_verify_1core": one,
        f"bare_verify_{workers}proc": many,
        "single_per_s": single_rate,
        "batch100_per_s": batch_rate,
    }
    say(f"bare verify: {one:,.0f}/s on 1 core, {many:,.0f}/s on {workers} processes")
    say(
        f"HTTP single: {single_rate:,.0f}/s = {single_rate / one:.2f}x 1-core verify, "
        f"{single_rate / many:.2f}x {workers}-process verify"
    )
    say(
        f"HTTP batch of 100: {batch_rate:,.0f}/s = {batch_rate / one:.2f}x 1-core verify, "
        f"{batch_rate / many:.2f}x {workers}-process verify"
    )


#: The single-statement modes compared: each worker appending for itself, and the appender.
MODES = {"each worker appends": {"PROVENANCE_APPENDER": "0"}, "one appender": {}}


def bench_concurrent_singles(workdir: Path, count: int, workers: int, rounds: int = 3) -> None:
    """One statement per request from 16 clients: the server's CPU per statement (every process
    of the server, from /proc) against one python-ecdsa verify, plain and with key tables, with
    each worker appending for itself and with one appender process, alternating, on one log."""
    say(f"\n== {CONCURRENT} clients, one statement a request, {rounds} rounds of {count:,} ==")
    data_dir = workdir / "concurrent"
    service = demo_service(data_dir)
    envelopes = signed_envelopes(data_dir, (count + 100) * rounds * len(MODES), "concurrent")
    plain, tables = verify_costs(service, envelopes[:1000])
    database_url = service.settings.database_url
    service.close()
    engine = make_engine(database_url)

    def transactions() -> int:
        # Every append transaction publishes one checkpoint.
        with read_connection(engine) as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM log_checkpoint").scalar_one())

    bodies = iter([json.dumps(e).encode() for e in envelopes])
    figures: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for r in range(rounds):
        for mode, env in MODES.items():
            server, port = start_server(data_dir, workers, env=env)
            try:
                warm = [next(bodies) for _ in range(100)]
                post_timed(port, warm, "/api/v1/statements", CONCURRENT)
                chunk = [next(bodies) for _ in range(count)]
                before = transactions()
                cpu0, wall0 = tree_cpu(server.pid), time.perf_counter()
                latencies = post_timed(port, chunk, "/api/v1/statements", CONCURRENT)
                wall, cpu = time.perf_counter() - wall0, tree_cpu(server.pid) - cpu0
                committed = transactions() - before
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=60)
            f = {
                "per_s": count / wall,
                "cpu_ms": cpu / count * 1e3,
                "p50_ms": percentile(latencies, 0.5) * 1e3,
                "p99_ms": percentile(latencies, 0.99) * 1e3,
                "transactions_per_statement": committed / count,
            }
            figures[mode].append(f)
            say(
                f"round {r + 1}, {mode}: {f['per_s']:,.0f}/s, server CPU {f['cpu_ms']:.2f} ms a "
                f"statement = {plain * 1e3 / f['cpu_ms']:.2f}x a plain verify "
                f"({plain * 1e3:.2f} ms), {tables * 1e3 / f['cpu_ms']:.2f}x a verify with tables "
                f"({tables * 1e3:.2f} ms); latency p50 {f['p50_ms']:.1f} ms, "
                f"p99 {f['p99_ms']:.1f} ms; {f['transactions_per_statement']:.2f} transactions "
                f"a statement; load average {os.getloadavg()[0]:.1f}"
            )
    engine.dispose()
    ratios = sorted(
        one["cpu_ms"] / each["cpu_ms"]
        for one, each in zip(figures["one appender"], figures["each worker appends"], strict=True)
    )
    say(
        f"CPU per statement, one appender / each worker appending: median "
        f"{ratios[len(ratios) // 2]:.2f} (spread {ratios[0]:.2f}-{ratios[-1]:.2f})"
    )
    RESULTS["concurrent_singles"] = {
        "clients": CONCURRENT,
        "workers": workers,
        "verify_plain_ms": plain * 1e3,
        "verify_tables_ms": tables * 1e3,
        "rounds": figures,
        "appender_cpu_ratios": ratios,
    }


def verify_costs(service: Service, envelopes: list[dict[str, Any]]) -> tuple[float, float]:
    """CPU seconds of one python-ecdsa verify of these signatures: plain, and with key tables."""
    import ecdsa
    from ecdsa.util import sigdecode_der

    jobs = verify_jobs(service, envelopes)
    plain_keys = {der: ecdsa.VerifyingKey.from_der(der) for der, _, _ in jobs}
    started = time.process_time()
    for der, message, sig in jobs:
        assert plain_keys[der].verify(sig, message, hashlib.sha256, sigdecode=sigdecode_der)
    plain = (time.process_time() - started) / len(jobs)
    assert all(_verify_jobs(job) for job in jobs)  # tables built outside the timing
    started = time.process_time()
    assert all(_verify_jobs(job) for job in jobs)
    return plain, (time.process_time() - started) / len(jobs)


# --- 3. verify ------------------------------------------------------------------------------


def bench_verify(workdir: Path, n: int, workers: int) -> None:
    say(f"\n== verify of a {n:,}-entry signed log, {workers} processes ==")
    data_dir = workdir / "verify"
    service = demo_service(data_dir)
    keys = demo_keys(data_dir)
    ids = [key_id(public_key_der(k)) for k in keys]
    with click.progressbar(length=n, label="building signed log", file=sys.stderr) as bar:
        for start in range(0, n, BATCH):
            items: list[Submission] = []
            for i in range(start, min(n, start + BATCH)):
                body = {"subject": f"bench/verify/{i}", "claim": {"sequence": i}}
                statement = make_statement("attestation", body, ids[i % len(keys)], log=ORIGIN)
                items.append(
                    service.log.parse(
                        sign_envelope(keys[i % len(keys)], statement.payload()).to_json()
                    )
                )
            # Signatures were just made by the demo keys; `verify` below checks every one.
            service.log.submit_many(items, verify=False)
            bar.update(len(items))
    sample = signed_envelopes(data_dir, 2000, "sample")
    one, many = bare_verify_rates(service, sample, workers)
    with read_connection(service.engine) as conn:
        size = logdb.tree_size(conn)
    with click.progressbar(length=size, label="verifying", file=sys.stderr) as bar:
        report = service.verify(workers=workers, progress=bar.update)
    assert report.ok, report.summary()
    rate = report.entries / report.seconds
    RESULTS["verify"] = {
        "entries": report.entries,
        "seconds": report.seconds,
        "per_s": rate,
        "bound_per_s": many,
        "bare_verify_1core": one,
    }
    say(
        f"verify: {report.entries:,} entries in {report.seconds:,.1f} s = {rate:,.0f}/s; "
        f"verify-only bound {many:,.0f}/s ({rate / many:.2f}x), 1 core {one:,.0f}/s"
    )


# --- 4. rate limiter ------------------------------------------------------------------------


def bench_rate_limits(workdir: Path, requests: int = 3000, rounds: int = 5) -> None:
    say(f"\n== rate limiter: {rounds} rounds of {requests:,} GET /log/checkpoint, in-process ==")
    from app import create_app
    from provenance.web.context import service as current_service

    apps = {}
    for name, limit in (("off", 0), ("on", 10**9)):
        app = create_app(
            {"DATA_DIR": str(workdir / f"limits-{name}"),
             "RATE_LIMIT_PARTY": limit, "RATE_LIMIT_ADDRESS": limit}
        )  # fmt: skip
        with app.app_context():
            current_service().initialise()
        apps[name] = app.test_client()
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    wall: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for name, client in apps.items():  # alternating, so drift hits both alike
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            for i in range(requests):
                address = f"10.{i % 200}.0.{i % 250}"  # many buckets, as real clients make
                response = client.get("/log/checkpoint", environ_base={"REMOTE_ADDR": address})
                assert response.status_code == 200
            cpu[name].append((time.process_time() - cpu_start) / requests)
            wall[name].append((time.perf_counter() - wall_start) / requests)
    cpu_ratios = [on / off for on, off in zip(cpu["on"], cpu["off"], strict=True)]
    wall_ratios = [on / off for on, off in zip(wall["on"], wall["off"], strict=True)]
    RESULTS["rate_limits"] = {
        "cpu_us_off": [x * 1e6 for x in cpu["off"]],
        "cpu_us_on": [x * 1e6 for x in cpu["on"]],
        "cpu_ratio": cpu_ratios,
        "wall_ratio": wall_ratios,
    }
    say(
        f"CPU per request: off {min(cpu['off']) * 1e6:,.0f}–{max(cpu['off']) * 1e6:,.0f} µs, "
        f"on {min(cpu['on']) * 1e6:,.0f}–{max(cpu['on']) * 1e6:,.0f} µs"
    )
    say(
        f"on/off CPU ratio {sorted(cpu_ratios)[len(cpu_ratios) // 2]:.3f} "
        f"(spread {min(cpu_ratios):.3f}–{max(cpu_ratios):.3f}); wall ratio "
        f"{sorted(wall_ratios)[len(wall_ratios) // 2]:.3f} "
        f"(spread {min(wall_ratios):.3f}–{max(wall_ratios):.3f})"
    )


# --- 5. precomputed key tables ----------------------------------------------------------------


def bench_precompute(count: int = 2000, rounds: int = 5) -> None:
    say(f"\n== python-ecdsa verify, {rounds} rounds of {count:,} signatures, one key ==")
    import ecdsa
    from cryptography.hazmat.primitives import hashes
    from ecdsa.util import sigdecode_der

    from provenance.log import signing

    key = ec.generate_private_key(ec.SECP256R1())
    der = public_key_der(key)
    messages = [f"message {i}".encode() for i in range(count)]
    signatures = [key.sign(m, ec.ECDSA(hashes.SHA256())) for m in messages]
    plain = ecdsa.VerifyingKey.from_der(der)
    tabled = signing._verifier(der)
    cpu: dict[str, list[float]] = {"plain": [], "tables": []}
    for _ in range(rounds):
        for name, verifier in (("plain", plain), ("tables", tabled)):
            started = time.process_time()
            for message, signature in zip(messages, signatures, strict=True):
                verifier.verify(
                    signature, message, hashfunc=hashlib.sha256, sigdecode=sigdecode_der
                )
            cpu[name].append((time.process_time() - started) / count)
    ratios = sorted(t / p for t, p in zip(cpu["tables"], cpu["plain"], strict=True))
    RESULTS["precompute"] = {"cpu_ms_plain": cpu["plain"], "cpu_ms_tables": cpu["tables"]}
    say(
        f"CPU per verify: plain {min(cpu['plain']) * 1e3:.3f}–{max(cpu['plain']) * 1e3:.3f} ms, "
        f"with tables {min(cpu['tables']) * 1e3:.3f}–{max(cpu['tables']) * 1e3:.3f} ms; "
        f"ratio {ratios[len(ratios) // 2]:.2f} (spread {ratios[0]:.2f}–{ratios[-1]:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--entries", type=int, default=1_000_000, help="entries for store and verify"
    )
    parser.add_argument("--ingest", type=int, default=5_000, help="statements for HTTP ingest")
    parser.add_argument(
        "--singles", type=int, default=3_000, help="statements a round, 16 concurrent clients"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--only", choices=["store", "ingest", "singles", "verify", "limits", "precompute"]
    )
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    say(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="provenance-bench-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "store"):
            bench_store(args.entries, workdir)
        if args.only in (None, "ingest"):
            bench_ingest(workdir, args.ingest, args.workers)
        if args.only in (None, "singles"):
            bench_concurrent_singles(workdir, args.singles, args.workers)
        if args.only in (None, "verify"):
            bench_verify(workdir, args.entries, args.workers)
        if args.only in (None, "limits"):
            bench_rate_limits(workdir)
        if args.only in (None, "precompute"):
            bench_precompute()
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=2) + "\n")


if __name__ == "__main__":
    main()
