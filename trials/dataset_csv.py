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
from trials.datasets import (
    Cell,
    check_size,
    column_names,
    exact_number,
    row_limit,
    text_cell,
    tokens_with,
)
from trials.errors import BadDataset

_LEADING_ZERO = re.compile(r"[+-]?0\d")
#: Rows are checked and made canonical about this many cells at a time, a column at a time: each
#: distinct value is looked at once per batch, and the per-cell work is done by C loops (sets,
#: maps, joins), while what is held at once stays small.
BATCH_CELLS = 8192
#: At most this many number texts not written canonically are remembered; past that, each
#: batch's others are found again as it is read.
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
        self._cells = Cells(self._width)
        if typed:
            numeric = [True] * self._width
            count = 0
            for batch in self._cells.batches(records):
                count = self._count(count, batch)
                self._cells.type(numeric, batch)
            self.numeric, self.row_count = tuple(numeric), count

    def rows(self) -> Iterator[tuple[Cell, ...]]:
        """Canonical rows: numbers where every value of the column reads back unchanged as a
        number (so "007" stays an identifier), text otherwise, blanks as None."""
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[Sequence[tuple[Cell, ...]]]:
        """The canonical rows, a batch at a time."""
        records = (record for _, record in self._records())
        next(records, None)  # the header
        single = self.numeric is None
        numeric = [True] * self._width if single else list(self.numeric or ())
        count = 0
        for batch in self._cells.batches(records):
            if single:
                count = self._count(count, batch)
            # The single pass types the columns by its first batch; a later one that holds
            # text in a column of numbers is `Retyped`.
            yield self._cells.canonical(batch, numeric, typing=single and count == len(batch))
        if single:
            self.numeric, self.row_count = tuple(numeric), count

    def _count(self, count: int, batch: list[list[str]]) -> int:
        limit = row_limit(self._width, self._cell_limit)
        if count + len(batch) >= limit:
            check_size(self._width, limit, self._cell_limit)
        return count + len(batch)

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


class Cells:
    """Column typing and canonical cells of CSV records of `width` fields, a batch of rows and
    a column at a time, remembering the number texts not written canonically."""

    def __init__(self, width: int) -> None:
        self.width = width
        #: Number texts not written canonically (and blank), mapped to their canonical cell.
        self._fixes: dict[str, Cell] = {"": None}
        #: Columns read as numbers, one of which is not written canonically: read as text, their
        #: cells would differ (those of the others would not).
        self.inexact = [False] * width

    def batches(self, records: Iterator[list[str]]) -> Iterator[list[list[str]]]:
        # A one-column file's blank records have no cells: it is read a row at a time.
        size = 1 if self.width == 1 else max(BATCH_CELLS // self.width, 16)
        while batch := list(islice(records, size)):
            yield batch

    def type(self, numeric: list[bool], batch: list[list[str]]) -> None:
        """Mark the columns of `batch` that hold a value other than a number as text."""
        columns = [()] if batch == [[]] else zip(*batch, strict=True)
        for index, column in enumerate(columns):
            if numeric[index]:
                numeric[index] = self._odd(column) is not None

    def canonical(
        self, batch: list[list[str]], numeric: list[bool], *, typing: bool = False
    ) -> list[tuple[Cell, ...]]:
        """The canonical rows of `batch`, its columns typed as `numeric` says. With `typing`,
        a column marked as numbers that holds something else is marked as text (and read as
        text); without, it is `Retyped`."""
        if self.width == 1:
            if typing:
                self.type(numeric, batch)
            cell = batch[0][0] if batch[0] else ""
            return [(_number(cell) if numeric[0] else text_cell(cell),)]
        columns: list[Sequence[Cell]] = []
        for index, column in enumerate(zip(*batch, strict=True)):
            if numeric[index]:
                odd = self._odd(column, index)
                if odd is not None:
                    columns.append(self._numbers(column, odd))
                    continue
                if not typing:
                    raise Retyped
                numeric[index] = False
            columns.append(_canonical_texts(column))
        return list(zip(*columns, strict=True))

    def _odd(self, column: Sequence[str], index: int | None = None) -> list[str] | None:
        """The values of a column of numbers not written canonically and not yet remembered;
        None if one is not a number. Column `index` is noted as `inexact` if it holds one not
        written canonically."""
        values = set(column)
        new = values.difference(self._fixes)
        odd = _not_canonical(new)
        if odd is None or not all(_is_number(value) for value in odd):
            return None
        if index is not None and (odd or len(new) < len(values) - ("" in values)):
            self.inexact[index] = True
        if odd and len(self._fixes) + len(odd) <= _CACHE:
            self._fixes.update((value, _number(value)) for value in odd)
            return []
        return odd

    def _numbers(self, column: Sequence[str], odd: list[str]) -> Sequence[Cell]:
        """The canonical cell of each value (all numbers or blank), `odd` those not written
        canonically that are not remembered."""
        cells = list(map(self._fixes.get, column, column))
        if not odd:
            return cells
        # Canonical cells are not among `odd`, so mapping them again leaves them as they are.
        fixes: dict[Cell, Cell] = {value: _number(value) for value in odd}
        return list(map(fixes.get, cells, cells))


def _parse(stream: IO[bytes], encoding: str = "utf-8-sig") -> Iterator[tuple[int, list[str]]]:
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
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


class Misread(Exception):
    """A part of a CSV file cannot be read on its own as the whole file would read it."""


def part_batches(
    stream: IO[bytes],
    cells: Cells,
    *,
    first: bool,
    numeric: list[bool],
    typed: bool,
    tail: list[int],
) -> Iterator[list[tuple[Cell, ...]]]:
    """Canonical rows of a part of a CSV file of `cells.width` (more than one) columns that
    starts at a record and ends at a line end (the `first` part holds the header, which is
    skipped), a batch at a time. The columns are typed as `numeric` says (`Retyped` if one holds
    text); unless `typed`, `numeric` is first set by the part's first batch, as `CsvTable`
    types a file read in a single pass. Blank lines at its end are counted in `tail`. A part
    that holds anything else the whole file might call an error (a NUL, a blank line before a
    record, a row of another width, a quoted value not closed at its end) is `Misread` (or
    BadDataset, or a csv.Error): the whole file, read in order, says which error it is."""
    typing = not typed
    for batch in _part_records(stream, cells.width, first, tail):
        yield cells.canonical(batch, numeric, typing=typing)
        typing = False


def part_types(stream: IO[bytes], width: int, *, first: bool) -> tuple[bool, ...]:
    """Which columns of a part of a CSV file (as `part_batches` reads it) hold only numbers."""
    cells, numeric = Cells(width), [True] * width
    for batch in _part_records(stream, width, first, []):
        cells.type(numeric, batch)
    return tuple(numeric)


def _part_records(
    stream: IO[bytes], width: int, first: bool, tail: list[int]
) -> Iterator[list[list[str]]]:
    """The records of a part a batch at a time: the part is decoded at once and its records
    checked a batch at a time, not one by one as `CsvTable` does to name an error's row."""
    # A BOM is one only at the start of the file.
    text = stream.read().decode("utf-8-sig" if first else "utf-8")
    if "\x00" in text:
        raise Misread
    records = csv.reader(io.StringIO(text, newline=""), strict=True)
    if first:
        for record in records:
            if record:
                break  # the header, after any blank lines
    blank = 0
    size = max(BATCH_CELLS // width, 16)
    while batch := list(islice(records, size)):
        if blank:
            raise Misread  # a record after blank lines
        if set(map(len, batch)) != {width}:
            while batch and not batch[-1]:
                batch.pop()
                blank += 1
            if any(len(record) != width for record in batch):
                raise Misread
        if batch:
            yield batch
    tail.append(blank)


#: Texts that read as a double whose shortest form they are, but are not canonical numbers:
#: infinities and NaN, integers written as doubles ("5.0", "1e+16"), and minus zero.
_ODD_TEXTS = ("n", "N", "e+", ".0\x00", "\x00-0\x00")
#: Integers of at most this many characters are exact doubles, written canonically by `str`.
_SHORT_INTEGER = 15
#: Texts that are canonical numbers as they are, each followed by a NUL: integers of at most 15
#: digits, and decimals of at most 15 significant digits, the last not 0, from 0.0001 up (as
#: `repr` writes them without an exponent). A decimal of at most 15 significant digits is the
#: only one that short which reads as its double (DBL_DIG), so it is the double's `repr`.
_CANONICAL_DECIMALS = re.compile(
    r"(?<=\x00)(?:"
    r"0|-?[1-9][0-9]{0,14}"  # an integer
    r"|-?(?=[0-9.]{3,16}\x00)[1-9][0-9]*\.[0-9]*[1-9]"  # 1 and more
    r"|-?0\.0{0,3}(?=[0-9]{1,15}\x00)[1-9](?:[0-9]*[1-9])?"  # below 1
    r")\x00"
)


def _not_canonical(values: set[str]) -> list[str] | None:
    """Which of these distinct texts are not already a canonical number, that is not what
    `exact_number` turns them into (the rest are checked one by one); None if one of them is not
    read as a number at all. Most values are written as Python writes a double, and only a C
    conversion and a comparison are spent on each; fewer still are decimals of at most 15
    digits, which one pattern over them all finds canonical without converting them."""
    listed = list(values)
    if listed:
        # Each text starts after a NUL, so that the pattern matches whole texts only.
        rest = _CANONICAL_DECIMALS.sub("", "\x00" + "\x00".join(listed) + "\x00")
        listed = rest.split("\x00")[1:-1]
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
        odd.extend(tokens_with(joined, marker))
    return odd


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
