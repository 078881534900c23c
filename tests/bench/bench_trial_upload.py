"""Trial dataset uploads at real sizes (`make bench`): a generated laboratory dataset of --size
MB (10^6 bytes; at most 1,000, the largest payload a database value holds), as CSV and as
Dataset-JSON NDJSON, hashed on the client's side as `submit-dataset` does, then uploaded to a
server in a process of its own (waitress, as `make run` serves, with its body limit raised to
the payload limit) that spools, hashes and reads the dataset through before storing it.
Reports the time and CPU time of each step (with the dataset workers' CPU), the server's peak
resident memory (VmHWM) and its largest worker's, against the goals of 60 s and 500 MB for 1 GB."""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench_log import LIMITS_OFF, demo_service, free_port, say  # noqa: E402

from provenance import demo  # noqa: E402
from trials.client import summarise_file, upload_file  # noqa: E402
from trials.demo.story import SPONSOR  # noqa: E402
from trials.payloads import STORABLE  # noqa: E402

MB = 1_000_000
#: The goals for a 1 GB dataset: the upload checked and stored within a minute, in bounded memory.
GOAL_S, GOAL_RSS_MB = 60, 500
TESTS = ("GLUC", "ALT", "AST", "BILI", "CREAT", "HGB", "PLAT", "WBC", "NA", "K")
SERVE = (
    "import sys; from waitress import serve; from provenance.app import create_app; "
    "serve(create_app(), host='127.0.0.1', port=int(sys.argv[1]), threads=2, "
    "max_request_body_size=int(sys.argv[2]))"
)


def lb_row(i: int) -> list[Any]:
    """One row of 40 columns as a phase 3 LB dataset has them: identifiers, a test, original
    and standard results, ranges, flags, visit and dates."""
    test = TESTS[i % len(TESTS)]
    value = (i * 7919 % 100_000) / 100
    return [
        "PILOT01", "LB", f"01-{i // 400:05d}", i % 400 + 1, f"LB{i:09d}", test, f"{test} test",
        "CHEMISTRY", "SERUM", f"{value}", "mg/dL", value, value * 1.1, round(value * 0.8, 2),
        f"{value * 1.25}", "N" if i % 7 else "H", "Y", i % 12, f"WEEK {i % 12}", i % 12 * 7,
        f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}", i % 365, "", "CENTRAL", "FASTING",
        "NORMAL" if i % 5 else "ABNORMAL", round(value / 3, 4), i % 9, "",
        "BASELINE" if i < 5 else "", i, "SITE-" + str(i % 200), "ROUTINE", value * 2, "",
        f"{value:.1f}", "mg/dL", "Y", "", i % 3,
    ]  # fmt: skip


COLUMNS = [f"COL{n:02d}" for n in range(40)]


def write_csv(path: Path, size: int) -> int:
    """About `size` bytes of CSV (never more); the number of rows."""
    rows = 0
    with path.open("w") as out:
        out.write(",".join(COLUMNS) + "\n")
        while True:
            block = "".join(",".join(map(str, lb_row(rows + k))) + "\n" for k in range(1000))
            if out.tell() + len(block) > size:
                return rows
            out.write(block)
            rows += 1000


def write_ndjson(path: Path, size: int) -> int:
    """About `size` bytes of Dataset-JSON NDJSON (never more); the number of rows."""
    kinds = ["integer" if isinstance(v, int) else "double" if isinstance(v, float) else "string"
             for v in lb_row(1)]  # fmt: skip
    meta: dict[str, Any] = {
        "datasetJSONCreationDateTime": "2026-12-01T00:00:00",
        "datasetJSONVersion": "1.1.0",
        "records": 0,
        "name": "LB",
        "label": "Laboratory Test Results",
        "columns": [
            {"itemOID": f"IT.LB.{c}", "name": c, "label": c, "dataType": k}
            for c, k in zip(COLUMNS, kinds, strict=True)
        ],
    }
    # The first line declares the record count: estimate it from a sample, with room to spare.
    sample = sum(len(json.dumps(lb_row(i), separators=(",", ":"))) + 1 for i in range(1000))
    rows = int(size * 0.97) // sample * 1000
    meta["records"] = rows
    with path.open("w") as out:
        out.write(json.dumps(meta, separators=(",", ":")) + "\n")
        for start in range(0, rows, 1000):
            block = [lb_row(i) for i in range(start, start + 1000)]
            out.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in block))
    return rows


def wait_for(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def process_cpu_s(pid: int, other: int | None = None) -> float:
    """CPU seconds used by `pid` and by its worker processes (those it started that still run,
    such as the dataset readers, which it never waits for; not `other`), from /proc."""
    total = 0.0
    for process in (pid, *(child for child in children(pid) if child != other)):
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    """The processes `pid` started (the server's dataset workers), where Linux tells."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def workers_peak_rss_mb(pid: int) -> float:
    """The largest peak resident memory of the server's worker processes (0: none started)."""
    return max((peak_rss_mb(child) for child in children(pid)), default=0.0)


def reset_peak(pid: int) -> None:
    """Start the server's peak resident memory afresh (Linux: 5 to clear_refs), so that each
    upload reports its own; where that is not allowed, peaks add up over the run."""
    try:
        for process in (pid, *children(pid)):
            Path(f"/proc/{process}/clear_refs").write_text("5")
    except OSError:
        say("(cannot reset the server's peak memory: later peaks include earlier ones)")


def run(size_mb: int, workdir: Path) -> dict[str, Any]:
    data_dir = workdir / "data"
    demo_service(data_dir).close()
    key = demo.demo_key(data_dir, SPONSOR.slug)
    size = size_mb * MB
    limit = STORABLE
    port = free_port()
    env = {
        **os.environ,
        **LIMITS_OFF,
        "PROVENANCE_DATA_DIR": str(data_dir),
        "PROVENANCE_TRIAL_MAX_PAYLOAD": str(limit),
        "PROVENANCE_UPLOAD_QUOTA": str(8 * limit),
    }
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port), str(limit)], cwd=ROOT, env=env
    )
    results: dict[str, Any] = {"size_mb": size_mb}
    try:
        csv_path, nd_path = workdir / "lb.csv", workdir / "lb.ndjson"
        started = time.perf_counter()
        rows = write_csv(csv_path, size), write_ndjson(nd_path, size)
        took = time.perf_counter() - started
        say(f"generated {rows[0]:,} CSV and {rows[1]:,} NDJSON rows x 40 columns in {took:.1f} s")
        url = f"http://127.0.0.1:{port}"
        wait_for(port)
        results["server_rss_at_start_mb"] = round(peak_rss_mb(server.pid))
        for name, path, media in (("csv", csv_path, "text/csv"),
                                  ("ndjson", nd_path, "application/x-ndjson")):  # fmt: skip
            started, cpu = time.perf_counter(), process_cpu_s(os.getpid(), server.pid)
            summary = summarise_file(path)
            hashed = time.perf_counter() - started
            hashed_cpu = process_cpu_s(os.getpid(), server.pid) - cpu
            reset_peak(server.pid)
            started, cpu = time.perf_counter(), process_cpu_s(server.pid)
            upload_file(url, path, os.urandom(32), media, key)
            uploaded = time.perf_counter() - started
            uploaded_cpu = process_cpu_s(server.pid) - cpu
            peak = peak_rss_mb(server.pid)
            figures = {
                "bytes": path.stat().st_size,
                "rows": summary.row_count,
                "client_hash_s": round(hashed, 1),
                "client_hash_cpu_s": round(hashed_cpu, 1),
                "upload_and_server_check_s": round(uploaded, 1),
                "server_cpu_s": round(uploaded_cpu, 1),
                "server_mb_per_s": round(path.stat().st_size / MB / uploaded, 1),
                "server_peak_rss_mb": round(peak, 0),
                "server_worker_peak_rss_mb": round(workers_peak_rss_mb(server.pid), 0),
                "load_average": round(os.getloadavg()[0], 1),
            }
            results[name] = figures
            say(f"{name}: {figures}")
            # The goals are for a gigabyte: a smaller run is held to them in proportion.
            goal_s = GOAL_S * size / (1000 * MB)
            in_time = "meets" if uploaded <= goal_s else "misses"
            in_memory = "meets" if peak <= GOAL_RSS_MB else "misses"
            say(
                f"{name}: {in_time} the goal of {goal_s:.1f} s, {in_memory} the goal of "
                f"{GOAL_RSS_MB} MB server RSS"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["client_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="MB of each dataset file")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    say(f"\n== Trial dataset upload, {args.size} MB CSV and NDJSON ==")
    with tempfile.TemporaryDirectory() as workdir:
        results = run(args.size, Path(workdir))
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
