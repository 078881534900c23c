"""Reading dataset files (CSV, SAS XPT, CDISC Dataset-JSON) into the canonical `Dataset` form."""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import datetime, timedelta
from typing import Any

import pyreadstat

from trials.dataset_json import parse_dataset_json
from trials.datasets import (
    Cell,
    Dataset,
    check_size,
    column_names,
    exact_number,
    number_cell,
    row_limit,
    text_cell,
    transpose,
)
from trials.errors import BadDataset

FORMATS = ("csv", "xpt", "dataset-json")

_EXTENSIONS = {".csv": "csv", ".xpt": "xpt", ".json": "dataset-json"}
# Both XPORT v5 and v8 files open with this 80-byte library header record.
_XPT_MAGIC = b"HEADER RECORD*******LIB"
_LEADING_ZERO = re.compile(r"[+-]?0\d")
# The SAS format name without width and decimals ("YYMMDD10." -> "YYMMDD"), as readstat parses it.
_SAS_FORMAT = re.compile(r"([A-Z][A-Z0-9]*[A-Z])\d*\.?\d*")
_SAS_DATE = re.compile(r"(?:DDMMYY|MMDDYY|YYMMDD)[BCDNPS]?|DATE|WEEKDAT[EX]|(?:E|B|IS)8601DA")
_SAS_DATETIME = re.compile(r"DATETIME|DATEAMPM|MDYAMPM|(?:E|B|IS)8601DT|B8601DN")
_SAS_TIME = re.compile(r"TIME|HHMM|TOD|TIMEAMPM|(?:E|B|IS)8601TM")
_SAS_EPOCH = datetime(1960, 1, 1)


def detect_format(filename: str, data: bytes) -> str:
    """The format named by the extension, cross-checked against what the bytes look like."""
    if not data:
        raise BadDataset("dataset file is empty")
    dot = filename.rfind(".")
    by_name = _EXTENSIONS.get(filename[dot:].lower()) if dot >= 0 else None
    by_content = _sniff(data)
    if by_name and by_content and by_name != by_content:
        raise BadDataset(
            f"file name says {by_name} but the content looks like {by_content}",
            filename=filename,
        )
    found = by_name or by_content
    if found is None:
        raise BadDataset(f"cannot tell the dataset format of {filename!r}", formats=list(FORMATS))
    return found


def _sniff(data: bytes) -> str | None:
    if data.startswith(_XPT_MAGIC):
        return "xpt"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "dataset-json"
    first_line = head.split(b"\n", 1)[0]
    if b"," in first_line and b"\x00" not in head:
        return "csv"
    return None


def parse_dataset(data: bytes, fmt: str) -> Dataset:
    if not data:
        raise BadDataset("dataset file is empty")
    if fmt == "csv":
        return _parse_csv(data)
    if fmt == "xpt":
        return _parse_xpt(data)
    if fmt == "dataset-json":
        return parse_dataset_json(data)
    raise BadDataset(f"unknown dataset format {fmt!r}", formats=list(FORMATS))


# --- CSV ---------------------------------------------------------------------------------------


def _parse_csv(data: bytes) -> Dataset:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadDataset(f"CSV is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    if "\x00" in text:
        raise BadDataset("CSV contains a NUL character")
    records: list[list[str]] = []
    count = 0
    try:
        for record in csv.reader(io.StringIO(text, newline=""), strict=True):
            count += len(record) if records else 0
            check_size(count, 1)  # before the whole file is held as Python strings
            records.append(record)
    except csv.Error as exc:
        raise BadDataset(f"CSV is malformed: {exc}") from exc
    while records and not records[-1]:
        records.pop()  # blank lines after the last row are not rows
    if not records:
        raise BadDataset("CSV has no header row")
    columns = column_names(records[0])
    body = records[1:]
    check_size(len(columns), len(body))
    for line, record in enumerate(body, start=2):
        if len(record) != len(columns) and not (record == [] and len(columns) == 1):
            raise BadDataset(
                f"CSV row {line} has {len(record)} fields, the header has {len(columns)}",
                row=line,
            )
    cells = [[text_cell(r[i]) if r else None for r in body] for i in range(len(columns))]
    return Dataset("csv", None, columns, transpose([_csv_column(c) for c in cells], len(body)))


def _csv_column(cells: list[Cell]) -> list[Cell]:
    """Numeric only if every value reads back unchanged, so "007" stays an identifier."""
    numbers: list[Cell] = []
    for cell in cells:
        if cell is None:
            numbers.append(None)
            continue
        canonical = exact_number(cell)
        if canonical is None or _LEADING_ZERO.match(cell):
            return cells
        numbers.append(canonical)
    return numbers


# --- SAS XPORT ---------------------------------------------------------------------------------


def _parse_xpt(data: bytes) -> Dataset:
    if not data.startswith(_XPT_MAGIC):
        raise BadDataset("not a SAS transport (XPT) file: library header record missing")
    try:
        # XPT headers carry no row count, so read one row past the cell limit and no further.
        header, _ = pyreadstat.read_xport(io.BytesIO(data), metadataonly=True)
        limit = row_limit(len(header.columns))
        # Raw numbers: dates are converted below from the SAS epoch, independent of pandas.
        frame, meta = pyreadstat.read_xport(
            io.BytesIO(data), disable_datetime_conversion=True, row_limit=limit
        )
    except Exception as exc:  # readstat reports corrupt files through several exception types
        raise BadDataset(f"cannot read SAS transport file: {exc}") from exc
    columns = column_names(str(name) for name in frame.columns)
    check_size(len(columns), len(frame))
    formats: dict[str, str | None] = dict(meta.original_variable_types or {})
    kinds: dict[str, str] = dict(meta.readstat_variable_types or {})
    converted = [
        _xpt_column(frame[name].tolist(), kinds.get(name, ""), formats.get(name))
        for name in frame.columns
    ]
    name = str(meta.table_name or "").strip() or None
    return Dataset("xpt", name, columns, transpose(converted, len(frame)))


def _xpt_column(values: list[Any], kind: str, sas_format: str | None) -> list[Cell]:
    if kind == "string":
        return [text_cell(v) if isinstance(v, str) else None for v in values]
    match = _SAS_FORMAT.fullmatch(sas_format.upper()) if sas_format else None
    family = match.group(1) if match else ""
    out: list[Cell] = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(None)  # includes the special missing values .A to .Z and ._
        else:
            out.append(_sas_value(float(value), family))
    return out


def _sas_value(value: float, family: str) -> str:
    try:
        if _SAS_DATE.fullmatch(family):  # days since 1960-01-01
            return (_SAS_EPOCH + timedelta(days=math.floor(value))).date().isoformat()
        if family == "DTDATE":  # a datetime (seconds) displayed as its date
            return (_SAS_EPOCH + timedelta(seconds=value)).date().isoformat()
        if _SAS_DATETIME.fullmatch(family):
            return (_SAS_EPOCH + timedelta(seconds=value)).isoformat()
        if _SAS_TIME.fullmatch(family):
            seconds = int(value)
            return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    except (OverflowError, ValueError) as exc:
        raise BadDataset(f"SAS {family} value {value!r} is out of range") from exc
    return number_cell(value)
