"""A report as files: one self-contained HTML page, report.json, and CSV/JSON/PNG per part."""

from __future__ import annotations

import base64
import csv
import functools
import importlib.resources
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pandas as pd
from matplotlib.figure import Figure

from provenance.reports.formatting import cell, header
from provenance.reports.model import Chart, Report, Table

#: Rows a table's page holds (all of them are printed); the PDF, CSV and JSON hold every row.
INLINE_ROWS = 20_000
#: What an empty table says in place of its rows.
NO_ROWS = "No rows: nothing was found for this table."

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("provenance.reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def chart_png(chart: Chart) -> bytes:
    # Figure (not pyplot) keeps no global state, so threads of a web worker can draw at once.
    figure = Figure(figsize=(7.5, 3.8), dpi=100, layout="constrained")
    chart.draw(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


#: OWASP's rule for CSV injection: a spreadsheet may run a cell that starts with one of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A value as a CSV cell no spreadsheet runs as a formula: text that starts like one gets a
    leading single quote. Only text is changed, so a number (-5 too) stays a number."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A header and rows as CSV, each cell through csv_cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(name) for name in header])
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return out.getvalue()


def _holds_text(column: pd.Series) -> bool:
    """Whether a column may hold text; numeric, boolean and date columns never do."""
    dtype = column.dtype
    return (
        pd.api.types.is_object_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def table_csv(table: Table) -> str:
    """The table as CSV; text cells through csv_cell, numeric columns exactly as they are."""
    frame = table.frame
    safe = pd.DataFrame(
        {
            position: column.map(csv_cell) if _holds_text(column) else column
            for position, (_, column) in enumerate(frame.items())
        },
        index=frame.index,
    )
    safe.columns = pd.Index([csv_cell(str(name)) for name in frame.columns], dtype=object)
    return safe.to_csv(index=False, lineterminator="\n")


def table_records(table: Table) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: missing values become null, numpy scalars plain numbers."""
    text = table.frame.to_json(orient="records", date_format="iso", force_ascii=False)
    records: list[dict[str, Any]] = json.loads(text)
    return records


def report_json(report: Report, *, rows: bool = False) -> dict[str, Any]:
    """The report's figures and an index of its tables and charts (with every row if `rows`)."""

    def table_entry(table: Table) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": table.name,
            "title": table.title,
            "note": table.note,
            "rows": len(table.frame),
            "columns": [str(c) for c in table.frame.columns],
            "csv": f"tables/{table.name}.csv",
            "json": f"tables/{table.name}.json",
        }
        if rows:
            entry["data"] = table_records(table)
        return entry

    return {
        "report": report.name,
        "title": report.title,
        "generated_at": report.generated_at,
        "log_size": report.log_size,
        "params": report.params.to_json(),
        "sections": [
            {
                "title": section.title,
                "text": section.text,
                "metrics": [
                    {"label": m.label, "value": m.value, "flag": m.flag} for m in section.metrics
                ],
                "tables": [table_entry(t) for t in section.tables],
                "charts": [
                    {"name": c.name, "title": c.title, "alt": c.alt, "png": f"charts/{c.name}.png"}
                    for c in section.charts
                ],
            }
            for section in report.sections
        ],
    }


def headers(table: Table) -> list[str]:
    """The table's column headers in words (its own labels first)."""
    return [header(column, table.labels) for column in table.frame.columns]


def numeric_columns(table: Table) -> list[bool]:
    """Which columns hold numbers (set right-aligned), booleans aside."""
    return [
        pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)
        for _, column in table.frame.items()
    ]


def table_rows(table: Table, limit: int | None = None) -> Iterator[list[str]]:
    """The table's rows as they read: Yes/No, separators, p-values as powers of ten."""
    frame = table.frame if limit is None else table.frame.head(limit)
    columns = [str(c) for c in frame.columns]
    for row in frame.itertuples(index=False):
        yield [cell(value, column) for value, column in zip(row, columns, strict=True)]


@functools.cache
def report_stylesheet() -> str:
    """The report page's CSS, one file for the served page and the written one."""
    return (importlib.resources.files("provenance.reports") / "templates" / "report.css").read_text(
        encoding="utf-8"
    )


def report_html(
    report: Report,
    pngs: dict[str, bytes],
    link: Callable[[str], str] = lambda path: path,
    stylesheet: str | None = None,
    *,
    pdf: bool = True,
) -> str:
    """The report page; charts are embedded as data URIs so the page stands alone. Its style is
    linked from `stylesheet` when given (a page served under a policy that refuses inline style),
    else embedded. It links report.pdf when `pdf` (served pages; a written folder has none)."""
    shown = {table.name: list(table_rows(table, INLINE_ROWS)) for table in report.tables()}
    images = {name: base64.b64encode(data).decode() for name, data in pngs.items()}
    return _TEMPLATES.get_template("report.html").render(
        report=report,
        shown=shown,
        headers={table.name: headers(table) for table in report.tables()},
        numeric={table.name: numeric_columns(table) for table in report.tables()},
        images=images,
        link=link,
        inline_rows=INLINE_ROWS,
        no_rows=NO_ROWS,
        pdf=pdf,
        params=report.params.to_json(),
        stylesheet=stylesheet,
        inline_style=None if stylesheet else markupsafe.Markup(report_stylesheet()),
    )


def write_report(report: Report, out: Path) -> list[Path]:
    """Write index.html, report.json, tables/*.csv|json and charts/*.png under `out`."""
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "charts").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(path: Path, data: str | bytes) -> None:
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        written.append(path)

    pngs = {chart.name: chart_png(chart) for chart in report.charts()}
    for name, data in pngs.items():
        put(out / "charts" / f"{name}.png", data)
    for table in report.tables():
        put(out / "tables" / f"{table.name}.csv", table_csv(table))
        records = table_records(table)
        put(out / "tables" / f"{table.name}.json", json.dumps(records, indent=1) + "\n")
    put(out / "report.json", json.dumps(report_json(report), indent=2) + "\n")
    put(out / "index.html", report_html(report, pngs, pdf=False))  # no report.pdf beside it
    return written
