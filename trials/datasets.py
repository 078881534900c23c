"""Clinical-trial datasets in a canonical, hashable form, whatever file format they came in."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from provenance.log.canonical import canonical_bytes, sha256_hex
from trials.errors import BadDataset

#: Upper bound on columns x rows, so one upload cannot exhaust memory while being canonicalised.
MAX_CELLS = 2_000_000

# A plain decimal literal; float() alone would also accept "inf", "nan" and "1_000".
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

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


def check_size(columns: int, rows: int) -> None:
    """Refuse a dataset of more than `MAX_CELLS` cells."""
    if columns * rows > MAX_CELLS:
        raise BadDataset(
            f"dataset has {columns * rows} cells, more than the limit of {MAX_CELLS}",
            limit=MAX_CELLS,
        )


def row_limit(columns: int) -> int:
    """How many rows of a file with `columns` columns to read: one past the cell limit."""
    return MAX_CELLS // max(columns, 1) + 1


def transpose(columns: Sequence[Sequence[Cell]], count: int) -> tuple[tuple[Cell, ...], ...]:
    """Rows from `count`-long columns."""
    return tuple(tuple(column[i] for column in columns) for i in range(count))
