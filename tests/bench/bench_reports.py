"""Report benchmarks (`make bench`): the ledger page at 1,000,000 signed entries (bench_ledger.py),
and the supply-chain exceptions report at 1,000,000 custody events.

Supply-chain goal: the report builds in < 30 s with < 2 GB peak RSS. The projection (parties,
products, batches, holdings, shipments, packs, custody events, alerts) is written directly in
bulk, as bench_supply.py does for its scan set-up, not replayed from signed statements: the
report reads only the projection. Each measurement runs in a fresh process, so its peak RSS is
its own; the baseline, measured in the same run, is reading custody_event's scalar columns into
pandas.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import click  # noqa: E402
from bench_log import demo_service, installed, say  # noqa: E402
from bench_supply import gtin_of  # noqa: E402

from provenance.app import APP_METADATA  # noqa: E402
from provenance.log.service import Service  # noqa: E402
from provenance.log.settings import Settings  # noqa: E402
from provenance.log.store.engine import write_transaction  # noqa: E402

GOAL_SECONDS = 30.0
GOAL_BYTES = 2 * 1024**3
AS_OF, DAYS = date(2026, 1, 15), 14
CHUNK = 2_500  # batches per write transaction
MAKERS, WHOLESALERS, PHARMACIES, GTINS = 20, 60, 2_000, 1_000
ROGUE = 5  # pharmacies whose scans raise alerts ~15x as often as their peers'
SERIALISED_EVERY = 20
EPOCH = datetime(2025, 1, 1)
KEY = "cd" * 32
SCAN_KINDS = ("expired-scan", "expiry-mismatch", "pack-state", "never-received", "recalled-scan")

COLUMNS = {
    "party": ("gln", "name", "roles", "registered_index"),
    "product": ("gtin", "manufacturer", "name", "ndc", "form", "strength", "registered_index"),
    "batch": (
        "gtin", "lot", "manufacturer", "expiry", "quantity", "serialised", "dispensed",
        "destroyed", "status", "recall_reason", "recall_index", "commissioned_index",
        "commissioned_at",
    ),
    "holding": ("gtin", "lot", "gln", "quantity", "first_index"),
    "shipment": (
        "sender", "shipment_id", "gtin", "lot", "recipient", "quantity", "received", "serials",
        "status", "po", "despatch", "shipped_index", "shipped_at", "received_index", "received_at",
    ),
    "pack": (
        "gtin", "serial", "lot", "holder", "state", "state_by", "state_index", "state_at",
        "undo_state",
    ),
    "custody_event": (
        "idx", "seq", "gtin", "lot", "action", "party", "counterparty", "quantity", "serials",
        "detail", "at", "key_id",
    ),
    "alert": (
        "idx", "seq", "kind", "gtin", "lot", "serial", "party", "detail", "raised_at",
        "resolved_index", "resolved_by", "resolution",
    ),
}  # fmt: skip


def gln(kind: int, n: int) -> str:
    return f"7{kind}{n:011d}"


def ts(day: float) -> str:
    return (EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def insert(conn: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        names = COLUMNS[table]
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        conn.exec_driver_sql(sql, rows)


class Chain:
    """Rows of one chunk of batches: maker → wholesaler → three pharmacies, ~20 events each."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}
        self.events = 0

    def event(
        self, idx: int, g: str, lot: str, action: str, party: str, day: float, **kw: Any
    ) -> None:
        self.rows["custody_event"].append(
            (
                idx,
                0,
                g,
                lot,
                action,
                party,
                kw.get("counterparty"),
                kw.get("quantity", 0),
                json.dumps(kw.get("serials", [])),
                kw.get("detail", ""),
                ts(day),
                KEY,
            )
        )
        self.events += 1

    def alert(
        self,
        idx: int,
        kind: str,
        g: str,
        lot: str | None,
        party: str,
        day: float,
        serial: str | None = None,
    ) -> None:
        resolved = self.rng.random() < 0.3
        self.rows["alert"].append(
            (
                idx,
                0,
                kind,
                g,
                lot,
                serial,
                party,
                f"bench {kind}",
                ts(day),
                idx + 1 if resolved else None,
                party if resolved else None,
                "checked" if resolved else None,
            )
        )

    def batch(self, b: int) -> None:
        rng, base = self.rng, 10_000 + b * 32
        g, lot = gtin_of(b % GTINS), f"L{b:07d}"
        maker = gln(1, b % GTINS % MAKERS)
        w = rng.randrange(WHOLESALERS)
        # Each pharmacy buys from one wholesaler, so routes repeat and have volume.
        pharmacies = [gln(3, w + WHOLESALERS * k) for k in rng.sample(range(PHARMACIES // 60), 3)]
        wholesaler = gln(2, w)
        serialised = b % SERIALISED_EVERY == 0
        serials = [f"S{b:07d}{i:03d}" for i in range(200)] if serialised else []
        year = 25 if rng.random() < 0.05 else rng.randrange(26, 30)
        expiry = f"{year}{rng.randrange(1, 13):02d}{'00' if rng.random() < 0.5 else '28'}"
        day = rng.uniform(0, 340)
        self.event(base, g, lot, "commission", maker, day, quantity=200, detail=f"expiry {expiry}")
        slow = w in (3, 17)  # two wholesalers with slow trucks
        got = day + 1 + rng.expovariate(1 / 2)
        self.ship(base + 1, maker, wholesaler, g, lot, 200, serials, day + 1, got)
        held = {maker: 0, wholesaler: 40}
        dispensed, idx, taken = 0, base + 3, 0
        for k, (pharmacy, amount) in enumerate(zip(pharmacies, (60, 60, 40), strict=True)):
            sent = serials[taken : taken + amount]
            taken += amount
            shipped = got + 0.5 * (k + 1)
            arrives = shipped + 0.3 + rng.expovariate(1 / (5 if slow else 1))
            outcome = rng.random()
            if outcome < 0.02:  # never received
                self.ship(idx, wholesaler, pharmacy, g, lot, amount, sent, shipped, None)
                idx += 2
                continue
            short = 2 if outcome < 0.03 else 0
            self.ship(idx, wholesaler, pharmacy, g, lot, amount, sent, shipped, arrives, short)
            if short:
                self.alert(idx + 1, "receipt-discrepancy", g, lot, pharmacy, arrives)
            idx += 2
            left = amount - short
            for n in range(3):
                quantity = amount // 12
                out = sent[n * quantity : (n + 1) * quantity]
                self.event(
                    idx,
                    g,
                    lot,
                    "dispense",
                    pharmacy,
                    arrives + 1 + n,
                    quantity=quantity,
                    serials=out,
                )
                idx, left, dispensed = idx + 1, left - quantity, dispensed + quantity
            held[pharmacy] = left
        for pharmacy in (pharmacies[0], pharmacies[2]):
            if pharmacy not in held:
                continue
            self.event(idx, g, lot, "scan", pharmacy, got + 10, detail="authentic")
            rogue = int(pharmacy[2:]) < ROGUE
            if rng.random() < (0.3 if rogue else 0.02):
                self.alert(idx, rng.choice(SCAN_KINDS), g, lot, pharmacy, got + 10)
            idx += 1
        recalled = rng.random() < 0.005
        if recalled:
            self.event(base + 25, g, lot, "recall", maker, got + 12, detail="bench recall")
            stocked = [p for p in pharmacies if held.get(p, 0) > 0]
            if b % 7 == 0 and stocked:  # a few dispenses the rules would have refused
                pharmacy = stocked[0]
                self.event(base + 26, g, lot, "dispense", pharmacy, got + 13, quantity=1)
                held[pharmacy] -= 1
                dispensed += 1
        if b % 7_919 == 0:  # a handful of batches whose holdings drifted
            held[wholesaler] += 1
        for party, quantity in held.items():
            self.rows["holding"].append((g, lot, party, quantity, base))
        self.rows["batch"].append(
            (
                g, lot, maker, expiry, 200, int(serialised), dispensed, 0,
                "recalled" if recalled else "active", "bench recall" if recalled else None,
                base + 25 if recalled else None, base, ts(day),
            )
        )  # fmt: skip
        for i, serial in enumerate(serials):
            state = "stolen" if i == 199 and b % (SERIALISED_EVERY * 10) == 0 else "active"
            self.rows["pack"].append(
                (g, serial, lot, wholesaler, state, wholesaler, base, ts(day), None)
            )
        if serialised and rng.random() < 0.2:  # a serial dispensed twice: an alert, no event
            twice = serials[rng.randrange(200)]
            self.alert(400_000_000 + b, "duplicate-serial", g, lot, pharmacies[1], got + 20, twice)

    def ship(
        self,
        idx: int,
        sender: str,
        to: str,
        g: str,
        lot: str,
        quantity: int,
        serials: list[str],
        day: float,
        arrives: float | None,
        short: int = 0,
    ) -> None:
        received = 0 if arrives is None else quantity - short
        status = "in_transit" if arrives is None else ("partial" if short else "received")
        listed = json.dumps(serials)
        self.rows["shipment"].append(
            (
                sender, f"B{idx}", g, lot, to, quantity, received, listed, status, None, None,
                idx, ts(day), None if arrives is None else idx + 1,
                None if arrives is None else ts(arrives),
            )
        )  # fmt: skip
        detail = f"shipment B{idx}"
        self.event(
            idx, g, lot, "ship", sender, day, counterparty=to, quantity=quantity,
            serials=serials, detail=detail,
        )  # fmt: skip
        if arrives is not None:
            self.event(
                idx + 1, g, lot, "receive", to, arrives, counterparty=sender, quantity=received,
                serials=serials[:received], detail=detail,
            )  # fmt: skip


def fill(service: Service, events: int) -> dict[str, int]:
    rng = random.Random(11)
    counts: dict[str, int] = {}
    with write_transaction(service.engine) as conn:
        parties = [
            (gln(kind, n), f"{role} {n}", role, 1)
            for kind, role, number in (
                (1, "manufacturer", MAKERS),
                (2, "wholesaler", WHOLESALERS),
                (3, "pharmacy", PHARMACIES),
            )
            for n in range(number)
        ]
        insert(conn, "party", parties)
        counts["party"] = len(parties)
        products = [
            (gtin_of(g), gln(1, g % MAKERS), f"Product {g}", None, "tablet", "10 mg", 1)
            for g in range(GTINS)
        ]
        insert(conn, "product", products)
        counts["product"] = len(products)
    total, b = 0, 0
    with click.progressbar(length=events, label="writing projection rows", file=sys.stderr) as bar:
        while total < events:
            chain = Chain(rng)
            for _ in range(CHUNK):
                chain.batch(b)
                b += 1
                if total + chain.events >= events:
                    break
            if total + chain.events >= events:  # scans that name no known batch
                for n in range(300):
                    party = gln(3, rng.randrange(PHARMACIES))
                    day = rng.uniform(0, 340)
                    chain.alert(
                        500_000_000 + n, "unknown-product", "09999999999993", None, party, day
                    )
            with write_transaction(service.engine) as conn:
                for table, rows in chain.rows.items():
                    insert(conn, table, rows)
                    counts[table] = counts.get(table, 0) + len(rows)
            total += chain.events
            bar.update(chain.events)
    return counts


# --- measured in a child process ----------------------------------------------------------------


def child(mode: str, data_dir: Path) -> None:
    import pandas as pd
    from matplotlib.figure import Figure

    from provenance.reports.catalog import catalog, report_kind
    from provenance.reports.model import Params
    from provenance.reports.run import run_report
    from provenance.reports.source import open_source

    plugins = installed()
    # Both modes import the report's module, so their peak RSS differs by the work alone.
    kind = report_kind(catalog(plugins), "supply-chain")
    service = Service(
        Settings.from_config({"DATA_DIR": str(data_dir)}), plugins.registry, APP_METADATA
    )
    out: dict[str, Any] = {}
    if mode == "baseline":
        with open_source(service) as source:
            started = time.perf_counter()
            ((count,),) = source.frame("SELECT count(*) FROM custody_event").itertuples(
                index=False, name=None
            )
            out["count_s"] = time.perf_counter() - started
            started = time.perf_counter()
            frame: pd.DataFrame = source.frame(
                "SELECT idx, seq, gtin, lot, action, party, counterparty, quantity, at, key_id "
                "FROM custody_event"
            )
            out["read_s"] = time.perf_counter() - started
            out["rows"] = int(count)
            assert len(frame) == count
    else:
        started = time.perf_counter()
        report = run_report(service, kind, Params(as_of=AS_OF, days=DAYS))
        out["build_s"] = time.perf_counter() - started
        out["build_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        started = time.perf_counter()
        for chart in report.charts():
            figure = Figure(figsize=(7.5, 3.8), dpi=100, layout="constrained")
            chart.draw(figure)
            figure.savefig(io.BytesIO(), format="png")
        out["charts_s"] = time.perf_counter() - started
        out["metrics"] = {m.label: m.value for section in report.sections for m in section.metrics}
        out["rows"] = {t.name: len(t.frame) for t in report.tables()}
        rates = report.table("scan_alert_rates").frame
        out["flagged"] = rates.loc[rates["flagged"], "party"].tolist()
    service.close()
    out["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps(out))


def measure(mode: str, data_dir: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--data-dir", str(data_dir)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{result.stderr}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="custody events to write")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--child", choices=["baseline", "report"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["supply-chain", "ledger"])
    parser.add_argument(
        "--ledger-entries", type=int, default=1_000_000, help="signed entries for the ledger page"
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data_dir)
        return
    say(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    if args.only in (None, "ledger"):
        from bench_ledger import bench_ledger

        with tempfile.TemporaryDirectory(prefix="provenance-bench-") as tmp:
            ledger = bench_ledger(Path(tmp), args.ledger_entries)
        if args.only == "ledger":
            if args.json:
                args.json.write_text(json.dumps({"ledger": ledger}, indent=2) + "\n")
            return
    say(f"\n== Supply-chain exceptions report over {args.events:,} custody events ==")
    say("projection rows written directly in bulk (not replayed from signed statements)")
    with tempfile.TemporaryDirectory(prefix="provenance-bench-") as tmp:
        data_dir = Path(tmp) / "reports"
        service = demo_service(data_dir, stories=("supply",))
        started = time.perf_counter()
        counts = fill(service, args.events)
        service.close()
        say(
            f"filled in {time.perf_counter() - started:.0f} s: "
            + ", ".join(f"{n:,} {table}" for table, n in counts.items())
        )
        db = data_dir / "provenance.db"
        say(f"database {db.stat().st_size / 1e9:.2f} GB")
        base = measure("baseline", data_dir)
        run = measure("report", data_dir)
    rss_gb = run["rss"] / 1024**3
    say(
        f"baseline: SELECT count(*) {base['count_s']:.2f} s; custody_event's scalar columns "
        f"({base['rows']:,} rows) into pandas {base['read_s']:.2f} s, peak RSS "
        f"{base['rss'] / 1024**3:.2f} GB"
    )
    say(
        f"supply-chain report: built in {run['build_s']:.2f} s = "
        f"{run['build_s'] / base['read_s']:.2f}x the baseline read; charts drawn in "
        f"{run['charts_s']:.2f} s; peak RSS {rss_gb:.2f} GB (build alone "
        f"{run['build_rss'] / 1024**3:.2f} GB)"
    )
    say("findings: " + "; ".join(f"{k} {v}" for k, v in run["metrics"].items()))
    say(f"parties flagged for scan alerts: {', '.join(run['flagged']) or 'none'}")
    ok = run["build_s"] < GOAL_SECONDS and run["rss"] < GOAL_BYTES
    say(
        f"goal (< {GOAL_SECONDS:.0f} s, < {GOAL_BYTES / 1024**3:.0f} GB): "
        + ("met" if ok else "MISSED")
    )
    if args.json:
        figures = {"events": base["rows"], "tables": counts, "baseline": base, "report": run}
        if args.only is None:
            figures["ledger"] = ledger
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
