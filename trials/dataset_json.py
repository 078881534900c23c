"""Reading CDISC Dataset-JSON (1.1 as JSON or NDJSON, and the nested 1.0 shape) as a stream."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import MAX_EMAX, MIN_EMIN, Context
from itertools import islice
from typing import IO, Any

from provenance.errors import BadJSON
from provenance.log.canonical import parse_json
from trials import datasets
from trials.dataset_sources import Source
from trials.datasets import (
    Cell,
    check_size,
    column_names,
    decimal_literal,
    exact_number,
    number_cell,
    row_limit,
    text_cell,
    tokens_with,
)
from trials.errors import BadDataset

_JSON_NUMBER_TYPES = frozenset({"integer", "decimal", "float", "double"})
_JSON_TYPES = _JSON_NUMBER_TYPES | {"string", "boolean", "date", "datetime", "time", "URI"}
#: A Dataset-JSON document is parsed whole; larger datasets come as NDJSON, read line by line.
MAX_DOCUMENT = 256 * 1024 * 1024
#: The NDJSON form's first line (the metadata) is at most this long.
MAX_METADATA_LINE = 16 * 1024 * 1024
#: Rows are made canonical about this many cells at a time, a column at a time.
BATCH_CELLS = 1024
_NONE = type(None)


class _Irregular(Exception):
    """A column of a batch holds a value its type does not allow: read the batch row by row."""


class JsonTable:
    """A Dataset-JSON file's metadata; `rows()` reads its rows, checking each row's width and,
    at the end, the declared record count."""

    def __init__(self, source: Source, cell_limit: int) -> None:
        self._source = source
        self._cell_limit = cell_limit
        self._document: list[Any] | None = None
        with source.open() as stream:
            metadata = _ndjson_metadata(stream.readline(MAX_METADATA_LINE))
        self.ndjson = metadata is not None
        if metadata is not None:
            name, items, records = metadata.get("name"), metadata.get("columns"), None
            if "records" not in metadata:
                raise BadDataset("Dataset-JSON 1.1 must declare its number of records")
            records = metadata["records"]
        else:
            with source.open() as stream:
                name, items, rows, records = _shape(_whole_document(stream))
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise BadDataset("Dataset-JSON rows must be a list of arrays")
            self._document = rows
        self.types, names = _column_types(items)
        self.columns = column_names(names)
        self.name = name if isinstance(name, str) else None
        if records is not None and (type(records) is not int or records < 0):
            raise BadDataset(f"Dataset-JSON records must be a count, not {records!r}")
        self.records: int | None = records
        if self._document is not None:
            check_size(len(self.columns), len(self._document), cell_limit)

    @classmethod
    def of_columns(cls, types: Sequence[str], columns: Sequence[str]) -> JsonTable:
        """A table of these columns whose NDJSON rows come from elsewhere (`batches`), read
        without a cell limit: whoever reads the parts counts the rows."""
        table = cls.__new__(cls)
        table._source, table._cell_limit, table._document = None, 1 << 62, None  # type: ignore[assignment]
        table.ndjson, table.name, table.records = True, None, None
        table.types, table.columns = list(types), tuple(columns)
        return table

    def data_start(self) -> int:
        """Where the rows of an NDJSON file start: after its metadata line."""
        with self._source.open() as stream:
            return len(stream.readline(MAX_METADATA_LINE))

    def check_count(self, count: int) -> None:
        """The declared number of records is `count`."""
        self._check_count(count)

    def rows(self) -> Iterator[tuple[Cell, ...]]:
        if self._document is not None:
            size = self._batch_rows()
            for start in range(0, len(self._document), size):
                yield from self._batch(self._document[start : start + size], start + 1)
            self._check_count(len(self._document))
            return
        with self._source.open() as stream:
            stream.readline(MAX_METADATA_LINE)
            count = 0
            for batch in self.batches(ndjson_rows(stream), 1):
                count += len(batch)
                yield from batch
        self._check_count(count)

    def batches(self, parsed: Iterator[Any], first: int) -> Iterator[list[tuple[Cell, ...]]]:
        """Canonical rows of the parsed NDJSON rows, the first of them row number `first`, a
        batch at a time; never a row read past the one that breaks the cell limit."""
        limit = row_limit(len(self.columns), self._cell_limit)
        size, number = self._batch_rows(), first
        while rows := list(islice(parsed, max(min(size, limit - number + 1), 1))):
            check_size(len(self.columns), number + len(rows) - 1, self._cell_limit)
            yield list(self._batch(rows, number))
            number += len(rows)

    def _batch_rows(self) -> int:
        return max(BATCH_CELLS // max(len(self.types), 1), 16)

    def _batch(self, rows: list[Any], first: int) -> Iterator[tuple[Cell, ...]]:
        """Canonical rows of `rows`, the first of them row number `first`: a column at a time
        (each distinct value converted once), or row by row where a row or a value is not as
        the metadata says, so that the error names its row."""
        if rows and set(map(type, rows)) == {list} and set(map(len, rows)) == {len(self.types)}:
            try:
                columns = [
                    _column(values, kind)
                    for values, kind in zip(zip(*rows, strict=True), self.types, strict=True)
                ]
            except _Irregular:
                pass
            else:
                yield from zip(*columns, strict=True)
                return
        for offset, row in enumerate(rows):
            yield self._row(row, first + offset)

    def _row(self, row: Any, number: int) -> tuple[Cell, ...]:
        if not isinstance(row, list):
            raise BadDataset(f"Dataset-JSON row {number} is not an array", row=number)
        if len(row) != len(self.columns):
            raise BadDataset(
                f"Dataset-JSON row {number} has {len(row)} values, the dataset has "
                f"{len(self.columns)} columns",
                row=number,
            )
        return tuple(_json_value(v, t, number) for v, t in zip(row, self.types, strict=True))

    def _check_count(self, count: int) -> None:
        if self.records is not None and self.records != count:
            raise BadDataset(
                f"Dataset-JSON declares {self.records} records but holds {count} rows",
                records=self.records,
                rows=count,
            )


def json_table(source: Source, *, loaded: bool) -> JsonTable:
    """The table, within the cell limit of a streamed dataset or of one held in memory."""
    return JsonTable(source, datasets.MAX_LOADED_CELLS if loaded else datasets.MAX_CELLS)


def _parse(data: bytes, what: str) -> Any:
    try:
        return parse_json(data)
    except BadJSON as exc:
        raise BadDataset(f"Dataset-JSON {what} is not valid JSON: {exc.detail}") from exc


def is_ndjson(source: Source) -> bool:
    """Whether the file is Dataset-JSON's NDJSON form (its first line the metadata)."""
    with source.open() as stream:
        return _ndjson_metadata(stream.readline(MAX_METADATA_LINE)) is not None


def _ndjson_metadata(line: bytes) -> dict[str, Any] | None:
    """The first line's metadata if the file is NDJSON (a whole object on the line, no rows)."""
    text = line.strip()
    if not text.startswith(b"{") or not text.endswith(b"}"):
        return None
    try:
        first = parse_json(text)
    except BadJSON:
        return None  # a document spread over lines, read whole below
    if not isinstance(first, dict) or "rows" in first or "columns" not in first:
        return None  # a whole document on one line (1.0 nests its rows deeper)
    version = first.get("datasetJSONVersion")
    if not (isinstance(version, str) and version.startswith("1.1")):
        raise BadDataset("Dataset-JSON NDJSON metadata: datasetJSONVersion is not 1.1")
    return first


def _refuse(*_: Any) -> Any:
    raise ValueError("read by parse_json")


#: Rows are arrays of plain values: one decoder, made once, reads them; a line it cannot read
#: (an object, NaN, a BOM, bad UTF-8 or JSON) is read again by `parse_json`, whose error it is.
_ROW_DECODER = json.JSONDecoder(object_pairs_hook=_refuse, parse_constant=_refuse)


def ndjson_rows(stream: Iterable[bytes]) -> Iterator[Any]:
    decode = _ROW_DECODER.decode
    for number, line in enumerate(stream, start=1):
        if line.strip():
            try:
                text = line.decode()
                row = decode(text) if not text.startswith("\ufeff") else _refuse()
            except (ValueError, RecursionError):
                row = _parse(line, f"row {number}")
            yield row


def _whole_document(stream: IO[bytes]) -> Any:
    data = stream.read(MAX_DOCUMENT + 1)
    if len(data) > MAX_DOCUMENT:
        raise BadDataset(
            f"a Dataset-JSON document over {MAX_DOCUMENT} bytes is read only in its NDJSON form",
            limit=MAX_DOCUMENT,
        )
    try:
        return parse_json(data)
    except BadJSON as exc:
        raise BadDataset(f"Dataset-JSON is not valid JSON: {exc.detail}") from exc


def _shape(doc: Any) -> tuple[Any, Any, Any, Any]:
    """(name, columns, rows, records) of a 1.1 document or of the 1.0 nested shape."""
    if not isinstance(doc, dict):
        raise BadDataset("Dataset-JSON must be a JSON object")
    version = doc.get("datasetJSONVersion")
    if isinstance(version, str) and version.startswith("1.1"):
        if "records" not in doc:
            raise BadDataset("Dataset-JSON 1.1 must declare its number of records")
        return doc.get("name"), doc.get("columns"), doc.get("rows"), doc["records"]
    if "clinicalData" in doc or "referenceData" in doc:
        return _dataset_json_10(doc)
    raise BadDataset("not CDISC Dataset-JSON 1.1: datasetJSONVersion is missing or not 1.1")


def _column_types(items: Any) -> tuple[list[str], list[str]]:
    """Each column's data type and name."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadDataset("Dataset-JSON columns must be a list of objects")
    if not items:
        raise BadDataset("Dataset-JSON has no column metadata")
    types: list[str] = []
    for index, item in enumerate(items):
        kind = item.get("dataType", item.get("type"))  # 1.0 calls it "type"
        oid = item.get("itemOID", item.get("OID"))
        if not isinstance(item.get("name"), str) or not isinstance(oid, str):
            raise BadDataset("Dataset-JSON column needs an itemOID and a name", column=index)
        if kind not in _JSON_TYPES:
            raise BadDataset(f"Dataset-JSON column has unknown dataType {kind!r}", column=index)
        types.append(kind)
    return types, [item["name"] for item in items]


def _dataset_json_10(doc: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
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
    return group.get("name"), items, rows, group.get("records")


def _json_value(value: Any, kind: str, row: int) -> Cell:
    if value is None:
        return None
    if kind in _JSON_NUMBER_TYPES:
        if isinstance(value, bool):
            raise BadDataset(f"Dataset-JSON row {row}: {kind} value is a boolean", row=row)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return number_cell(value)
        if isinstance(value, str):  # 1.1 writes decimals as strings to keep their precision
            return _json_decimal(value, row)
    elif kind == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    elif isinstance(value, str):
        return text_cell(value)
    raise BadDataset(f"Dataset-JSON row {row}: {value!r} is not a valid {kind}", row=row)


def _column(values: Sequence[Any], kind: str) -> Sequence[Cell]:
    """`_json_value` of each value of a column, each distinct value converted once; _Irregular
    if one is not of the column's type."""
    types = set(map(type, values))
    if kind in _JSON_NUMBER_TYPES and types <= {int, _NONE}:
        return _mapped(values, str)
    if kind in _JSON_NUMBER_TYPES and types <= {int, float, _NONE}:
        return _numbers(values)
    if kind in _JSON_NUMBER_TYPES and types <= {str, _NONE}:
        return _mapped(values, lambda text: _json_decimal(text, 0))
    if kind in _JSON_NUMBER_TYPES or kind == "boolean" or not types <= {str, _NONE}:
        raise _Irregular
    if types == {str} and "" not in values:
        joined = "\x00".join(values)
        clean = joined.count("\x00") == len(values) - 1  # no NUL inside a value
        if clean and " \x00" not in joined and not joined.endswith(" "):
            return values  # no blank and no trailing space: already canonical
    return _mapped(values, text_cell)


def _number(value: int | float) -> Cell:
    return str(value) if type(value) is int else number_cell(value)


#: `repr` writes a number as `_number` does but for integral doubles ("5.0", "1e+16", "-0.0")
#: and infinities and NaN.
_ODD_NUMBERS = (".0\x00", "e+", "n")


def _numbers(values: Sequence[Any]) -> Sequence[Cell]:
    """`_number` of each value of a column of integers, doubles and nulls, each distinct value
    converted once and most of them by C loops; _Irregular if one is not finite."""
    distinct = list(set(values).difference((None,)))
    texts = list(map(repr, distinct))
    canonical: dict[Any, Cell] = dict(zip(distinct, texts, strict=True))
    joined = "\x00" + "\x00".join(texts) + "\x00"
    for marker in _ODD_NUMBERS:
        for text in tokens_with(joined, marker):
            if "n" in text:
                raise _Irregular  # not finite: refused with its row
            value = float(text)  # the double `repr` wrote (int texts hold none of the markers)
            canonical[value] = number_cell(value)
    canonical[None] = None
    return list(map(canonical.__getitem__, values))


def _mapped(values: Sequence[Any], convert: Callable[[Any], Cell]) -> Sequence[Cell]:
    try:
        canonical = {value: convert(value) for value in set(values) if value is not None}
    except BadDataset:
        raise _Irregular from None
    canonical[None] = None
    return list(map(canonical.__getitem__, values))


def _json_decimal(text: str, row: int) -> Cell:
    if not text.strip():
        return None
    exact = decimal_literal(text)
    if exact is None:
        raise BadDataset(f"Dataset-JSON row {row}: {text!r} is not a number", row=row)
    # Agree with the double a SAS export would hold where it is the same value; otherwise keep
    # every digit (a context as wide as the literal, so normalising cannot round).
    wide = Context(prec=max(len(exact.as_tuple().digits), 1), Emax=MAX_EMAX, Emin=MIN_EMIN)
    return exact_number(text) or str(exact.normalize(wide))
