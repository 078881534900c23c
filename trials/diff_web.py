"""Amendment diffs over HTTP: JSON, a change-trail CSV, a page, and the trial page's summary."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context
from markupsafe import Markup
from sqlalchemy import Connection

from provenance.access.errors import Forbidden
from provenance.access.rules import Facts, Rule
from provenance.access.web import current_principal
from provenance.errors import Error
from provenance.log.store.engine import read_connection
from provenance.reports.render import csv_cell
from provenance.web.api import json_response
from provenance.web.context import service
from provenance.web.openapi import openapi
from trials import dataset_changes
from trials.access import PAYLOAD_READERS, TRIAL_READERS
from trials.dataset_changes import Pair
from trials.dataset_diff import Change, DatasetDiff

bp = Blueprint("dataset_diff", __name__, template_folder="templates")

#: Changes of each kind (cells, rows added, rows removed) an answer lists when `limit` does not say.
LIMIT = 500
MAX_LIMIT = 10_000
#: The trial page counts an amendment's changes only if both versions are at most this many cells
#: (each count is remembered); a larger dataset's amendment shows a link to its change trail.
PAGE_SUMMARY_CELLS = 2_000_000
#: A change trail CSV is sent in pieces of about this many characters.
CHUNK = 1 << 16

QUERY: dict[str, dict[str, Any]] = {
    "from": {
        "description": "the earlier version: its number (1) or its entry (entry:812)",
        "schema": {"type": "string"},
    },
    "to": {
        "description": "the later version (default: the latest, or with no `from` each "
        "amendment against the version before it)",
        "schema": {"type": "string"},
    },
    "key": {
        "description": "columns that identify a row, comma-separated (default: the domain's "
        "natural key)",
        "schema": {"type": "string"},
    },
    "digits": {
        "description": "compare numbers rounded to this many significant digits",
        "schema": {"type": "integer", "minimum": 1, "maximum": 17},
    },
    "limit": {
        "description": f"changes of each kind listed (default {LIMIT}; counts are always whole)",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
}
CSV_QUERY = {k: v for k, v in QUERY.items() if k != "limit"}


def _readable(conn: Connection, pair: Pair) -> None:
    """Both payloads under the payload rule: the diff shows their cells."""
    who = current_principal()
    for version in (pair.before, pair.after):
        facts = Facts({"commitment": version["payload"]}, service().registry, lambda: conn)
        if not PAYLOAD_READERS.allows(who, facts):
            raise Forbidden(f"the payload of version {version['version']} is not yours to read")


@dataclass(frozen=True)
class _Asked:
    """The pairs of versions a request asks for, checked, and how to compare them."""

    pairs: list[Pair]
    key: tuple[str, ...] | None
    digits: int | None


def _asked(trial_id: str, dataset: str) -> _Asked:
    """Every pair asked for, each refused now (4xx) if it could not be compared."""
    args = request.args
    key = dataset_changes.key_columns(args.get("key"))
    digits = dataset_changes.bounded(args.get("digits"), "digits", 1, 17, None)
    with read_connection(service().engine) as conn:
        versions = dataset_changes.versions_of(conn, trial_id, dataset)
        pairs = dataset_changes.pairs(versions, args.get("from"), args.get("to"))
        for pair in pairs:
            _readable(conn, pair)
            dataset_changes.ready(conn, pair)
            if key is not None:
                dataset_changes.check_key(conn, pair, key)
    return _Asked(pairs, key, digits)


def _each(asked: _Asked) -> Iterator[tuple[Pair, DatasetDiff]]:
    """The diffs one at a time: only one pair's rows are held at once."""
    for pair in asked.pairs:
        with read_connection(service().engine) as conn:
            found = dataset_changes.compare(conn, pair, asked.key, asked.digits)
        yield pair, found
        del found


def _listed(asked: _Asked, limit: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Each pair's versions and its diff's first `limit` changes of each kind."""
    for pair, diff in _each(asked):
        yield pair.versions(), diff.as_json(limit)
        del diff  # before the next pair's rows are read


def _limit() -> int:
    limit = dataset_changes.bounded(request.args.get("limit"), "limit", 1, MAX_LIMIT, LIMIT)
    assert limit is not None
    return limit


@bp.get("/api/v1/trials/<trial_id>/datasets/<dataset>/diff")
@openapi(query=QUERY)
def dataset_diff(trial_id: str, dataset: str) -> Response:
    """What each amendment changed: rows added and removed, cells changed (key, column, old,
    new) and columns added or removed, keyed by the domain's natural key."""
    limit = _limit()
    body = [{**versions, **found} for versions, found in _listed(_asked(trial_id, dataset), limit)]
    return json_response({"trial": trial_id, "dataset": dataset, "diffs": body})


CSV_HEADER = (
    "dataset",
    "from_version",
    "to_version",
    "to_entry",
    "change",
    "from_row",
    "to_row",
    "key",
    "subject",
    "column",
    "old",
    "new",
)
_KIND = {"cell": "cell changed", "added": "row added", "removed": "row removed"}


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _csv_row(dataset: str, pair: Pair, change: Change) -> Sequence[object]:
    old, new = change.old, change.new
    if change.kind == "added":
        new = _json(change.row)
    elif change.kind == "removed":
        old = _json(change.row)
    return (
        dataset,
        pair.before["version"],
        pair.after["version"],
        pair.after["submitted_index"],
        _KIND[change.kind],
        change.from_row,
        change.to_row,
        _json(change.key),
        change.subject,
        change.column,
        old,
        new,
    )


def _csv_chunks(dataset: str, asked: _Asked) -> Iterator[str]:
    """The change trail a pair at a time, in chunks; every problem a request can cause was
    answered before the first chunk (`_asked`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(name) for name in CSV_HEADER])
    for pair, diff in _each(asked):
        for change in diff.changes():
            writer.writerow([csv_cell(v) for v in _csv_row(dataset, pair, change)])
            if out.tell() > CHUNK:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        del diff  # before the next pair's rows are read
    yield out.getvalue()


@bp.get("/api/v1/trials/<trial_id>/datasets/<dataset>/diff.csv")
@openapi(query=CSV_QUERY)
def dataset_diff_csv(trial_id: str, dataset: str) -> Response:
    """The change trail as CSV: one row per changed cell and per row added or removed (its
    cells as JSON), every change, text cells safe from spreadsheet formulas."""
    chunks = _csv_chunks(dataset, _asked(trial_id, dataset))
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_filename(trial_id, dataset)}"'},
    )


def _filename(trial_id: str, dataset: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{trial_id}-{dataset}")
    return f"{safe}-changes.csv"


@bp.get("/trials/<trial_id>/datasets/<dataset>/diff")
@openapi(query=QUERY)
def dataset_diff_page(trial_id: str, dataset: str) -> str:
    """The change trail of a dataset's amendments, as a page."""
    shown = list(_listed(_asked(trial_id, dataset), _limit()))
    return render_template(
        "dataset_diff.html",
        trial_id=trial_id,
        dataset=dataset,
        diffs=shown,
        query=request.query_string.decode("ascii", "replace"),
    )


@bp.app_template_global("dataset_changes")
def dataset_changes_summary(trial_id: str, datasets: Sequence[dict[str, Any]]) -> Markup:
    """What each amendment changed, counted, for the trial page (which its rule already
    admitted the reader to); a version that cannot be compared says why."""
    items = []
    with read_connection(service().engine) as conn:
        for after in datasets:
            earlier = [
                d
                for d in datasets
                if d["dataset"] == after["dataset"] and d["version"] < after["version"]
            ]
            if not earlier:
                continue
            pair = Pair(earlier[-1], after)
            item: dict[str, Any] = {"pair": pair.versions(), "dataset": after["dataset"]}
            cells = max(int(d["row_count"]) * int(d["column_count"]) for d in (pair.before, after))
            try:
                _readable(conn, pair)
                if cells <= PAGE_SUMMARY_CELLS:
                    item["summary"] = dataset_changes.summary(conn, pair)
            except Error as exc:
                item["problem"] = exc.detail
            items.append(item)
    if not items:
        return Markup("")
    return Markup(render_template("dataset_changes.html", trial_id=trial_id, items=items))


#: Those who read the trial's dataset history read what its amendments changed; each diff
#: also checks the payload rule for both versions.
ACCESS: dict[str, Rule] = {
    "dataset_diff.dataset_diff": TRIAL_READERS,
    "dataset_diff.dataset_diff_csv": TRIAL_READERS,
    "dataset_diff.dataset_diff_page": TRIAL_READERS,
}
