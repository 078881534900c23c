"""The trial-checks report: R1–R9 over one snapshot of the trial projection, a section each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from provenance.log.store import logdb
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
from trials import checks
from trials.access import trial_sponsor_report
from trials.checks.charts import count_rows, rule_charts
from trials.checks.contemporaneity import (
    CONTEMPORANEOUS_DAYS,
    dated_entries,
    lag_distribution,
    r9_contemporaneous,
)
from trials.checks.texts import RULES
from trials.queries import payload_bytes
from trials.tables import TRIAL_KEYS

#: The trial projection, table by table (its keys name a row in R8's findings).
TABLES = tuple(TRIAL_KEYS)
#: The column of each table holding the log index of the entry that made the row.
INDEX_COLUMNS = {
    "trial": "registered_index",
    "protocol_version": "committed_index",
    "dataset_version": "submitted_index",
    "enrolment": "enrolled_index",
    "consent_record": "idx",
    "results_report": "idx",
    "trial_event": "idx",
    "erasure": "erased_index",
}


@dataclass
class Frames:
    """The trial projection as frames (one trial's rows when the report is filtered)."""

    tables: dict[str, pd.DataFrame]
    refs: pd.DataFrame  # each row's log index with that entry's kind and signer
    payloads: pd.DataFrame  # payload metadata with what the stored bytes hash to now
    uses: pd.DataFrame  # which protocol or dataset version names which payload

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def _rows(source: Source, sql: str, trial: str | None, columns: list[str]) -> pd.DataFrame:
    if trial:
        sql += " WHERE t.trial_id = ?"
    return source.frame(sql, (trial,) if trial else (), columns)


def _projection_refs(source: Source, trial: str | None) -> list[dict[str, Any]]:
    """Each projection row's table, key, trial and log index, and the key its audit trail names;
    an erased payload points at its erasure's entry."""
    records: list[dict[str, Any]] = []
    for table, column in INDEX_COLUMNS.items():
        keys = TRIAL_KEYS[table]
        signer = "t.key_id" if table == "trial_event" else "NULL"
        sql = (
            f"SELECT t.trial_id, t.{column}, {signer}, {', '.join('t.' + k for k in keys)} "
            f"FROM {table} t"
        )
        names = ["trial_id", "idx", "key_id", *keys]
        for row in _rows(source, sql, trial, names).itertuples(index=False):
            key = "/".join(str(value) for value in row[3:])
            records.append(dict(zip(names[:3], row[:3], strict=True), table=table, key=key))
    erased = _rows(
        source,
        "SELECT t.trial_id, p.erased_index, p.commitment FROM trial_payload p "
        "JOIN erasure t ON t.payload = p.commitment",
        trial,
        ["trial_id", "idx", "key"],
    )
    return records + [dict(r, table="trial_payload", key_id=None) for r in checks.records(erased)]


def _refs(source: Source, trial: str | None) -> pd.DataFrame:
    """`_projection_refs` with the kind and signer of the entry each row points at (None where
    the log holds no such entry)."""
    records = _projection_refs(source, trial)
    facts = logdb.entry_facts(source.conn, (r["idx"] for r in records if pd.notna(r["idx"])))
    for record in records:
        fact = facts.get(record["idx"], (None, None, None))
        record["log_kind"], record["signer"], record["logged_at"] = fact
    columns = ["table", "key", "trial_id", "idx", "log_kind", "signer", "key_id", "logged_at"]
    return pd.DataFrame.from_records(records, columns=columns)


def _payloads(source: Source, wanted: set[str] | None) -> pd.DataFrame:
    """Payload metadata and what the stored bytes hash to now, read one payload at a time."""
    rows = source.frame(
        "SELECT commitment, salt, sha256, size, CASE WHEN data IS NULL THEN 0 ELSE 1 END "
        "FROM trial_payload ORDER BY commitment",
        (),
        ["commitment", "salt", "sha256", "size", "stored"],
    )
    records: list[dict[str, Any]] = []
    for row in checks.records(rows):
        if wanted is not None and row["commitment"] not in wanted:
            continue
        salt = row.pop("salt")
        data = payload_bytes(source.conn, row["commitment"]) if row["stored"] else None
        digests = (
            checks.payload_digests(bytes(salt), data)
            if data is not None and salt is not None
            else dict.fromkeys(("actual_commitment", "actual_sha256", "actual_size"))
        )
        records.append(dict(row, stored=bool(row["stored"]), **digests))
    columns = ["commitment", "sha256", "size", "stored"]
    columns += ["actual_commitment", "actual_sha256", "actual_size"]
    return pd.DataFrame.from_records(records, columns=columns)


def load(source: Source, trial: str | None) -> Frames:
    where, params = (" WHERE trial_id = ?", (trial,)) if trial else ("", ())
    tables = {name: source.frame(f"SELECT * FROM {name}{where}", params) for name in TABLES}
    uses = [
        dict(
            trial_id=r["trial_id"],
            table=name,
            key=f"{r.get('dataset', '')} v{r['version']}".lstrip(),
            payload=r["payload"],
        )
        for name in ("protocol_version", "dataset_version")
        for r in checks.records(tables[name])
    ]
    used = pd.DataFrame.from_records(uses, columns=["trial_id", "table", "key", "payload"])
    # Unfiltered, every stored payload is checked, whether a statement used it or not.
    wanted = set(used["payload"]) | set(tables["erasure"]["payload"]) if trial else None
    return Frames(tables, _refs(source, trial), _payloads(source, wanted), used)


#: Counts shown as metrics per rule: (column, {value: label}); CALM values never flag.
COUNTS: dict[str, tuple[str, dict[str, str]]] = {
    "R2": ("category", {category: category for category in checks.CATEGORIES}),
    "R3": (
        "disclosure",
        {
            "hidden": "hidden changes",
            "vague": "vaguely disclosed changes",
            "disclosed": "disclosed changes",
        },
    ),
    "R6": (
        "finding",
        {
            "no-consent": "enrolled without consent",
            "enrolled-before-consent": "enrolled before consent",
            "consent-to-wrong-version": "consents to a version not in force",
            "not-reconsented": "not re-consented",
        },
    ),
    "R7": (
        "finding",
        {
            "enrolled-before-activation": "enrolled before site activation",
            "unknown-site": "enrolled at an unregistered site",
            "activation-not-recorded": "sites without an activation date",
        },
    ),
    "R9": (
        "finding",
        {
            "possibly-back-dated": "possibly back-dated consents",
            "late-entry": "late entries",
            "dated-after-logging": "dated after logging",
            "retrospective-entry": "trials entered retrospectively",
        },
    ),
}
CALM = frozenset({"correct", "disclosed"})


def _section(
    rule: str,
    frame: pd.DataFrame,
    metrics: list[Metric],
    charts: list[Chart],
    more: tuple[Table, ...] = (),
) -> Section:
    title, text = RULES[rule]
    found = len(checks.findings(frame))
    value = "pass" if not found else f"{found} finding{'s' if found != 1 else ''}"
    counted = []
    if rule in COUNTS:
        column, labels = COUNTS[rule]
        for key, label in labels.items():
            n = count_rows(frame, column, key)
            counted.append(Metric(f"{rule} {label}", str(n), flag=n > 0 and key not in CALM))
    head = Metric(f"{rule} result", value, flag=bool(found))
    table = Table(rule.lower(), title, frame, "rows with severity 'ok' record a check that passed")
    return Section(title, text, [head, *counted, *metrics], [table, *more], charts)


@report_kind(
    "trial-checks",
    "Trial integrity checks",
    "R1–R9: registration, protocol and consent timing, COMPare outcome reporting, hidden "
    "outcome changes, amendments, late results, consent, site activation, chain integrity and "
    "contemporaneous entry.",
    steps=10,
    also_for=trial_sponsor_report,
)
def trial_checks_report(source: Source, params: Params, step: Step) -> Report:
    step("loading the trial projection")
    f = load(source, params.trial)
    protocols, enrolment = f["protocol_version"], f["enrolment"]
    consent = checks.consent_given(f["consent_record"])
    logged = f.refs[["idx", "logged_at"]].dropna().drop_duplicates("idx")
    entries = dated_entries(enrolment, f["consent_record"], logged)
    run: dict[str, Callable[[], pd.DataFrame]] = {
        "R1": lambda: checks.r1_registration(f["trial"], protocols, enrolment, consent, logged),
        "R2": lambda: checks.r2_compare(protocols, enrolment, f["results_report"]),
        "R3": lambda: checks.r3_outcome_changes(protocols, f["dataset_version"]),
        "R4": lambda: checks.r4_amendments(
            protocols, f["dataset_version"], f["trial_event"], f["erasure"]
        ),
        "R5": lambda: checks.r5_results_due(f["trial"], f["results_report"], params.as_of),
        "R6": lambda: checks.r6_consent(enrolment, consent, f["consent_record"], protocols),
        "R7": lambda: checks.r7_site_activation(enrolment, f["trial_site"]),
        "R8": lambda: checks.r8_chain(f.refs, f.payloads, f["erasure"], f.uses),
        "R9": lambda: r9_contemporaneous(entries, CONTEMPORANEOUS_DAYS),
    }
    results: dict[str, pd.DataFrame] = {}
    for rule, check in run.items():
        step(RULES[rule][0])
        results[rule] = check()
    charts = rule_charts(results, enrolment, consent)
    metrics = {
        "R4": [Metric("R4 amendments", str(results["R4"]["item"].nunique()))],
        "R8": [
            Metric("R8 projection rows checked", str(len(f.refs))),
            Metric("R8 payloads checked", str(len(f.payloads))),
        ],
    }
    lags = lag_distribution(entries, CONTEMPORANEOUS_DAYS)
    metrics["R9"] = [Metric("R9 tolerance (days)", str(CONTEMPORANEOUS_DAYS))]
    for kind in ("consent", "enrolment"):
        mine = entries.loc[entries["kind"] == kind, "lag_days"].dropna().astype(float)
        if len(mine):
            median, p95 = mine.median(), mine.quantile(0.95)
            label = f"R9 {kind} lag, median / p95 (days)"
            metrics["R9"].append(Metric(label, f"{median:g} / {p95:g}"))
    lag_table = Table(
        "r9_lags",
        "R9 · Days from claimed date to logging, per trial and kind",
        lags,
        f"late: logged more than {CONTEMPORANEOUS_DAYS} days after the date the entry claims",
    )
    sections = [
        _section(
            rule,
            frame,
            metrics.get(rule, []),
            charts.get(rule, []),
            (lag_table,) if rule == "R9" else (),
        )
        for rule, frame in results.items()
    ]
    title = f"Trial integrity checks: {params.trial}" if params.trial else "Trial integrity checks"
    return Report("trial-checks", title, params, sections)
