"""CSV datasets read as streams: a pass that types the columns, then one that reads the rows
(or, for a summary, one pass that does both while no column changes type)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import IO

from trials import datasets
from trials.dataset_sources import Source
from trials.datasets import Cell, check_size, column_names, exact_number, row_limit, text_cell
from trials.errors import BadDataset

_LEADING_ZERO = re.compile(r"[+-]?0\d")
#: Rows are checked and made canonical about this many cells at a time, a column at a time: each
#: distinct value is looked at once per batch, and the per-cell work is done by C loops (sets,
#: maps, joins), while what is held at once stays small.
BATCH_CELLS = 1024
#: At most this many number texts not written canonically are remembered; past that, each
#: batch's are found again as it is read.
_CACHE = 1024


class Retyped(Exception):
    """A column read as numbers in a single pass holds text further on: read the file twice."""


class CsvTable:
    """A CSV file's header and column types, found by reading it once; `rows()` reads it again.
    With `typed=False` the types are found while `rows()` reads, in a single pass that raises
    `Retyped` if a column that has been read as numbers turns out to hold text."""

    def __init__(self, source: Source, cell_limit: int, *, typed: bool = True) -> None:
        self._source = source
        self._cell_limit = cell_limit
        records = (record for _, record in self._records())
        header = next(records, None)
        if header is None:
            raise BadDataset("CSV has no header row")
        self.columns = column_names(header)
        self._width = len(header)
        self.numeric: tuple[bool, ...] | None = None
        self.row_count: int | None = None
        #: Number texts not written canonically (and blank), mapped to their canonical cell.
        self._fixes: dict[str, Cell] = {"": None}
        self._fixes_complete = True
        if typed:
            numeric = [True] * self._width
            count = 0
            for batch in self._batches(records):
                count = self._count(count, batch)
                self._type(numeric, batch)
            self.numeric, self.row_count = tuple(numeric), count

    def rows(self) -> Iterator[tuple[Cell, ...]]:
        """Canonical rows: numbers where every value of the column reads back unchanged as a
        number (so "007" stays an identifier), text otherwise, blanks as None."""
        records = (record for _, record in self._records())
        next(records, None)  # the header
        single = self.numeric is None
        numeric = [True] * self._width if single else list(self.numeric or ())
        count = 0
        for batch in self._batches(records):
            if single:
                count = self._count(count, batch)
                was = tuple(numeric)
                self._type(numeric, batch)
                if count > len(batch) and tuple(numeric) != was:
                    raise Retyped
            if self._width == 1:
                cell = batch[0][0] if batch[0] else ""
                yield (_number(cell) if numeric[0] else text_cell(cell),)
                continue
            columns = [
                self._numbers(column) if number else _canonical_texts(column)
                for column, number in zip(zip(*batch, strict=True), numeric, strict=True)
            ]
            yield from zip(*columns, strict=True)
        if single:
            self.numeric, self.row_count = tuple(numeric), count

    def _batches(self, records: Iterator[list[str]]) -> Iterator[list[list[str]]]:
        # A one-column file's blank records have no cells: it is read a row at a time.
        size = 1 if self._width == 1 else max(BATCH_CELLS // self._width, 16)
        while batch := list(islice(records, size)):
            yield batch

    def _count(self, count: int, batch: list[list[str]]) -> int:
        limit = row_limit(self._width, self._cell_limit)
        if count + len(batch) >= limit:
            check_size(self._width, limit, self._cell_limit)
        return count + len(batch)

    def _type(self, numeric: list[bool], batch: list[list[str]]) -> None:
        """Mark the columns of `batch` that hold a value other than a number as text, and note
        the numbers not written canonically."""
        columns = [()] if batch == [[]] else zip(*batch, strict=True)
        for index, column in enumerate(columns):
            if numeric[index]:
                numeric[index] = self._all_numbers(column)

    def _all_numbers(self, column: Sequence[str]) -> bool:
        values = set(column).difference(self._fixes)
        odd = _not_canonical(values)
        if odd is None or not all(_is_number(value) for value in odd):
            return False
        if self._fixes_complete and len(self._fixes) + len(odd) <= _CACHE:
            self._fixes.update((value, _number(value)) for value in odd)
        else:
            self._fixes_complete = False
        return True

    def _numbers(self, column: Sequence[str]) -> Sequence[Cell]:
        """The canonical cell of each value (all numbers or blank)."""
        fixes = self._fixes
        if not self._fixes_complete:
            values = set(column)
            values.discard("")
            fixes = {"": None, **{value: _number(value) for value in _not_canonical(values) or ()}}
        return list(map(fixes.get, column, column))

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """(record number, fields), the header's width enforced; a one-column file's blank
        lines are rows of one missing value, trailing blank lines are no rows."""
        blank_lines: list[int] = []
        width: int | None = None
        with self._source.open() as stream:
            for line, record in _parse(stream):
                if not record:
                    if width is not None:
                        blank_lines.append(line)
                    continue
                if width is None:
                    width = len(record)
                    yield line, record
                    continue
                for blank in blank_lines:
                    if width != 1:
                        raise BadDataset(
                            f"CSV row {blank} has 0 fields, the header has {width}", row=blank
                        )
                    yield blank, []
                blank_lines.clear()
                if len(record) != width:
                    raise BadDataset(
                        f"CSV row {line} has {len(record)} fields, the header has {width}",
                        row=line,
                    )
                yield line, record


def _parse(stream: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    nul = [False]

    def lines() -> Iterator[str]:
        # A NUL is looked for once per line rather than once per cell; the reader takes only the
        # lines of the record it returns, so the flag belongs to that record.
        for line in text:
            if "\x00" in line:
                nul[0] = True
            yield line

    try:
        for line, record in enumerate(csv.reader(lines(), strict=True), start=1):
            if nul[0]:
                raise BadDataset(f"CSV row {line} contains a NUL character", row=line)
            yield line, record
    except UnicodeDecodeError as exc:
        raise BadDataset(f"CSV is not UTF-8: {exc.reason}") from exc
    except csv.Error as exc:
        raise BadDataset(f"CSV is malformed: {exc}") from exc
    finally:
        text.detach()  # the source closes the stream it opened


#: Texts that read as a double whose shortest form they are, but are not canonical numbers:
#: infinities and NaN, integers written as doubles ("5.0", "1e+16"), and minus zero.
_ODD_TEXTS = ("n", "N", "e+", ".0\x00", "\x00-0\x00")
#: Integers of at most this many characters are exact doubles, written canonically by `str`.
_SHORT_INTEGER = 15


def _not_canonical(values: set[str]) -> list[str] | None:
    """Which of these distinct texts are not already a canonical number, that is not what
    `exact_number` turns them into (the rest are checked one by one); None if one of them is not
    read as a number at all. Most values are written as Python writes a double, and only a C
    conversion and a comparison are spent on each."""
    listed = list(values)
    odd: list[str] = []
    try:
        integers = list(map(str, map(int, listed)))
    except ValueError:
        integers = None
    if integers != listed or (listed and max(map(len, listed)) > _SHORT_INTEGER):
        try:
            shown = list(map(repr, map(float, listed)))
        except ValueError:
            return None
        if shown != listed:
            odd = [
                value
                for value, text in zip(listed, shown, strict=True)
                if value != text and not (text.endswith(".0") and value == text[:-2])
            ]
    joined = "\x00" + "\x00".join(listed) + "\x00"
    for marker in _ODD_TEXTS:
        odd.extend(_tokens_with(joined, marker))
    return odd


def _tokens_with(joined: str, marker: str) -> Iterator[str]:
    """The NUL-separated tokens of `joined` that contain `marker` (found by C searches)."""
    found = joined.find(marker)
    while found != -1:
        start = joined.rfind("\x00", 0, found + (marker[0] == "\x00")) + 1
        end = joined.find("\x00", found + (marker[0] == "\x00"))
        yield joined[start:end]
        found = joined.find(marker, end)


def _canonical_texts(column: Sequence[str]) -> Sequence[Cell]:
    """`text_cell` of each value (NULs were refused as the file was read); most columns have no
    blank and no trailing space, and are kept as they are."""
    if "" not in column:
        joined = "\x00".join(column)
        if " \x00" not in joined and not joined.endswith(" "):
            return column
    return [value.rstrip(" ") or None for value in column]


def _is_number(cell: str) -> bool:
    return exact_number(cell) is not None and not _LEADING_ZERO.match(cell)


def _number(cell: str) -> Cell:
    return exact_number(cell) if cell else None


def csv_table(source: Source, *, loaded: bool, typed: bool = True) -> CsvTable:
    """The table, within the cell limit of a streamed dataset or of one held in memory."""
    limit = datasets.MAX_LOADED_CELLS if loaded else datasets.MAX_CELLS
    return CsvTable(source, limit, typed=typed)
