"""Reading dataset files (CSV, SAS XPT, CDISC Dataset-JSON) into the canonical form: whole
(`Dataset`, for small uses) or streamed into a `DatasetSummary` (rows, columns, content hash)."""

from __future__ import annotations

import io
import math
import re
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from trials import datasets, xpt
from trials.dataset_chunks import summarise_parts
from trials.dataset_csv import Retyped, csv_table
from trials.dataset_json import json_table
from trials.dataset_sources import Source, compression_of
from trials.datasets import (
    Cell,
    Dataset,
    DatasetSummary,
    check_size,
    column_names,
    load_rows,
    number_cell,
    row_limit,
    summarise_rows,
    text_cell,
    transpose,
)
from trials.errors import BadDataset

FORMATS = ("csv", "xpt", "dataset-json")

_EXTENSIONS = {
    ".csv": "csv",
    ".xpt": "xpt",
    ".json": "dataset-json",
    ".ndjson": "dataset-json",
    ".dsjc": "dataset-json",
}
#: Media types under which an upload is a dataset, read through before it is stored (gzip or
#: zlib compressed or not).
DATASET_MEDIA_TYPES = {
    "text/csv": "csv",
    "application/x-sas-xport": "xpt",
    "application/json": "dataset-json",
    "application/x-ndjson": "dataset-json",
    "application/vnd.cdisc.dataset-json.compressed": "dataset-json",
}
# Both XPORT v5 and v8 files open with this 80-byte library header record.
_XPT_MAGIC = b"HEADER RECORD*******LIB"
#: V8 transport files are read whole (pyreadstat); V5, the FDA's format, is streamed.
MAX_V8_FILE = 256 * 1024 * 1024
# The SAS format name without width and decimals ("YYMMDD10." -> "YYMMDD"), as readstat parses it.
_SAS_FORMAT = re.compile(r"([A-Z][A-Z0-9]*[A-Z])\d*\.?\d*")
_SAS_DATE = re.compile(r"(?:DDMMYY|MMDDYY|YYMMDD)[BCDNPS]?|DATE|WEEKDAT[EX]|(?:E|B|IS)8601DA")
_SAS_DATETIME = re.compile(r"DATETIME|DATEAMPM|MDYAMPM|(?:E|B|IS)8601DT|B8601DN")
_SAS_TIME = re.compile(r"TIME|HHMM|TOD|TIMEAMPM|(?:E|B|IS)8601TM")
_SAS_EPOCH = datetime(1960, 1, 1)

Rows = Iterator[Sequence[Cell]]


def detect_format(filename: str, head: bytes) -> str:
    """The format named by the extension (".gz" aside), cross-checked against what the first
    bytes (`head`, compressed or not) look like."""
    if not head:
        raise BadDataset("dataset file is empty")
    base = filename[:-3] if filename.lower().endswith(".gz") else filename
    dot = base.rfind(".")
    by_name = _EXTENSIONS.get(base[dot:].lower()) if dot >= 0 else None
    by_content = _sniff(_expanded_head(head))
    if by_name and by_content and by_name != by_content:
        raise BadDataset(
            f"file name says {by_name} but the content looks like {by_content}",
            filename=filename,
        )
    found = by_name or by_content
    if found is None:
        raise BadDataset(f"cannot tell the dataset format of {filename!r}", formats=list(FORMATS))
    return found


#: Top-level members only a Dataset-JSON document has (1.1, then the 1.0 shape).
_DATASET_JSON_MEMBERS = (b'"datasetJSONVersion"', b'"clinicalData"', b'"referenceData"')


def dataset_format_of_upload(media_type: str, head: bytes) -> str | None:
    """The dataset format an upload declares; None for other payloads. `application/json` is
    any JSON (a USDM protocol, say): it is a dataset only where its first bytes (`head`,
    compressed or not) name a Dataset-JSON member."""
    found = DATASET_MEDIA_TYPES.get(media_type.split(";")[0].strip().lower())
    if found == "dataset-json" and media_type.split(";")[0].strip().lower() == "application/json":
        try:
            text = _expanded_head(head)
        except BadDataset:
            return found  # damaged compression: read through, and refused, as a dataset
        if not any(member in text for member in _DATASET_JSON_MEMBERS):
            return None
    return found


def _expanded_head(head: bytes) -> bytes:
    compression = compression_of(head)
    if compression is None:
        return head
    try:  # the first bytes of the content: the rest of the stream may be missing here
        return zlib.decompressobj(31 if compression == "gzip" else 15).decompress(head, 4096)
    except zlib.error as exc:
        raise BadDataset(f"the compressed dataset is damaged: {exc}") from exc


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
    """The whole dataset in memory, at most `MAX_LOADED_CELLS` cells."""
    name, columns, rows = _table(Source.of_bytes(_nonempty(data)), fmt, loaded=True)
    return load_rows(fmt, name, columns, rows)


def summarise(source: Source, fmt: str, digits: int | None = None) -> DatasetSummary:
    """Rows, columns and content hash of a dataset read as a stream, at most `MAX_CELLS` cells;
    with `digits`, the hash of its numbers rounded to that many significant digits. A large
    file is read by all cores, a part each (`summarise_parts`), with the same outcome."""
    summary = summarise_parts(source, fmt, digits)
    if summary is not None:
        return summary
    if fmt == "csv":
        table = csv_table(source, loaded=False, typed=False)
        try:
            return summarise_rows(fmt, None, table.columns, table.rows(), digits)
        except Retyped:
            pass  # a column of numbers holds text further on: type the columns first
    name, columns, rows = _table(source, fmt, loaded=False)
    return summarise_rows(fmt, name, columns, rows, digits)


def summarise_bytes(data: bytes, fmt: str) -> DatasetSummary:
    return summarise(Source.of_bytes(_nonempty(data)), fmt)


def check_domain(domains: Sequence[str], declared: str) -> None:
    """A dataset with a DOMAIN column (these are its values) holds the declared domain's
    records only."""
    others = [d for d in domains if d != declared]
    if others:
        found = ", ".join(domains)
        raise BadDataset(
            f"the dataset's DOMAIN column holds {found}, but it is submitted as domain {declared}",
            declared=declared,
            found=list(domains),
        )


def _nonempty(data: bytes) -> bytes:
    if not data:
        raise BadDataset("dataset file is empty")
    return data


def _table(source: Source, fmt: str, *, loaded: bool) -> tuple[str | None, tuple[str, ...], Rows]:
    if fmt == "csv":
        table = csv_table(source, loaded=loaded)
        return None, table.columns, table.rows()
    if fmt == "xpt":
        return _xpt_table(source)
    if fmt == "dataset-json":
        document = json_table(source, loaded=loaded)
        return document.name, document.columns, document.rows()
    raise BadDataset(f"unknown dataset format {fmt!r}", formats=list(FORMATS))


# --- SAS XPORT ---------------------------------------------------------------------------------


def _xpt_table(source: Source) -> tuple[str | None, tuple[str, ...], Rows]:
    head = source.head(80)
    if not head:
        raise BadDataset("dataset file is empty")
    if not head.startswith(_XPT_MAGIC):
        raise BadDataset("not a SAS transport (XPT) file: library header record missing")
    if not xpt.is_v5(head):
        return _xpt_v8(source)
    with source.open() as stream:
        member = xpt.read_member(stream)
    columns = column_names(v.name for v in member.variables)
    return member.name, columns, _xpt_rows(source, member)


def _xpt_rows(source: Source, member: xpt.Member) -> Rows:
    converters = [
        (v.numeric, _format_family(v.sas_format) if v.numeric else "") for v in member.variables
    ]
    with source.open() as stream:
        xpt.read_member(stream)
        for observation in xpt.observations(stream, member):
            yield tuple(
                _xpt_cell(value, numeric, family)
                for value, (numeric, family) in zip(observation, converters, strict=True)
            )


def _xpt_cell(value: object, numeric: bool, family: str) -> Cell:
    if not numeric:
        return text_cell(value) if isinstance(value, str) else None
    if value is None:
        return None  # includes the special missing values .A to .Z and ._
    assert isinstance(value, float)
    return _sas_value(value, family)


def _xpt_v8(source: Source) -> tuple[str | None, tuple[str, ...], Rows]:
    with source.open() as stream:
        data = stream.read(MAX_V8_FILE + 1)
    if len(data) > MAX_V8_FILE:
        raise BadDataset(
            f"SAS transport V8 files are read up to {MAX_V8_FILE} bytes: export V5 (the "
            "FDA's format) or Dataset-JSON for larger datasets",
            limit=MAX_V8_FILE,
        )
    if len(data) % xpt.RECORD:
        raise BadDataset(
            f"the XPT file is cut short: {len(data)} bytes is not a whole number of "
            f"{xpt.RECORD}-byte records"
        )
    import pyreadstat  # with numpy, only when a V8 file is read: the CLI starts without them

    try:
        # XPT headers carry no row count, so read one row past the cell limit and no further.
        header, _ = pyreadstat.read_xport(io.BytesIO(data), metadataonly=True)
        limit = row_limit(len(header.columns), datasets.MAX_LOADED_CELLS)
        # Raw numbers: dates are converted below from the SAS epoch, independent of pandas.
        frame, meta = pyreadstat.read_xport(
            io.BytesIO(data), disable_datetime_conversion=True, row_limit=limit
        )
    except Exception as exc:  # readstat reports corrupt files through several exception types
        raise BadDataset(f"cannot read SAS transport file: {exc}") from exc
    columns = column_names(str(name) for name in frame.columns)
    check_size(len(columns), len(frame), datasets.MAX_LOADED_CELLS)
    formats: dict[str, str | None] = dict(meta.original_variable_types or {})
    kinds: dict[str, str] = dict(meta.readstat_variable_types or {})
    converted = [
        _xpt_column(frame[name].tolist(), kinds.get(name, ""), formats.get(name))
        for name in frame.columns
    ]
    name = str(meta.table_name or "").strip() or None
    return name, columns, transpose(converted, len(frame))


def _format_family(sas_format: str | None) -> str:
    match = _SAS_FORMAT.fullmatch(sas_format.upper()) if sas_format else None
    return match.group(1) if match else ""


def _xpt_column(values: list[Any], kind: str, sas_format: str | None) -> list[Cell]:
    if kind == "string":
        return [text_cell(v) if isinstance(v, str) else None for v in values]
    family = _format_family(sas_format)
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
