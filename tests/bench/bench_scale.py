"""Scale benchmark: request costs as one log grows (every ratio compares figures from this run).

One log, on SQLite or PostgreSQL, is grown to each size in turn by direct row writes of log
entries with their tree hashes, and in proportion the supply rows (products, batches, packs) and
EPCIS events with their EPC index rows, each event filed under an entry of the log. At each size,
in process (no HTTP: the figures are the database and query cost):

- append: batches of 1,000 signed statements through the log's own append (signatures made
  before the timing, checked when they were made), entries/s and CPU per entry;
- inclusion proofs (`reader.inclusion_proof`) at the full tree size, for random entries, as
  the receipt route reads them (the upper tree hashes kept by the process) and, as the baseline,
  each read whole from the database;
- tiles as /log/tile reads them (`reader.hash_tile`, `reader.entry_bundle`), random full tiles;
- resolver lookups (`supply.queries.lookup`, as /01/<gtin>/10/<lot>/21/<serial> calls it) of
  random existing packs, for the public (anonymous) reader and for a regulator (timeline too);
- EPC queries (`event_queries.find_events` with MATCH_epc) for a random existing pack's EPC.

Each figure is taken in rounds; the table gives the median over rounds with its spread, CPU time
beside wall time, and its ratio to the same figure at the smallest size. The issue's goals are
checked at the largest size: resolver p99 < 20 ms, EPC query p99 < 10 ms, proof p99 < 2 ms,
append rate >= 0.8x its rate at 10,000 entries (or the smallest size measured).

`--keep DIR` keeps the grown database (and its keys) in DIR, and `--reuse DIR` measures it
again, growing it further if `--sizes` asks: growing to 10,000,000 entries takes 20-30 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import click  # noqa: E402
from bench_log import installed, leaf_data, percentile, say, signed_envelopes  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from provenance import demo  # noqa: E402
from provenance.access.principal import ANONYMOUS, Principal  # noqa: E402
from provenance.app import APP_METADATA  # noqa: E402
from provenance.epcis.epc_index import MATCH_FIELDS, match_keys  # noqa: E402
from provenance.epcis.simple_query import SimpleQuery  # noqa: E402
from provenance.gs1 import keys as gs1  # noqa: E402
from provenance.log import merkle, reader, tiles  # noqa: E402
from provenance.log.note import Checkpoint, format_checkpoint  # noqa: E402
from provenance.log.service import Service  # noqa: E402
from provenance.log.settings import Settings  # noqa: E402
from provenance.log.statements import now_timestamp  # noqa: E402
from provenance.log.store import logdb  # noqa: E402
from provenance.log.store.engine import (  # noqa: E402
    is_sqlite,
    marks,
    query,
    read_connection,
    write_transaction,
)
from provenance.supply import demo as demo_supply  # noqa: E402
from provenance.supply import event_queries  # noqa: E402
from provenance.supply import queries as supply_queries  # noqa: E402

POSTGRES_ENV = "PROVENANCE_TEST_POSTGRES_URL"
CHUNK = 20_000  # filler entries per transaction
GTINS = 1_000
EVENTS_PER_PACK = 4  # commissioning, packing (into a case), shipping, receiving: one entry each
PACKS_PER_BATCH = 100
PACKS_PER_CASE = 10
APPEND_BATCH = 1_000
STEPS = ("commissioning", "packing", "shipping", "receiving")
STAMP = "2026-01-01T00:00:00.000Z"
GOAL_REFERENCE = 10_000  # the append goal compares with the rate at this size
RESULTS: dict[str, Any] = {}


def gtin_of(n: int) -> str:
    return gs1.with_check_digit(f"0950{n:09d}")


def pack_of(p: int) -> tuple[str, str, str]:
    """(GTIN, lot, serial) of filler pack `p`: batch p // PACKS_PER_BATCH, a GTIN per batch."""
    b = p // PACKS_PER_BATCH
    return gtin_of(b % GTINS), f"L{b:08d}", f"S{p}"


def pack_uri(p: int) -> str:
    gtin, _lot, serial = pack_of(p)
    return f"https://id.gs1.org/01/{gtin}/21/{serial}"


# --- the database -------------------------------------------------------------------------------


@contextlib.contextmanager
def database(
    backend: str, workdir: Path, postgres_url: str | None, *, keep: bool = False
) -> Iterator[str]:
    """A new database URL for the backend; a PostgreSQL database is dropped afterwards unless
    it is kept."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'scale.db'}"
        return
    if not postgres_url:
        raise SystemExit(f"--database postgresql needs --postgres-url or {POSTGRES_ENV}")
    name = f"provenance_bench_{uuid.uuid4().hex[:12]}"
    base = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + "/" + name
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def reopen_service(data_dir: Path, url: str) -> Service:
    """The log a `--keep` run left, as it was (no demo seeding again)."""
    settings = Settings.from_config({"DATA_DIR": str(data_dir), "DATABASE_URL": url})
    return Service(settings, installed().registry, APP_METADATA)


def open_service(data_dir: Path, url: str) -> Service:
    """A demonstration log (the demo parties and supply story) on the database at `url`."""
    settings = Settings.from_config({"DATA_DIR": str(data_dir), "DATABASE_URL": url})
    service = Service(settings, installed().registry, APP_METADATA)
    service.initialise(demo=True)
    demo.seed(service, installed().plugins, 0, stories=("supply",))
    return service


def _insert(conn: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        count = columns.count(",") + 1
        conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES ({marks(conn, count)})", rows)


# --- growing the log ----------------------------------------------------------------------------


@dataclass
class Filler:
    """Where the direct writes stand: filler entries written so far (entry k of the filler is
    event k % 4 of pack k // 4), and whether the products are in."""

    written: int = 0
    products: bool = False
    #: signed statements are tagged by a number never used before in this log
    tag: int = 0
    #: (first log index, first filler number) of each run of filler entries
    runs: list[tuple[int, int]] = field(default_factory=list)

    def next_tag(self) -> int:
        self.tag += 1
        return self.tag

    def as_json(self) -> dict[str, Any]:
        return {"written": self.written, "products": self.products, "tag": self.tag,
                "runs": self.runs}  # fmt: skip

    @classmethod
    def from_json(cls, saved: dict[str, Any]) -> Filler:
        runs = [(int(a), int(b)) for a, b in saved["runs"]]
        return cls(int(saved["written"]), bool(saved["products"]), int(saved["tag"]), runs)

    def index_of(self, k: int) -> int:
        """The log index of filler entry k (appended statements lie between runs)."""
        start, first = next((s, f) for s, f in reversed(self.runs) if f <= k)
        return start + k - first

    @property
    def packs(self) -> int:
        return self.written // EVENTS_PER_PACK


def _event(i: int, k: int) -> tuple[tuple[Any, ...], list[tuple[str, str, str]]]:
    """The EPCIS event row of filler entry k (log entry i), and its EPC index rows."""
    p, e = divmod(k, EVENTS_PER_PACK)
    gtin, lot, _serial = pack_of(p)
    pack, step = pack_uri(p), STEPS[e]
    case = f"https://id.gs1.org/00/0950600{p // PACKS_PER_CASE:010d}"
    hash_id = f"ni:///sha-256;{i:064x}?ver=CBV2.0"
    kind = "AggregationEvent" if step == "packing" else "ObjectEvent"
    at = f"2026-{1 + e:02d}-01T00:00:00.{p % 1000:03d}Z"
    listed = "childEPCs" if step == "packing" else "epcList"
    body: dict[str, Any] = {"type": kind, "eventTime": at, "bizStep": step, listed: [pack]}
    index = [(hash_id, listed, pack)]
    epcs = pack
    if step == "packing":
        body["parentID"] = case
        index.append((hash_id, "parentID", case))
        epcs = f"{pack} {case}"
    row = (hash_id, i, 0, kind, step, at, gtin, lot, epcs, json.dumps(body))
    return row, index


def grow(service: Service, to_size: int, filler: Filler, *, analyze: bool) -> float:
    """Write filler entries (and their supply rows) until the log has `to_size` entries, then
    publish a checkpoint of it signed by the log; seconds taken."""
    started = time.perf_counter()
    engine = service.engine
    maker = demo_supply.GLNS[demo_supply.ACME]
    pharmacy = demo_supply.GLNS[demo_supply.CITY]
    with read_connection(engine) as conn:
        size = logdb.tree_size(conn)
        addrs = merkle.frontier_addrs(size)
        stored = logdb.fetch_nodes(conn, addrs)
    frontier = merkle.Frontier(size, [stored[a] for a in addrs])
    if not filler.products:
        with write_transaction(engine) as conn:
            _insert(
                conn,
                "product",
                "gtin, manufacturer, name, ndc, form, strength, registered_index",
                [
                    (gtin_of(g), maker, f"Product {g}", None, "tablet", "10 mg", 1)
                    for g in range(GTINS)
                ],
            )
        filler.products = True
    filler.runs.append((size, filler.written))
    with click.progressbar(
        length=max(0, to_size - size), label=f"growing to {to_size:,}", file=sys.stderr
    ) as bar:
        for start in range(size, to_size, CHUNK):
            end = min(to_size, start + CHUNK)
            entries, nodes, events, epcs, packs, batches = [], [], [], [], [], []
            for i in range(start, end):
                data = leaf_data(i)
                leaf = merkle.leaf_hash(data)
                nodes += frontier.append(leaf)
                digest = hashlib.sha256(data).digest()
                entries.append((i, leaf, digest, "bench", "0" * 64, STAMP, data))
                k = filler.written
                filler.written += 1
                row, index = _event(i, k)
                events.append(row)
                epcs += index
                p, e = divmod(k, EVENTS_PER_PACK)
                if e == 0:
                    gtin, lot, serial = pack_of(p)
                    packs.append((gtin, serial, lot, pharmacy, "active", maker, i, STAMP, None))
                    if p % PACKS_PER_BATCH == 0:
                        batches.append(
                            (gtin, lot, maker, "301231", PACKS_PER_BATCH, 1, 0, 0, "active",
                             None, None, i, STAMP)
                        )  # fmt: skip
            with write_transaction(engine) as conn:
                _insert(
                    conn,
                    "log_entry",
                    "idx, leaf_hash, payload_digest, kind, signer, logged_at, data",
                    entries,
                )
                _insert(conn, "log_node", "level, idx, hash", nodes)
                _insert(
                    conn,
                    "batch",
                    "gtin, lot, manufacturer, expiry, quantity, serialised, dispensed, "
                    "destroyed, status, recall_reason, recall_index, commissioned_index, "
                    "commissioned_at",
                    batches,
                )
                _insert(
                    conn,
                    "pack",
                    "gtin, serial, lot, holder, state, state_by, state_index, state_at, undo_state",
                    packs,
                )
                _insert(
                    conn,
                    "epcis_event",
                    "hash_id, idx, position, event_type, biz_step, event_time, gtin, lot, "
                    "epcs, event",
                    events,
                )
                _insert(conn, "epcis_epc", "hash_id, field, epc", epcs)
            bar.update(end - start)
    if frontier.size != size:
        log = service.log
        note = log.signer.sign(
            format_checkpoint(Checkpoint(log.origin, frontier.size, frontier.root()))
        )
        log.guard.signed(note)
        checkpoint: dict[str, Any] = {
            "size": frontier.size,
            "root_hash": frontier.root(),
            "note": note,
            "created_at": now_timestamp(),
        }
        with write_transaction(engine) as conn:
            logdb.insert_rows(conn, "log_checkpoint", [checkpoint])
    if analyze:
        # What autovacuum would do soon after a bulk load; SQLite has no automatic ANALYZE,
        # and the service never runs one, so SQLite is measured without statistics.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured operation at one size: per-round p50/p99 (ms) or rate, and CPU per op."""

    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def as_json(self) -> dict[str, list[float]]:
        return {"p50_ms": self.p50, "p99_ms": self.p99, "per_s": self.rate, "cpu_ms": self.cpu_ms}


def timed_rounds(
    service: Service, samples: int, rounds: int, make: Callable[[random.Random], Any],
    call: Callable[[Any, Any], object], seed: int = 0,
) -> Figure:  # fmt: skip
    """`rounds` rounds of `samples` calls on one read snapshot each, arguments made beforehand."""
    figure = Figure()
    rng = random.Random(samples + seed)
    with read_connection(service.engine) as conn:
        for _ in range(min(samples, 200)):  # caches and first pages, outside the rounds
            call(conn, make(rng))
    for _ in range(rounds):
        args = [make(rng) for _ in range(samples)]
        latencies = []
        with read_connection(service.engine) as conn:
            cpu, wall = time.process_time(), time.perf_counter()
            for arg in args:
                t0 = time.perf_counter()
                call(conn, arg)
                latencies.append(time.perf_counter() - t0)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        figure.p50.append(percentile(latencies, 0.50) * 1e3)
        figure.p99.append(percentile(latencies, 0.99) * 1e3)
        figure.rate.append(samples / wall)
        figure.cpu_ms.append(cpu / samples * 1e3)
    return figure


def measure_append(service: Service, data_dir: Path, filler: Filler, rounds: int) -> Figure:
    figure = Figure()
    warm = signed_envelopes(data_dir, APPEND_BATCH // 10, f"warm{filler.next_tag()}")
    service.log.submit_many([service.log.parse(e) for e in warm], verify=False)
    for _ in range(rounds):
        tag = f"scale{filler.next_tag()}"
        items = [service.log.parse(e) for e in signed_envelopes(data_dir, APPEND_BATCH, tag)]
        cpu, wall = time.process_time(), time.perf_counter()
        # Signed by the demo keys just now; the append itself is what is measured.
        service.log.submit_many(items, verify=False)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        figure.rate.append(APPEND_BATCH / wall)
        figure.cpu_ms.append(cpu / APPEND_BATCH * 1e3)
    return figure


def measure(
    service: Service, data_dir: Path, filler: Filler, samples: int, rounds: int
) -> dict[str, Figure]:
    figures: dict[str, Figure] = {"append": measure_append(service, data_dir, filler, rounds)}
    with read_connection(service.engine) as conn:
        size = logdb.tree_size(conn)
        addrs = merkle.frontier_addrs(size)
        stored = logdb.fetch_nodes(conn, addrs)
    root = merkle.Frontier(size, [stored[a] for a in addrs]).root()
    packs = filler.packs

    def proofs(kept: reader.KeptNodes | None) -> Callable[[Any, int], None]:
        def proof(conn: Any, index: int) -> None:
            path = reader.inclusion_proof(conn, index, size, kept)
            if index % 101 == 0:
                leaf = merkle.leaf_hash(leaf_data(index))
                merkle.verify_inclusion(index, size, leaf, path, root)

        return proof

    # Proofs of filler entries only (their data is leaf_data of their index), so each can be
    # checked against the root; each figure draws its own entries.
    def filler_entry(rng: random.Random) -> int:
        return filler.index_of(rng.randrange(filler.written))

    def proof_or(conn: Any, index: int) -> None:
        # The previous release's read: one OR of (level, idx) pairs for every hash.
        plan = merkle.inclusion_proof_addrs(index, size)
        addrs = merkle.plan_addrs(plan)
        where = " OR ".join(["(level = ? AND idx = ?)"] * len(addrs))
        params = tuple(value for addr in addrs for value in addr)
        rows = query(conn, f"SELECT level, idx, hash FROM log_node WHERE {where}", params)
        merkle.assemble(plan, {(int(lv), int(ix)): bytes(h) for lv, ix, h in rows})

    figures["proof_or"] = timed_rounds(service, samples, rounds, filler_entry, proof_or, seed=3)
    figures["proof_unkept"] = timed_rounds(
        service, samples, rounds, filler_entry, proofs(None), seed=1
    )
    figures["proof"] = timed_rounds(
        service, samples, rounds, filler_entry, proofs(reader.kept_nodes()), seed=2
    )
    full_tiles = size // tiles.TILE_WIDTH
    figures["tile"] = timed_rounds(
        service, samples, rounds, lambda rng: rng.randrange(full_tiles),
        lambda conn, t: reader.hash_tile(conn, 0, t, tiles.TILE_WIDTH),
    )  # fmt: skip
    figures["bundle"] = timed_rounds(
        service, samples, rounds, lambda rng: rng.randrange(full_tiles),
        lambda conn, t: reader.entry_bundle(conn, t, tiles.TILE_WIDTH),
    )  # fmt: skip

    def resolve(who: Principal | None) -> Callable[[Any, int], object]:
        def run(conn: Any, p: int) -> object:
            gtin, lot, serial = pack_of(p)
            found = supply_queries.lookup(
                conn, gs1.GTIN(gtin), gs1.Lot(lot), gs1.Serial(serial), reader=who
            )
            if found.pack is None:
                raise AssertionError(f"pack {p} not found")
            return found.to_json("http://bench")

        return run

    figures["resolver"] = timed_rounds(
        service, samples, rounds, lambda rng: rng.randrange(packs), resolve(ANONYMOUS)
    )
    figures["resolver_full"] = timed_rounds(
        service, samples, rounds, lambda rng: rng.randrange(packs), resolve(None)
    )

    def epc_query(conn: Any, p: int) -> object:
        keys = tuple(match_keys("MATCH_epc", pack_uri(p)))
        wanted = SimpleQuery(matches=((MATCH_FIELDS["MATCH_epc"], keys),))
        found = event_queries.find_events(conn, wanted)
        # The last pack may have fewer than its four events yet.
        if len(found) != EVENTS_PER_PACK and p < packs - 1:
            raise AssertionError(f"pack {p}: {len(found)} events")
        return found

    figures["epc_query"] = timed_rounds(
        service, samples, rounds, lambda rng: rng.randrange(packs), epc_query
    )
    return figures


# --- reporting ----------------------------------------------------------------------------------

LABELS = {
    "append": "append (1,000/batch)",
    "proof_or": "proof, OR query",
    "proof_unkept": "proof, nothing kept",
    "proof": "inclusion proof",
    "tile": "hash tile (level 0)",
    "bundle": "entry bundle",
    "resolver": "resolver, public",
    "resolver_full": "resolver, regulator",
    "epc_query": "EPC query (MATCH_epc)",
}


def _spread(values: list[float], digits: int) -> str:
    low, mid, high = (
        f"{x:,.{digits}f}" for x in (min(values), statistics.median(values), max(values))
    )
    return f"{mid} ({low}-{high})"


def print_table(
    size: int, figures: dict[str, Figure], first: dict[str, Figure], only: str | None
) -> None:
    say(f"\n-- {size:,} log entries --")
    say(
        f"{'':24} {'p50 ms':>10} {'p99 ms (spread)':>26} {'per s (spread)':>22} {'CPU ms/op':>10} "
        f"{'x smallest':>10}"
    )
    for name, label in LABELS.items():
        if only not in (None, name):
            continue
        f, base = figures[name], first[name]
        if name == "append":
            ratio = statistics.median(f.rate) / statistics.median(base.rate)
            say(
                f"{label:24} {'':>10} {'':>26} {_spread(f.rate, 0):>22} "
                f"{statistics.median(f.cpu_ms):>10.3f} {ratio:>9.2f}x"
            )
            continue
        ratio = statistics.median(f.p99) / statistics.median(base.p99)
        say(
            f"{label:24} {statistics.median(f.p50):>10.3f} {_spread(f.p99, 3):>26} "
            f"{statistics.median(f.rate):>22,.0f} {statistics.median(f.cpu_ms):>10.3f} "
            f"{ratio:>9.2f}x"
        )


def check_goals(sizes: dict[int, dict[str, Figure]]) -> dict[str, bool]:
    largest = max(sizes)
    figures = sizes[largest]
    reference = GOAL_REFERENCE if GOAL_REFERENCE in sizes else min(sizes)
    append_ratio = statistics.median(figures["append"].rate) / statistics.median(
        sizes[reference]["append"].rate
    )
    p99 = {name: statistics.median(figures[name].p99) for name in LABELS if name != "append"}
    goals = {
        f"resolver p99 < 20 ms ({p99['resolver']:.2f} ms public, "
        f"{p99['resolver_full']:.2f} ms regulator)": max(p99["resolver"], p99["resolver_full"])
        < 20,
        f"EPC query p99 < 10 ms ({p99['epc_query']:.2f} ms)": p99["epc_query"] < 10,
        f"proof p99 < 2 ms ({p99['proof']:.3f} ms)": p99["proof"] < 2,
        f"append >= 0.8x its rate at {reference:,} ({append_ratio:.2f}x)": append_ratio >= 0.8,
    }
    say(f"\nGoals at {largest:,} entries:")
    for goal, held in goals.items():
        say(f"  {'holds' if held else 'FAILS'}: {goal}")
    return goals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_ENV),
        help=f"server to create the bench database on (default: ${POSTGRES_ENV})",
    )
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="log sizes, comma separated, ascending"
    )
    parser.add_argument("--samples", type=int, default=1000, help="calls per round per figure")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds per figure (append: batches of 1,000)"
    )
    parser.add_argument("--only", choices=["append", *[n for n in LABELS if n != "append"]],
                        help="print only this figure's table rows")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument("--keep", type=Path, help="keep the grown log (and its keys) in this "
                      "new directory, for --reuse")  # fmt: skip
    kept.add_argument("--reuse", type=Path, help="measure the log a --keep run left here")
    args = parser.parse_args()
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    say(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {args.database}"
    )
    measured: dict[int, dict[str, Figure]] = {}
    with contextlib.ExitStack() as stack:
        if args.reuse:
            state = json.loads((args.reuse / "state.json").read_text())
            home, url = args.reuse, state["url"]
            service, filler = reopen_service(home / "data", url), Filler.from_json(state["filler"])
        else:
            if args.keep:
                args.keep.mkdir(parents=True)
                home = args.keep
            else:
                home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
            url = stack.enter_context(
                database(args.database, home, args.postgres_url, keep=bool(args.keep))
            )
            service, filler = open_service(home / "data", url), Filler()
        try:
            for size in sizes:
                seconds = grow(service, size, filler, analyze=not is_sqlite(service.engine))
                say(f"\ngrown to {size:,} entries ({filler.packs:,} packs) in {seconds:,.0f} s")
                measured[size] = measure(service, home / "data", filler, args.samples, args.rounds)
                print_table(size, measured[size], measured[sizes[0]], args.only)
                if args.keep or args.reuse:
                    saved = {"url": url, "filler": filler.as_json()}
                    (home / "state.json").write_text(json.dumps(saved) + "\n")
        finally:
            service.close()
    goals = check_goals(measured)
    RESULTS.update(
        {
            "database": args.database,
            "sizes": {
                str(size): {name: f.as_json() for name, f in figures.items()}
                for size, figures in measured.items()
            },
            "goals": goals,
            "load": os.getloadavg(),
        }
    )
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=2) + "\n")


if __name__ == "__main__":
    main()
