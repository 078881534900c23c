"""Clinical-trial datasets in a canonical, hashable form, whatever file format they came in."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from provenance.log.canonical import canonical_bytes, sha256_hex
from trials.errors import BadDataset

#: Upper bound on columns x rows of a dataset read as a stream (its content hashed row by row,
#: never held whole): a phase 3 laboratory dataset of ten million rows by forty columns fits.
MAX_CELLS = 400_000_000
#: Upper bound on columns x rows of a dataset held in memory whole (`Dataset`), as the monitoring
#: report reads the latest versions.
MAX_LOADED_CELLS = 2_000_000
#: How many distinct DOMAIN values a summary keeps: one is expected, a few name the problem.
_DOMAIN_VALUES = 5

# A plain decimal literal; float() alone would also accept "inf", "nan" and "1_000".
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Integers of at most 15 digits, no sign but "-", no leading zero: canonical as they are.
_SMALL_INTEGER = re.compile(r"0|-?[1-9]\d{0,14}")
_PLAIN_DECIMAL = re.compile(r"-?\d+\.\d+")
# A number as `number_cell` (or a kept Dataset-JSON decimal) writes it: no sign but "-", no
# leading zero, no trailing zero after the point ("007" and "1.50" are text).
_CANONICAL_NUMBER = re.compile(
    r"-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?(?:e[+-]?\d+)?|-?[1-9](?:\.\d*[1-9])?E[+-]\d+"
)

Cell = str | None


@dataclass(frozen=True)
class Dataset:
    """A dataset's columns and rows, every cell canonical text or None (missing)."""

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


@dataclass(frozen=True)
class DatasetSummary:
    """What a statement about a dataset commits to, computed while the rows stream past."""

    format: str
    name: str | None
    columns: tuple[str, ...]
    row_count: int
    content_hash: str
    #: The distinct non-missing values of its DOMAIN column (at most a few); empty if none.
    domains: tuple[str, ...] = ()

    @property
    def column_count(self) -> int:
        return len(self.columns)


class ContentHasher:
    """The content hash of a dataset fed one row at a time: the same bytes `content_hash`
    hashes, without the rows ever being held together."""

    def __init__(self, columns: Sequence[str], digits: int | None = None) -> None:
        self._sha = hashlib.sha256(b'{"columns":' + _canonical_row(columns) + b',"rows":[')
        self._context = None if digits is None else Context(prec=digits, rounding=ROUND_HALF_EVEN)
        self.rows = 0

    def add(self, row: Sequence[Cell]) -> None:
        if self._context is not None:
            row = [rounded_cell(cell, self._context) for cell in row]
        self._sha.update(b"," + _canonical_row(row) if self.rows else _canonical_row(row))
        self.rows += 1

    def hexdigest(self) -> str:
        final = self._sha.copy()
        final.update(b"]}")
        return final.hexdigest()


def _canonical_row(cells: Sequence[Cell]) -> bytes:
    """RFC 8785 of a list of strings and nulls: JSON without blanks, non-ASCII as UTF-8, and
    only quote, backslash and control characters escaped (lower-case hex), as `json` writes."""
    try:
        return json.dumps(list(cells), ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError as exc:  # a lone surrogate from a JSON escape
        raise BadDataset("a text value is not valid Unicode (a lone surrogate)") from exc


def rounded_cell(cell: Cell, context: Context) -> Cell:
    """A canonical number rounded to the context's significant digits (half to even), written
    canonically again; any other cell as it is."""
    if cell is None or not _CANONICAL_NUMBER.fullmatch(cell):
        return cell
    value = context.plus(Decimal(cell))
    return exact_number(str(value)) or number_cell(float(value))


def summarise_rows(
    fmt: str,
    name: str | None,
    columns: tuple[str, ...],
    rows: Iterable[Sequence[Cell]],
    digits: int | None = None,
) -> DatasetSummary:
    """Hash `rows` as they come, refusing more than `MAX_CELLS` cells; with `digits`, the hash
    of its numbers rounded to that many significant digits (`rounded_cell`)."""
    hasher = ContentHasher(columns, digits)
    domain = columns.index("DOMAIN") if "DOMAIN" in columns else None
    domains: list[str] = []
    limit = row_limit(len(columns), MAX_CELLS) - 1
    for row in rows:
        if hasher.rows >= limit:
            check_size(len(columns), hasher.rows + 1, MAX_CELLS)
        hasher.add(row)
        if domain is not None:
            value = row[domain]
            if value is not None and value not in domains and len(domains) < _DOMAIN_VALUES:
                domains.append(value)
    return DatasetSummary(fmt, name, columns, hasher.rows, hasher.hexdigest(), tuple(domains))


def load_rows(
    fmt: str, name: str | None, columns: tuple[str, ...], rows: Iterable[Sequence[Cell]]
) -> Dataset:
    """Hold `rows` in memory, refusing more than `MAX_LOADED_CELLS` cells."""
    held: list[tuple[Cell, ...]] = []
    limit = row_limit(len(columns), MAX_LOADED_CELLS) - 1
    for row in rows:
        if len(held) >= limit:
            check_size(len(columns), len(held) + 1, MAX_LOADED_CELLS)
        held.append(tuple(row))
    return Dataset(fmt, name, columns, tuple(held))


def raw_hash(data: bytes) -> str:
    """SHA-256 of the file's bytes as uploaded."""
    return sha256_hex(data)


def content_hash(dataset: Dataset) -> str:
    """SHA-256 of the canonical form: equal for the same data in any format or export."""
    return sha256_hex(canonical_bytes(dataset.canonical()))


# --- canonical cells ---------------------------------------------------------------------------


def number_cell(value: float) -> str:
    """A finite number as the shortest text that reads back as the same double."""
    if not math.isfinite(value):
        raise BadDataset(f"number {value!r} is not finite")
    if value.is_integer():
        return str(int(value))  # also turns -0.0 into "0"
    return repr(value)


def decimal_literal(text: str) -> Decimal | None:
    """The exact value of a plain decimal literal; None if `text` is not one."""
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # an exponent beyond what Decimal can hold
        return None


def exact_number(text: str) -> str | None:
    """Canonical form of a decimal literal; None if the double it denotes is a different value."""
    if _SMALL_INTEGER.fullmatch(text):
        return text  # the most common cell: already canonical, and exact in a double
    if _PLAIN_DECIMAL.fullmatch(text):
        value = float(text)
        if not value.is_integer() and repr(value) == text:
            return text  # what `number_cell` writes, so the double is that decimal's shortest form
    exact = decimal_literal(text)
    if exact is None or not math.isfinite(float(exact)):
        return None
    canonical = number_cell(float(exact))
    return canonical if Decimal(canonical) == exact else None


def text_cell(value: str) -> Cell:
    """A text value without trailing blanks; None if nothing is left."""
    if "\x00" in value:
        raise BadDataset("text value contains a NUL character")
    # XPT pads character values with spaces and cannot tell blank from missing, so neither can we.
    value = value.rstrip(" ")
    return value or None


def column_names(names: Iterable[str]) -> tuple[str, ...]:
    """Column names upper-cased, each non-empty and used once."""
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


def check_size(columns: int, rows: int, limit: int) -> None:
    """Refuse a dataset of more than `limit` cells."""
    if columns * rows > limit:
        raise BadDataset(
            f"dataset has {columns * rows} cells or more, more than the limit of {limit}",
            limit=limit,
        )


def row_limit(columns: int, limit: int) -> int:
    """How many rows of a file with `columns` columns to read: one past the cell limit."""
    return limit // max(columns, 1) + 1


def transpose(columns: Sequence[Sequence[Cell]], count: int) -> Iterator[tuple[Cell, ...]]:
    """Rows from `count`-long columns."""
    return (tuple(column[i] for column in columns) for i in range(count))
