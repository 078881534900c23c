"""CSV datasets read in two streaming passes: the first checks the file and types the columns."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import IO

from trials import datasets
from trials.dataset_sources import Source
from trials.datasets import Cell, check_size, column_names, exact_number, text_cell
from trials.errors import BadDataset

_LEADING_ZERO = re.compile(r"[+-]?0\d")


class CsvTable:
    """A CSV file's header and column types, found by reading it once; `rows()` reads it again."""

    def __init__(self, source: Source, cell_limit: int) -> None:
        self._source = source
        header: list[str] | None = None
        numeric: list[bool] = []
        count = 0
        for _, record in self._records():
            if header is None:
                if record:
                    header = record
                    numeric = [True] * len(header)
                continue
            count += 1
            check_size(len(header), count, cell_limit)
            for index, cell in enumerate(record):
                if numeric[index] and cell and not _is_number(cell):
                    numeric[index] = False
        if header is None:
            raise BadDataset("CSV has no header row")
        self.columns = column_names(header)
        self.numeric = tuple(numeric)
        self.row_count = count

    def rows(self) -> Iterator[tuple[Cell, ...]]:
        """Canonical rows: numbers where every value of the column reads back unchanged as a
        number (so "007" stays an identifier), text otherwise, blanks as None."""
        first = True
        for _, record in self._records():
            if first:
                first = False
                continue
            if not record:
                yield (None,)
                continue
            yield tuple(
                _number(cell) if number else text_cell(cell)
                for cell, number in zip(record, self.numeric, strict=True)
            )

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
    try:
        for line, record in enumerate(csv.reader(text, strict=True), start=1):
            for cell in record:
                if "\x00" in cell:
                    raise BadDataset(f"CSV row {line} contains a NUL character", row=line)
            yield line, record
    except UnicodeDecodeError as exc:
        raise BadDataset(f"CSV is not UTF-8: {exc.reason}") from exc
    except csv.Error as exc:
        raise BadDataset(f"CSV is malformed: {exc}") from exc
    finally:
        text.detach()  # the source closes the stream it opened


def _is_number(cell: str) -> bool:
    return exact_number(cell) is not None and not _LEADING_ZERO.match(cell)


def _number(cell: str) -> Cell:
    return exact_number(cell) if cell else None


def csv_table(source: Source, *, loaded: bool) -> CsvTable:
    """The table, within the cell limit of a streamed dataset or of one held in memory."""
    return CsvTable(source, datasets.MAX_LOADED_CELLS if loaded else datasets.MAX_CELLS)
