"""Clinical-trial dataset files (CSV, SAS XPT, CDISC Dataset-JSON) in a canonical, hashable form."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation
from typing import Any

import pyreadstat

from provenance.errors import BadJSON
from provenance.log.canonical import canonical_bytes, parse_json, sha256_hex
from trials.errors import BadDataset

FORMATS = ("csv", "xpt", "dataset-json")

#: Upper bound on columns x rows, so one upload cannot exhaust memory while being canonicalised.
MAX_CELLS = 2_000_000

_EXTENSIONS = {".csv": "csv", ".xpt": "xpt", ".json": "dataset-json"}
# Both XPORT v5 and v8 files open with this 80-byte library header record.
_XPT_MAGIC = b"HEADER RECORD*******LIB"
# A plain decimal literal; float() alone would also accept "inf", "nan" and "1_000".
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_LEADING_ZERO = re.compile(r"[+-]?0\d")
# The SAS format name without width and decimals ("YYMMDD10." -> "YYMMDD"), as readstat parses it.
_SAS_FORMAT = re.compile(r"([A-Z][A-Z0-9]*[A-Z])\d*\.?\d*")
_SAS_DATE = re.compile(r"(?:DDMMYY|MMDDYY|YYMMDD)[BCDNPS]?|DATE|WEEKDAT[EX]|(?:E|B|IS)8601DA")
_SAS_DATETIME = re.compile(r"DATETIME|DATEAMPM|MDYAMPM|(?:E|B|IS)8601DT|B8601DN")
_SAS_TIME = re.compile(r"TIME|HHMM|TOD|TIMEAMPM|(?:E|B|IS)8601TM")
_SAS_EPOCH = datetime(1960, 1, 1)
_JSON_NUMBER_TYPES = frozenset({"integer", "decimal", "float", "double"})
_JSON_TYPES = _JSON_NUMBER_TYPES | {"string", "boolean", "date", "datetime", "time", "URI"}

Cell = str | None


@dataclass(frozen=True)
class Dataset:
    format: str
    name: str | None
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def column_count(self) -> int:
        return len(self.columns)

    def canonical(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "rows": [list(row) for row in self.rows]}


def raw_hash(data: bytes) -> str:
    return sha256_hex(data)


def content_hash(dataset: Dataset) -> str:
    return sha256_hex(canonical_bytes(dataset.canonical()))


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
        return _parse_dataset_json(data)
    raise BadDataset(f"unknown dataset format {fmt!r}", formats=list(FORMATS))


# --- canonical cells ---------------------------------------------------------------------------


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise BadDataset(f"number {value!r} is not finite")
    if value.is_integer():
        return str(int(value))  # also turns -0.0 into "0"
    return repr(value)


def _decimal(text: str) -> Decimal | None:
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # an exponent beyond what Decimal can hold
        return None


def _exact_number(text: str) -> str | None:
    """Canonical form of a decimal literal; None if the double it denotes is a different value."""
    exact = _decimal(text)
    if exact is None or not math.isfinite(float(exact)):
        return None
    canonical = _number(float(exact))
    return canonical if Decimal(canonical) == exact else None


def _string(value: str) -> Cell:
    if "\x00" in value:
        raise BadDataset("text value contains a NUL character")
    # XPT pads character values with spaces and cannot tell blank from missing, so neither can we.
    value = value.rstrip(" ")
    return value or None


def _columns(names: Iterable[str]) -> tuple[str, ...]:
    columns = tuple(name.strip().upper() for name in names)
    if not columns:
        raise BadDataset("dataset has no columns")
    if "" in columns:
        raise BadDataset("a column has an empty name", column=columns.index("") + 1)
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise BadDataset(f"duplicate column name {column!r}", column=column)
        seen.add(column)
    return columns


def _check_size(columns: int, rows: int) -> None:
    if columns * rows > MAX_CELLS:
        raise BadDataset(
            f"dataset has {columns * rows} cells, more than the limit of {MAX_CELLS}",
            limit=MAX_CELLS,
        )


def _transpose(columns: Sequence[Sequence[Cell]], count: int) -> tuple[tuple[Cell, ...], ...]:
    return tuple(tuple(column[i] for column in columns) for i in range(count))


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
            _check_size(count, 1)  # before the whole file is held as Python strings
            records.append(record)
    except csv.Error as exc:
        raise BadDataset(f"CSV is malformed: {exc}") from exc
    while records and not records[-1]:
        records.pop()  # blank lines after the last row are not rows
    if not records:
        raise BadDataset("CSV has no header row")
    columns = _columns(records[0])
    body = records[1:]
    _check_size(len(columns), len(body))
    for line, record in enumerate(body, start=2):
        if len(record) != len(columns) and not (record == [] and len(columns) == 1):
            raise BadDataset(
                f"CSV row {line} has {len(record)} fields, the header has {len(columns)}",
                row=line,
            )
    cells = [[_string(r[i]) if r else None for r in body] for i in range(len(columns))]
    return Dataset("csv", None, columns, _transpose([_csv_column(c) for c in cells], len(body)))


def _csv_column(cells: list[Cell]) -> list[Cell]:
    """Numeric only if every value reads back unchanged, so "007" stays an identifier."""
    numbers: list[Cell] = []
    for cell in cells:
        if cell is None:
            numbers.append(None)
            continue
        canonical = _exact_number(cell)
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
        row_limit = MAX_CELLS // max(len(header.columns), 1) + 1
        # Raw numbers: dates are converted below from the SAS epoch, independent of pandas.
        frame, meta = pyreadstat.read_xport(
            io.BytesIO(data), disable_datetime_conversion=True, row_limit=row_limit
        )
    except Exception as exc:  # readstat reports corrupt files through several exception types
        raise BadDataset(f"cannot read SAS transport file: {exc}") from exc
    columns = _columns(str(name) for name in frame.columns)
    _check_size(len(columns), len(frame))
    formats: dict[str, str | None] = dict(meta.original_variable_types or {})
    kinds: dict[str, str] = dict(meta.readstat_variable_types or {})
    converted = [
        _xpt_column(frame[name].tolist(), kinds.get(name, ""), formats.get(name))
        for name in frame.columns
    ]
    name = str(meta.table_name or "").strip() or None
    return Dataset("xpt", name, columns, _transpose(converted, len(frame)))


def _xpt_column(values: list[Any], kind: str, sas_format: str | None) -> list[Cell]:
    if kind == "string":
        return [_string(v) if isinstance(v, str) else None for v in values]
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
    return _number(value)


# --- CDISC Dataset-JSON ------------------------------------------------------------------------


def _parse_dataset_json(data: bytes) -> Dataset:
    try:
        doc = parse_json(data)
    except BadJSON as exc:
        raise BadDataset(f"Dataset-JSON is not valid JSON: {exc.detail}") from exc
    if not isinstance(doc, dict):
        raise BadDataset("Dataset-JSON must be a JSON object")
    version = doc.get("datasetJSONVersion")
    if isinstance(version, str) and version.startswith("1.1"):
        name, items, rows = doc.get("name"), doc.get("columns"), doc.get("rows")
    elif "clinicalData" in doc or "referenceData" in doc:
        name, items, rows = _dataset_json_10(doc)
    else:
        raise BadDataset("not CDISC Dataset-JSON 1.1: datasetJSONVersion is missing or not 1.1")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadDataset("Dataset-JSON columns must be a list of objects")
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise BadDataset("Dataset-JSON rows must be a list of arrays")
    types: list[str] = []
    for index, item in enumerate(items):
        kind = item.get("dataType", item.get("type"))  # 1.0 calls it "type"
        oid = item.get("itemOID", item.get("OID"))
        if not isinstance(item.get("name"), str) or not isinstance(oid, str):
            raise BadDataset("Dataset-JSON column needs an itemOID and a name", column=index)
        if kind not in _JSON_TYPES:
            raise BadDataset(f"Dataset-JSON column has unknown dataType {kind!r}", column=index)
        types.append(kind)
    columns = _columns(item["name"] for item in items)
    _check_size(len(columns), len(rows))
    out = []
    for number, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise BadDataset(f"Dataset-JSON row {number} has {len(row)} values", row=number)
        out.append(tuple(_json_value(v, t, number) for v, t in zip(row, types, strict=True)))
    return Dataset("dataset-json", name if isinstance(name, str) else None, columns, tuple(out))


def _dataset_json_10(doc: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The 1.0 shape nests one item group; its ITEMGROUPDATASEQ column is a row number, not data."""
    body = doc.get("clinicalData") or doc.get("referenceData")
    groups = body.get("itemGroupData") if isinstance(body, dict) else None
    if not isinstance(groups, dict) or len(groups) != 1:
        raise BadDataset("Dataset-JSON 1.0 must hold exactly one itemGroupData entry")
    group = next(iter(groups.values()))
    if not isinstance(group, dict):
        raise BadDataset("Dataset-JSON 1.0 itemGroupData entry must be an object")
    items, rows = group.get("items"), group.get("itemData")
    if (
        isinstance(items, list)
        and items
        and isinstance(items[0], dict)
        and items[0].get("OID") == "ITEMGROUPDATASEQ"
        and isinstance(rows, list)
        and all(isinstance(r, list) and r for r in rows)
    ):
        items, rows = items[1:], [r[1:] for r in rows]
    return group.get("name"), items, rows


def _json_value(value: Any, kind: str, row: int) -> Cell:
    if value is None:
        return None
    if kind in _JSON_NUMBER_TYPES:
        if isinstance(value, bool):
            raise BadDataset(f"Dataset-JSON row {row}: {kind} value is a boolean", row=row)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return _number(value)
        if isinstance(value, str):  # 1.1 writes decimals as strings to keep their precision
            return _json_decimal(value, row)
    elif kind == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    elif isinstance(value, str):
        return _string(value)
    raise BadDataset(f"Dataset-JSON row {row}: {value!r} is not a valid {kind}", row=row)


def _json_decimal(text: str, row: int) -> Cell:
    if not text.strip():
        return None
    exact = _decimal(text)
    if exact is None:
        raise BadDataset(f"Dataset-JSON row {row}: {text!r} is not a number", row=row)
    # Agree with the double a SAS export would hold where it is the same value; otherwise keep
    # every digit (a context as wide as the literal, so normalising cannot round).
    wide = Context(prec=max(len(exact.as_tuple().digits), 1), Emax=MAX_EMAX, Emin=MIN_EMIN)
    return _exact_number(text) or str(exact.normalize(wide))
