"""The versions of a trial's dataset an amendment diff compares, read from their payloads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from provenance.errors import BadParameter, Gone, NotFound, TooLarge
from provenance.log.store.engine import query
from provenance.recent import Recent
from trials import queries
from trials.dataset_diff import DatasetDiff, Version
from trials.dataset_files import _table  # the streaming reader `summarise` uses
from trials.dataset_sources import Source

#: `from` and `to` name a version (`2`) or the log entry that submitted it (`entry:812`).
_VERSION = re.compile(r"v?([0-9]{1,9})")
_ENTRY = re.compile(r"entry:([0-9]{1,18})")
_NUMBER = re.compile(r"[0-9]{1,9}")
#: Amendment summaries kept per process: payloads never change, so neither do their diffs.
SUMMARY_CACHE = 256
#: A diff holds both versions' rows (about 600 bytes a row of 20 columns): larger datasets are
#: refused rather than let one request take gigabytes.
MAX_DIFF_CELLS = 10_000_000


@dataclass(frozen=True)
class Pair:
    """Two versions of one dataset, as `queries.datasets` lists them."""

    before: dict[str, Any]
    after: dict[str, Any]

    def versions(self) -> dict[str, Any]:
        return {"from": _described(self.before), "to": _described(self.after)}


def _described(version: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": version["version"],
        "entry": version["submitted_index"],
        "submitted_at": version["submitted_at"],
        "printed_name": version["printed_name"],
        "meaning": version["meaning"],
        "reason": version["reason"],
        "payload": version["payload"],
    }


def versions_of(conn: Connection, trial_id: str, dataset: str) -> list[dict[str, Any]]:
    queries.trial(conn, trial_id)  # 404 for an unknown trial
    found = [d for d in queries.datasets(conn, trial_id) if d["dataset"] == dataset]
    if not found:
        raise NotFound(f"no dataset {dataset} in trial {trial_id}")
    return found


def _pick(versions: Sequence[dict[str, Any]], name: str, value: str) -> dict[str, Any]:
    text = value.strip()
    if match := _VERSION.fullmatch(text):
        found = [v for v in versions if v["version"] == int(match.group(1))]
    elif match := _ENTRY.fullmatch(text):
        found = [v for v in versions if v["submitted_index"] == int(match.group(1))]
    else:
        raise BadParameter(
            f"{name} is a version number (2) or the entry that submitted it (entry:812)",
            parameter=name,
        )
    if not found:
        raise NotFound(f"the dataset has no version {text}", parameter=name)
    return found[0]


def pairs(versions: Sequence[dict[str, Any]], start: str | None, end: str | None) -> list[Pair]:
    """The versions asked for: `start` against `end` (the latest if omitted), `end` against
    its predecessor, or, with neither, each amendment against the version before it."""
    if start is None and end is None:
        return [Pair(a, b) for a, b in zip(versions, versions[1:], strict=False)]
    if start is None:
        assert end is not None
        after = _pick(versions, "to", end)
        earlier = [v for v in versions if v["version"] < after["version"]]
        if not earlier:
            raise BadParameter(f"version {after['version']} is the first", parameter="to")
        return [Pair(earlier[-1], after)]
    before = _pick(versions, "from", start)
    return [Pair(before, versions[-1] if end is None else _pick(versions, "to", end))]


def key_columns(value: str | None) -> tuple[str, ...] | None:
    """The columns a caller keys rows by (`key=USUBJID,AESEQ`); None: the domain's own."""
    if value is None or not value.strip():
        return None
    columns = tuple(c.strip().upper() for c in value.split(","))
    if "" in columns or len(set(columns)) != len(columns) or len(columns) > 20:
        raise BadParameter(
            "key is up to 20 distinct column names, comma-separated", parameter="key"
        )
    return columns


def bounded(value: str | None, name: str, low: int, high: int, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    if not _NUMBER.fullmatch(value) or not low <= int(value) <= high:
        raise BadParameter(f"{name} is a whole number from {low} to {high}", parameter=name)
    return int(value)


def _payload(conn: Connection, version: dict[str, Any]) -> Source:
    row = queries.payload_row(conn, version["payload"])
    if row is None:
        raise NotFound(f"version {version['version']}'s payload is not stored")
    if row["data"] is None:
        if row["erased_index"] is not None:
            raise Gone(
                f"version {version['version']}'s payload was erased at entry "
                f"{row['erased_index']}: {row['reason']}",
                erased_index=row["erased_index"],
                erased_at=row["erased_at"],
                reason=row["reason"],
                receipt=f"/log/receipt/{row['erased_index']}",
            )
        raise NotFound(f"version {version['version']}'s payload is not stored")
    return Source.of_bytes(bytes(row["data"]))


def ready(conn: Connection, pair: Pair) -> None:
    """Refuse a pair that cannot be compared (too large, a payload erased or missing) before
    any of its bytes are read."""
    for version in (pair.before, pair.after):
        cells = int(version["row_count"]) * int(version["column_count"])
        if cells > MAX_DIFF_CELLS:
            raise TooLarge(
                f"version {version['version']} has {cells} cells: diffs are made of datasets of "
                f"at most {MAX_DIFF_CELLS} cells",
                limit=MAX_DIFF_CELLS,
            )
        stored = "SELECT 1 FROM trial_payload WHERE commitment = ? AND data IS NOT NULL"
        if not query(conn, stored, (version["payload"],)):
            _payload(conn, version)  # raises what is missing


def check_key(conn: Connection, pair: Pair, key: Sequence[str]) -> None:
    """A requested key is in both versions: their columns are read, not their rows."""
    for version in (pair.before, pair.after):
        _, columns, rows = _table(_payload(conn, version), version["format"], loaded=False)
        if hasattr(rows, "close"):
            rows.close()
        missing = [c for c in key if c not in columns]
        if missing:
            raise BadParameter(
                f"key columns not in version {version['version']}: {', '.join(missing)}",
                parameter="key",
            )


def compare(
    conn: Connection,
    pair: Pair,
    key: Sequence[str] | None = None,
    digits: int | None = None,
) -> DatasetDiff:
    """The diff of two versions, each read from its stored payload in its declared format."""
    ready(conn, pair)
    loaded = []
    for version in (pair.before, pair.after):
        _, columns, rows = _table(_payload(conn, version), version["format"], loaded=False)
        loaded.append((columns, rows))
    (old_columns, old_rows), (new_columns, new_rows) = loaded
    try:
        return DatasetDiff(
            pair.after["domain"],
            Version(old_columns, old_rows),
            Version(new_columns, new_rows),
            key=key,
            digits=digits,
        )
    except ValueError as exc:
        raise BadParameter(str(exc), parameter="key") from exc


_summaries: Recent[tuple[str, str], dict[str, Any]] = Recent(SUMMARY_CACHE)


def summary(conn: Connection, pair: Pair) -> dict[str, Any]:
    """The counts of a diff on the domain's own key, remembered by the two payloads (a payload
    is immutable; an erased one is refused before the cache is asked)."""
    ready(conn, pair)
    cache_key = (pair.before["payload"], pair.after["payload"])
    found = _summaries.get(cache_key)
    if found is None:
        found = compare(conn, pair).summary()
        _summaries.put(cache_key, found)
    return found
