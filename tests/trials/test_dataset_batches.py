"""Datasets read a batch of rows and a column at a time say what reading cell by cell says."""

from __future__ import annotations

import csv
import io
import json
import random
from typing import Any

import pytest

from trials import dataset_csv, dataset_json
from trials.dataset_files import parse_dataset, summarise_bytes
from trials.dataset_sources import Source
from trials.datasets import Cell, content_hash, exact_number, text_cell
from trials.errors import BadDataset

#: Number texts of every kind: canonical, not canonical, and not numbers at all.
NUMBERS = [
    "0", "7", "-12", "123456789012345", "1234567890123456", "9007199254740993", "0.5", "-0.25",
    "12.100000000000001", "5.0", "-0", "-0.0", "1e5", "1E-7", "1e-05", "0.0001", "0.00001",
    "1e+16", ".5", "5.", "+3", "1.50", "3.14159",
]  # fmt: skip
TEXTS = ["007", "inf", "nan", "x", "A  ", " lead", "NaN", "1_000", "٣"]


def reference(text: str) -> tuple[tuple[str, ...], list[tuple[Cell, ...]]]:
    """The rows of a CSV as the rules say, a cell at a time: a column is numbers if every
    non-blank value is an exact number without a leading zero."""
    header, *records = list(csv.reader(io.StringIO(text)))
    numeric = [
        all(
            exact_number(value) is not None and not dataset_csv._LEADING_ZERO.match(value)
            for value in (record[i] for record in records)
            if value
        )
        for i in range(len(header))
    ]
    rows = [
        tuple(
            (exact_number(v) if v else None) if number else text_cell(v)
            for v, number in zip(record, numeric, strict=True)
        )
        for record in records
    ]
    return tuple(h.upper() for h in header), rows


def csv_text(columns: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f"c{i}" for i in range(len(columns))])
    writer.writerows(zip(*columns, strict=True))
    return out.getvalue()


def hash_of(columns: tuple[str, ...], rows: list[tuple[Cell, ...]]) -> str:
    from trials.datasets import Dataset

    return content_hash(Dataset("csv", None, columns, tuple(rows)))


@pytest.mark.parametrize("seed", range(4))
def test_csv_read_in_batches_hashes_as_cell_by_cell(seed: int) -> None:
    pick = random.Random(seed)
    size = 9000  # more than two batches
    columns = [
        [pick.choice(NUMBERS) for _ in range(size)],  # numbers, some not canonical
        [pick.choice(NUMBERS + [""]) for _ in range(size)],  # numbers and blanks
        [repr(pick.uniform(-1e6, 1e6)) for _ in range(size)],  # doubles as Python writes them
        [str(pick.randint(-(10**15), 10**15)) for _ in range(size)],
        [pick.choice(TEXTS + NUMBERS + [""]) for _ in range(size)],  # text
        [f"ID{n:06d}" for n in range(size)],
    ]
    # A column of numbers that holds text only in its last batch: the single pass starts again.
    columns.append([str(n) for n in range(size - 1)] + ["007"])
    text = csv_text(columns)
    expected = hash_of(*reference(text))
    summary = summarise_bytes(text.encode(), "csv")
    assert summary.content_hash == expected and summary.row_count == size
    assert content_hash(parse_dataset(text.encode(), "csv")) == expected


def test_csv_errors_still_name_their_row() -> None:
    rows = "\n".join(f"{n},x" for n in range(5000))
    with pytest.raises(BadDataset, match="CSV row 4002 contains a NUL character"):
        summarise_bytes(f"a,b\n{rows}\n".replace("4000,x", "4000,x\x00").encode(), "csv")
    with pytest.raises(BadDataset, match="CSV row 4502 has 3 fields, the header has 2"):
        summarise_bytes(f"a,b\n{rows}\n".replace("4500,x", "4500,x,y").encode(), "csv")


def test_a_one_column_csv_keeps_its_blank_lines_as_missing_values() -> None:
    data = b"A\n1\n\n2\n\n\n3\n\n"
    summary = summarise_bytes(data, "csv")
    assert summary.row_count == 6
    assert summary.content_hash == hash_of(
        ("A",), [("1",), (None,), ("2",), (None,), (None,), ("3",)]
    )


def ndjson(kinds: list[str], rows: list[list[Any]]) -> bytes:
    meta = {
        "datasetJSONVersion": "1.1.0",
        "records": len(rows),
        "name": "LB",
        "columns": [
            {"itemOID": f"IT.{i}", "name": f"C{i}", "label": "c", "dataType": kind}
            for i, kind in enumerate(kinds)
        ],
    }
    lines = [json.dumps(meta), *(json.dumps(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


def test_dataset_json_read_in_batches_hashes_as_value_by_value() -> None:
    pick = random.Random(7)
    kinds = ["integer", "double", "double", "decimal", "string", "string", "boolean"]
    values: list[list[Any]] = [
        [pick.randint(-100, 100) for _ in range(9000)],
        [pick.choice([1.5, 2.0, -0.0, 1e-7, 1e16, 3, None, 0.1 + 0.2]) for _ in range(9000)],
        [pick.uniform(-1, 1) for _ in range(9000)],
        [pick.choice(["1.50", "2", "-0.0", "1e3", None, " "]) for _ in range(9000)],
        [pick.choice(["a", "b  ", "", None, "ü"]) for _ in range(9000)],
        [f"S{n}" for n in range(9000)],
        [pick.choice([True, False, None]) for _ in range(9000)],
    ]
    rows = [list(row) for row in zip(*values, strict=True)]
    data = ndjson(kinds, rows)
    table = dataset_json.json_table(Source.of_bytes(data), loaded=False)
    expected = [
        tuple(dataset_json._json_value(v, k, n) for v, k in zip(row, kinds, strict=True))
        for n, row in enumerate(rows, start=1)
    ]
    assert list(table.rows()) == expected
    summary = summarise_bytes(data, "dataset-json")
    assert summary.content_hash == hash_of(table.columns, expected)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("x", "row 5001: 'x' is not a number"),
        (True, "row 5001: integer value is a boolean"),
        ([1], "row 5001"),
    ],
)
def test_dataset_json_errors_still_name_their_row(bad: Any, message: str) -> None:
    rows: list[list[Any]] = [[n, "a"] for n in range(6000)]
    rows[5000][0] = bad
    with pytest.raises(BadDataset, match=message):
        summarise_bytes(ndjson(["integer", "string"], rows), "dataset-json")
    rows[5000] = [5000, "a\x00b"]
    with pytest.raises(BadDataset, match="NUL"):
        summarise_bytes(ndjson(["integer", "string"], rows), "dataset-json")
