"""Clinical-trial datasets in a canonical, hashable form, whatever file format they came in."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from itertools import islice
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
#: Rows are hashed about this many cells at a time (one `json` call for the lot).
BATCH_CELLS = 4096

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
        self._context = rounding(digits)
        self.rows = 0

    def add(self, row: Sequence[Cell]) -> None:
        self.add_rows([row])

    def add_rows(self, rows: Sequence[Sequence[Cell]]) -> None:
        """Add several rows at once: one `json` call writes them all (the bytes are those of a
        row at a time, the calls are fewer)."""
        if not rows:
            return
        self.add_encoded(canonical_rows(rows, self._context), len(rows))

    def add_encoded(self, encoded: bytes, count: int) -> None:
        """Add `count` rows already written by `canonical_rows`."""
        if count:
            self._sha.update(b"," + encoded if self.rows else encoded)
            self.rows += count

    def hexdigest(self) -> str:
        final = self._sha.copy()
        final.update(b"]}")
        return final.hexdigest()


def canonical_rows(rows: Sequence[Sequence[Cell]], context: Context | None = None) -> bytes:
    """The canonical rows joined by commas, as the content hash takes them; with `context`,
    numbers rounded first (`rounded_cell`). A JSON array of the rows, less its brackets."""
    if context is not None:
        rows = [[rounded_cell(cell, context) for cell in row] for row in rows]
    return _canonical_row(rows)[1:-1]


def rounding(digits: int | None) -> Context | None:
    """The context that rounds numbers to `digits` significant digits; None for no rounding."""
    return None if digits is None else Context(prec=digits, rounding=ROUND_HALF_EVEN)


def _canonical_row(cells: Sequence[Any]) -> bytes:
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
    # Rows are hashed a batch at a time; a batch never reads past the row that breaks the limit,
    # so a file too large is refused there, as a row at a time would.
    size = max(BATCH_CELLS // max(len(columns), 1), 1)
    rows = iter(rows)
    while batch := list(islice(rows, min(size, limit + 1 - hasher.rows))):
        if hasher.rows + len(batch) > limit:
            check_size(len(columns), limit + 1, MAX_CELLS)
        hasher.add_rows(batch)
        if domain is not None:
            add_domains(domains, batch, domain)
    return DatasetSummary(fmt, name, columns, hasher.rows, hasher.hexdigest(), tuple(domains))


def add_domains(domains: list[str], rows: Iterable[Sequence[Cell]], domain: int) -> None:
    """Note the distinct DOMAIN values of `rows` in their order, a few at most."""
    if len(domains) >= _DOMAIN_VALUES:
        return
    for value in dict.fromkeys(row[domain] for row in rows):
        if value is not None and value not in domains and len(domains) < _DOMAIN_VALUES:
            domains.append(value)


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


def tokens_with(joined: str, marker: str) -> Iterator[str]:
    """The NUL-separated tokens of `joined` that contain `marker` (found by C searches)."""
    found = joined.find(marker)
    while found != -1:
        start = joined.rfind("\x00", 0, found + (marker[0] == "\x00")) + 1
        end = joined.find("\x00", found + (marker[0] == "\x00"))
        yield joined[start:end]
        found = joined.find(marker, end)


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
