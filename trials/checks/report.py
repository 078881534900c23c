"""The trial-checks report: R1–R8 over one snapshot of the trial projection, a section each."""

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
RULES = {
    "R1": (
        "R1 · Protocol before first enrolment; registration within 21 days",
        "Protocol v1 must be on the log before the first enrolment entry, so outcomes cannot be "
        "chosen once subjects are in. ICMJE requires registration before the first enrolment; "
        "FDAAA 801 allows at most 21 days after it (dates: the log's registration time against "
        "the first enrolment date).",
    ),
    "R2": (
        "R2 · Pre-specified vs reported outcomes (COMPare)",
        "Outcomes pre-specified in the protocol version in force at the first enrolment, "
        "against each outcome's latest reported result, in the COMPare categories: correct, not "
        "reported, added, switched (e.g. secondary reported as primary) and time frame changed. "
        "`amended_in` names a later protocol version that made the reported form (see R3).",
    ),
    "R3": (
        "R3 · Hidden outcome changes across protocol versions",
        "Outcome changes between consecutive protocol versions are disclosed when the version's "
        "reason names the outcome (id or title) or outcomes/endpoints; otherwise hidden. "
        "Changes logged after the first dataset submission were made once data could be seen.",
    ),
    "R4": (
        "R4 · Amendments: reasons and database locks",
        "Protocol amendments and dataset amendments must say why (21 CFR 11.10(e), ICH E6(R3) "
        "ALCOA+); amendments after the database was first locked need review.",
    ),
    "R5": (
        "R5 · Results within 12 months of primary completion",
        "FDAAA 801 (42 CFR 11.44): results are due no later than one year after the primary "
        "completion date; with none reported, the report's as-of date is the reference.",
    ),
    "R6": (
        "R6 · Informed consent",
        "ICH E6(R3): consent precedes enrolment and is given to the protocol version in force "
        "(checked at the consent's log entry, as the statement rule does); after a version that "
        "requires re-consent, subjects still on an older version are listed.",
    ),
    "R7": (
        "R7 · Enrolment and site activation",
        "No subject is enrolled at a site before its activation date, or at a site the trial "
        "did not register.",
    ),
    "R8": (
        "R8 · Chain integrity",
        "Every trial projection row points at a log entry of a kind that makes such rows, signed "
        "by the key its audit trail names; stored payloads still match their salted commitment, "
        "SHA-256 and size; payloads without bytes have an erasure record.",
    ),
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
        record["log_kind"], record["signer"], _ = facts.get(record["idx"], (None, None, None))
    columns = ["table", "key", "trial_id", "idx", "log_kind", "signer", "key_id"]
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
    "R3": ("disclosure", {"hidden": "hidden changes", "disclosed": "disclosed changes"}),
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
        },
    ),
}
CALM = frozenset({"correct", "disclosed"})


def _section(rule: str, frame: pd.DataFrame, metrics: list[Metric], charts: list[Chart]) -> Section:
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
    return Section(title, text, [head, *counted, *metrics], [table], charts)


@report_kind(
    "trial-checks",
    "Trial integrity checks",
    "R1–R8: registration and protocol timing, COMPare outcome reporting, hidden outcome "
    "changes, amendments, late results, consent, site activation and chain integrity.",
    steps=9,
    also_for=trial_sponsor_report,
)
def trial_checks_report(source: Source, params: Params, step: Step) -> Report:
    step("loading the trial projection")
    f = load(source, params.trial)
    protocols, enrolment = f["protocol_version"], f["enrolment"]
    consent = checks.consent_given(f["consent_record"])
    run: dict[str, Callable[[], pd.DataFrame]] = {
        "R1": lambda: checks.r1_registration(f["trial"], protocols, enrolment),
        "R2": lambda: checks.r2_compare(protocols, enrolment, f["results_report"]),
        "R3": lambda: checks.r3_outcome_changes(protocols, f["dataset_version"]),
        "R4": lambda: checks.r4_amendments(protocols, f["dataset_version"], f["trial_event"]),
        "R5": lambda: checks.r5_results_due(f["trial"], f["results_report"], params.as_of),
        "R6": lambda: checks.r6_consent(enrolment, consent, f["consent_record"], protocols),
        "R7": lambda: checks.r7_site_activation(enrolment, f["trial_site"]),
        "R8": lambda: checks.r8_chain(f.refs, f.payloads, f["erasure"], f.uses),
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
    sections = [
        _section(rule, frame, metrics.get(rule, []), charts.get(rule, []))
        for rule, frame in results.items()
    ]
    title = f"Trial integrity checks: {params.trial}" if params.trial else "Trial integrity checks"
    return Report("trial-checks", title, params, sections)
