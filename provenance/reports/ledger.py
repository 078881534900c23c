"""The ledger report: is the log intact, what it holds per kind, party and day, and key events."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from provenance.log.store import logdb, verification
from provenance.log.verify import VerifyReport
from provenance.reports.charts import ranked_bars, value_scale
from provenance.reports.model import (
    Chart,
    Metric,
    Params,
    Report,
    Section,
    Step,
    Table,
    report_kind,
)
from provenance.reports.source import Source

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Parties drawn in the per-party chart (the busiest); the table holds every party.
CHART_PARTIES = 12
UNKNOWN = "(unregistered key)"
BLUE = "#1d4ed8"


# --- pure pipelines ------------------------------------------------------------------------------


def signer_parties(counts: pd.DataFrame, keys: pd.DataFrame, parties: pd.DataFrame) -> pd.DataFrame:
    """Adds gln and party name to entry counts by signing key (keys: key_id, gln)."""
    owner = keys.set_index("key_id")["gln"]
    names = parties.set_index("gln")["name"]
    gln = counts["signer"].map(owner)
    return counts.assign(gln=gln.fillna(""), party=gln.map(names).fillna(UNKNOWN))


def entries_per_kind(counts: pd.DataFrame) -> pd.DataFrame:
    """counts: kind, day, entries (one row per kind, signer and day)."""
    out = (
        counts.groupby("kind")
        .agg(entries=("entries", "sum"), first_day=("day", "min"), last_day=("day", "max"))
        .reset_index()
    )
    total = int(out["entries"].sum())
    out.insert(2, "share_pct", (100 * out["entries"] / total).round(1) if total else 0.0)
    return out.sort_values(["entries", "kind"], ascending=[False, True]).reset_index(drop=True)


def entries_per_party(counts: pd.DataFrame) -> pd.DataFrame:
    """counts: gln, party, kind, day, entries (as `signer_parties` gives)."""
    out = (
        counts.groupby(["gln", "party"])
        .agg(
            entries=("entries", "sum"),
            kinds=("kind", "nunique"),
            first_day=("day", "min"),
            last_day=("day", "max"),
        )
        .reset_index()
    )
    return out.sort_values(["entries", "gln"], ascending=[False, True]).reset_index(drop=True)


def entries_per_day(counts: pd.DataFrame) -> pd.DataFrame:
    out = counts.groupby("day")["entries"].sum().reset_index()
    return out.sort_values("day").reset_index(drop=True)


def _key_event(
    keys: pd.DataFrame, index: str, at: pd.Series, event: str, detail: pd.Series | str
) -> pd.DataFrame:
    """One kind of key event, a row per key: where in the log, when, what, whose, why."""
    columns = {"index": keys[index], "at": at, "event": event, "gln": keys["gln"]}
    return pd.DataFrame({**columns, "key_id": keys["key_id"], "detail": detail})


def key_events(parties: pd.DataFrame, keys: pd.DataFrame, logged: pd.DataFrame) -> pd.DataFrame:
    """Registrations, key additions, rotations and revocations in log order.

    parties: gln, name, roles, registered_index; keys: key_id, gln, added_index, added_at,
    retired_index, retired_at, revoked_from, revoked_index, revocation_reason; logged: idx,
    logged_at of the revocation entries (a key row keeps only a revocation's effective time).
    """
    names = parties.set_index("gln")["name"]
    registered = keys.merge(
        parties, left_on=["gln", "added_index"], right_on=["gln", "registered_index"]
    )
    added = keys[~keys["key_id"].isin(registered["key_id"])]
    retired = keys[keys["retired_index"].notna()]
    revoked = keys[keys["revoked_index"].notna()]
    revoked_at = revoked["revoked_index"].map(logged.set_index("idx")["logged_at"])
    parts = [
        _key_event(registered, "added_index", registered["added_at"], "party registered",
                   "roles " + registered["roles"]),
        _key_event(added, "added_index", added["added_at"], "key added", ""),
        _key_event(retired, "retired_index", retired["retired_at"], "key retired", "rotated out"),
        _key_event(revoked, "revoked_index", revoked_at, "key revoked",
                   "from " + revoked["revoked_from"] + ": " + revoked["revocation_reason"]),
    ]  # fmt: skip
    found = [part for part in parts if not part.empty]
    if not found:
        found = [pd.DataFrame(columns=["index", "at", "event", "gln", "key_id", "detail"])]
    out = pd.concat(found, ignore_index=True)
    out["index"] = out["index"].astype("int64")
    out.insert(4, "party", out["gln"].map(names))
    # Within one entry a rotation retires the old key before it adds the new one.
    order = {"party registered": 0, "key retired": 1, "key added": 2, "key revoked": 3}
    out = out.assign(_order=out["event"].map(order))
    return (
        out.sort_values(["index", "_order", "key_id"]).drop(columns="_order").reset_index(drop=True)
    )


def verification_metrics(report: VerifyReport) -> list[Metric]:
    first = report.first
    if report.resumed_from:
        scope = f"entries {report.resumed_from:,} on; those before were verified earlier"
    else:
        scope = "every entry" + (f" ({report.resume_refused})" if report.resume_refused else "")
    full = f"{report.full_size:,} entries at {report.full_at}" if report.full_at else "none stored"
    return [
        Metric("Log", "intact" if report.ok else "DAMAGED", flag=not report.ok),
        Metric(
            "Verified through",
            f"{report.size:,} entries at {report.verified_at}" if report.ok else "damaged",
            flag=not report.ok,
        ),
        Metric("Checked in this run", scope),
        Metric("Last check of every entry", full),
        Metric("Entries checked", f"{report.entries:,}"),
        Metric("Signatures checked", f"{report.signatures:,}"),
        Metric("Checkpoints checked", f"{report.checkpoints:,}"),
        Metric("Tree hashes checked", f"{report.nodes:,}"),
        Metric(
            "First failure",
            "none" if first is None else f"index {first.index}: {first.what}: {first.detail}",
            flag=first is not None,
        ),
        Metric("Problems", f"{len(report.problems):,}", flag=not report.ok),
    ]


def problems_frame(report: VerifyReport) -> pd.DataFrame:
    rows = sorted(report.problems, key=lambda p: p.sort_key())
    return pd.DataFrame(
        [(p.index, p.what, p.detail) for p in rows], columns=["index", "what", "detail"]
    )


# --- charts --------------------------------------------------------------------------------------


def _bars(name: str, title: str, labels: pd.Series, values: pd.Series) -> Chart:
    return ranked_bars(name, title, labels, values, "entries", colour=BLUE, empty="nothing logged")


def _per_day_chart(days: pd.DataFrame) -> Chart:
    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        axes.set_ylabel("entries")
        if days.empty:
            return
        when = pd.to_datetime(days["day"])
        # Days without entries get a zero bar, so gaps in the log's activity show.
        every = pd.date_range(when.min(), when.max(), freq="D")
        full = days.set_index(when)["entries"].reindex(every, fill_value=0)
        labels = list(every.strftime("%Y-%m-%d"))
        axes.bar(range(len(full)), full.to_numpy(), color=BLUE)
        if value_scale(axes, full.to_numpy(), "y"):
            axes.set_ylabel("entries (log scale)")
        axes.set_xlim(-1, len(full))
        step = max(1, len(full) // 8)
        ticks = list(range(0, len(full), step))
        axes.set_xticks(ticks, [labels[i] for i in ticks], rotation=30, ha="right")

    busiest = days.sort_values("entries", ascending=False).head(1)
    alt = f"{len(days)} days with entries" + "".join(
        f"; busiest {d} with {n:,}" for d, n in zip(busiest["day"], busiest["entries"], strict=True)
    )
    return Chart("days", "Entries per day", draw, alt)


# --- the report ----------------------------------------------------------------------------------


@report_kind(
    "ledger",
    "Ledger",
    "Verifies the log with its public key (entries, signatures, checkpoints, tree hashes; "
    "what was appended since the last verification), counts entries per kind, party and day, "
    "and lists party registrations and key changes.",
    steps=3,
)
def ledger_report(source: Source, params: Params, step: Step) -> Report:
    # With the public key only; from where the last verification that found the log intact
    # stopped, once that agrees with the checkpoint signed at its size.
    verified = source.service.verify(conn=source.conn, resume=True)
    problems = problems_frame(verified)
    integrity = Section(
        "Verification",
        "Every entry's bytes, hash chain link and signature, every signed checkpoint and every "
        "stored tree hash, recomputed from the entries. The first failure is where damage starts. "
        "Each run checks what was appended since the last one that found the log intact; "
        "`flask --app app verify --full` checks every entry again.",
        verification_metrics(verified),
        [Table("verification_problems", "Problems found", problems)] if not problems.empty else [],
    )
    step("verified the log")

    # Counted once: the counts stored for an earlier size, plus the entries appended since.
    writer = None if source.service.settings.read_only else source.service.engine
    counts = pd.DataFrame.from_records(
        verification.entry_counts(source.conn, writer, logdb.tree_size(source.conn)),
        columns=["kind", "signer", "day", "entries"],
    )
    keys = source.frame(
        "SELECT key_id, gln, added_index, added_at, retired_index, retired_at, revoked_from, "
        "revoked_index, revocation_reason FROM party_key"
    )
    parties = source.frame("SELECT gln, name, roles, registered_index FROM party")
    counts = signer_parties(counts, keys, parties)
    kinds, by_party, by_day = (
        entries_per_kind(counts),
        entries_per_party(counts),
        entries_per_day(counts),
    )
    top = by_party.head(CHART_PARTIES)
    contents = Section(
        "Entries",
        "Entries per statement kind, per signing party (through its key) and per day (UTC).",
        [
            Metric("Entries", f"{int(kinds['entries'].sum()):,}"),
            Metric("Kinds", f"{len(kinds):,}"),
            Metric("Signing parties", f"{len(by_party):,}"),
            Metric("Days", f"{len(by_day):,}"),
        ],
        [
            Table("entries_per_kind", "Entries per kind", kinds),
            Table("entries_per_party", "Entries per party", by_party),
            Table("entries_per_day", "Entries per day", by_day),
        ],
        [
            _bars("entries_per_kind", "Entries per kind", kinds["kind"], kinds["entries"]),
            _bars(
                "parties",
                f"Entries of the {len(top)} busiest parties",
                top["party"],
                top["entries"],
            ),
            _per_day_chart(by_day),
        ],
    )
    step("counted entries")

    revoked = keys["revoked_index"].dropna().astype(int)
    logged = pd.DataFrame.from_records(
        [(idx, at) for idx, (_, _, at) in logdb.entry_facts(source.conn, revoked).items()],
        columns=["idx", "logged_at"],
    )
    events = key_events(parties, keys, logged)
    counted = events["event"].value_counts()
    identity = Section(
        "Key events",
        "Party registrations, keys added by rotation, keys rotated out and revocations (with "
        "the effective time and reason), in log order.",
        [
            Metric("Parties registered", f"{counted.get('party registered', 0):,}"),
            Metric("Keys rotated out", f"{counted.get('key retired', 0):,}"),
            Metric("Keys revoked", f"{counted.get('key revoked', 0):,}"),
        ],
        [Table("key_events", "Key events", events)],
    )
    step("listed key events")
    return Report("ledger", "Ledger", params, [integrity, contents, identity])
