"""A large dataset read by worker processes a part at a time has the summary (content hash, rows,
domains) and the errors of the same file read in order, wherever the parts are cut."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from trials import dataset_chunks, dataset_csv
from trials.dataset_files import summarise
from trials.dataset_sources import Source
from trials.datasets import DatasetSummary, exact_number
from trials.errors import BadDataset

pytestmark = pytest.mark.skipif(dataset_chunks.workers() < 2, reason="one core: read in order")

#: Parts this small cut a test file into dozens, at every kind of place.
PARTS = (97, 512, 4096)


def in_order(data: bytes, fmt: str, digits: int | None = None) -> DatasetSummary:
    """The summary of the bytes read in order (from memory: never by parts)."""
    return summarise(Source.of_bytes(data), fmt, digits)


def by_parts(
    tmp_path: Path, data: bytes, fmt: str, part: int, digits: int | None = None
) -> DatasetSummary | None:
    path = tmp_path / "data"
    path.write_bytes(data)
    return dataset_chunks.summarise_parts(Source.of_path(path), fmt, digits, part=part, least=0)


def error_of(read: Any) -> str:
    with pytest.raises(BadDataset) as caught:
        read()
    return str(caught.value)


def assert_given_up(read: Any, error: str) -> None:
    """Reading by parts gives up (the file read in order then says what is wrong), or says so
    itself, in the same words."""
    try:
        found = read()
    except BadDataset as exc:
        assert str(exc) == error
    else:
        assert found is None


def lab_csv(rows: int, seed: int, *, newline: str = "\n", bom: bool = False) -> bytes:
    """Numbers written canonically or not, text with quotes, commas and line ends inside
    quoted values, blanks and trailing spaces, and a DOMAIN column."""
    pick = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(["STUDYID", "DOMAIN", "USUBJID", "LBSEQ", "LBORRES", "LBSTRESN", "COMMENT"])
    for n in range(rows):
        writer.writerow(
            [
                "S1",
                "LB" if n % 50 else pick.choice(["LB", "VS"]),
                f"01-{n // 7:04d}",
                n + 1,
                pick.choice(["1.50", "2", "-0", "5.0", "1e5", "0.1", "", "3.25"]),
                repr(pick.uniform(-1e3, 1e3)) if n % 9 else pick.choice(["1e+16", "", "7"]),
                pick.choice(["", "plain", 'says "no"', "a,b", "two\nlines", "crlf\r\nend", "x  "]),
            ]
        )
    text = out.getvalue()
    return (("\ufeff" if bom else "") + text).encode()


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("seed", range(2))
def test_csv_by_parts_is_csv_in_order(tmp_path: Path, part: int, seed: int) -> None:
    for data in (lab_csv(600, seed), lab_csv(600, seed, newline="\r\n", bom=True)):
        expected = in_order(data, "csv")
        found = by_parts(tmp_path, data, "csv", part)
        assert found is not None  # read by parts, not given up
        assert found == expected
        assert found.domains == expected.domains and len(found.domains) == 2
        assert by_parts(tmp_path, data, "csv", part, digits=2) == in_order(data, "csv", 2)


def test_a_column_that_turns_to_text_in_a_later_part_is_text_throughout(tmp_path: Path) -> None:
    rows = [f"{n},{n / 4},{n % 3}" for n in range(3000)]
    rows[2500] = "2500,625.0,007"  # an identifier: the whole third column is text
    rows[40] = "40,ten,1"  # text within the first part, after its first batch
    data = ("A,B,C\n" + "\n".join(rows) + "\n\n\n").encode()
    expected = in_order(data, "csv")
    for part in PARTS:
        assert by_parts(tmp_path, data, "csv", part) == expected


def test_blank_lines_before_the_header_and_at_the_end_are_no_rows(tmp_path: Path) -> None:
    data = b"\n\nA,B\n" + b"".join(b"%d,x\n" % n for n in range(500)) + b"\n\n"
    assert by_parts(tmp_path, data, "csv", 97) == in_order(data, "csv")
    assert in_order(data, "csv").row_count == 500


def assert_read_in_order_on_error(tmp_path: Path, data: bytes, fmt: str) -> None:
    """Parts give up on a damaged file, which is then refused with the single reader's words."""
    path = tmp_path / f"bad.{fmt}"
    path.write_bytes(data)
    expected = error_of(lambda: in_order(data, fmt))
    assert_given_up(lambda: by_parts(tmp_path, data, fmt, 97), expected)
    assert error_of(lambda: summarise(Source.of_path(path), fmt)) == expected


@pytest.mark.parametrize(
    "damage",
    [
        lambda rows: rows.replace("400,x", "400,x\x00"),  # a NUL
        lambda rows: rows.replace("400,x", "400,x,y"),  # a row too wide
        lambda rows: rows.replace("400,x\n", "400,x\n\n"),  # a blank line before a record
        lambda rows: rows.replace("400,x", '400,"x'),  # a quoted value never closed
        lambda rows: rows.replace("400,x", "400,\udcff"),  # not UTF-8
    ],
)
def test_an_error_in_a_later_part_is_the_error_read_in_order(tmp_path: Path, damage: Any) -> None:
    rows = damage("".join(f"{n},x\n" for n in range(600)))
    data = ("A,B\n" + rows).encode(errors="surrogateescape")
    assert_read_in_order_on_error(tmp_path, data, "csv")


def test_a_quote_inside_an_unquoted_value_does_not_mislead_the_cuts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The quote in `5"` makes the count of quotes odd, so a cut guessed by counting quotes
    # lands inside the quoted value that follows: that part is read again in order.
    rows = [
        f"{n},{'a' if n % 5 else chr(34) + 'two' + chr(10) + 'lines' + chr(34)}" for n in range(400)
    ]
    rows[3] = '3,5"'
    data = ("A,B\n" + "\n".join(rows) + "\n").encode()
    expected = in_order(data, "csv")
    assert by_parts(tmp_path, data, "csv", 97) is None  # a part ends inside a quoted value
    for part in PARTS:
        assert by_parts(tmp_path, data, "csv", part) in (None, expected)
    path = tmp_path / "q.csv"
    path.write_bytes(data)
    monkeypatch.setattr(dataset_chunks, "MIN_PARALLEL", 0)
    monkeypatch.setattr(dataset_chunks, "PART", 97)
    assert summarise(Source.of_path(path), "csv") == expected


def ndjson(rows: list[list[Any]], records: int | None = None) -> bytes:
    kinds = ["string", "string", "integer", "double", "decimal", "string", "boolean"]
    meta = {
        "datasetJSONVersion": "1.1.0",
        "records": len(rows) if records is None else records,
        "name": "LB",
        "columns": [
            {"itemOID": f"IT.{i}", "name": name, "label": name, "dataType": kind}
            for i, (name, kind) in enumerate(
                zip(["STUDYID", "DOMAIN", "N", "X", "D", "T", "B"], kinds, strict=True)
            )
        ],
    }
    lines = [json.dumps(meta), *(json.dumps(row, ensure_ascii=False) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


def lab_rows(count: int, seed: int) -> list[list[Any]]:
    pick = random.Random(seed)
    return [
        [
            "S1",
            "LB" if n % 70 else "VS",
            n,
            pick.choice([1.5, 2.0, -0.0, 1e-7, 1e16, 3, None, 0.1 + 0.2, pick.uniform(-9, 9)]),
            pick.choice(["1.50", "2", "-0.0", "1e3", None, " "]),
            pick.choice(["a", "b  ", "", None, "ü", 'q"uote']),
            pick.choice([True, False, None]),
        ]
        for n in range(count)
    ]


@pytest.mark.parametrize("part", PARTS)
def test_ndjson_by_parts_is_ndjson_in_order(tmp_path: Path, part: int) -> None:
    data = ndjson(lab_rows(700, part))
    expected = in_order(data, "dataset-json")
    found = by_parts(tmp_path, data, "dataset-json", part)
    assert found is not None
    assert found == expected and found.name == "LB" and found.domains == ("VS", "LB")
    assert by_parts(tmp_path, data, "dataset-json", part, 3) == in_order(data, "dataset-json", 3)


@pytest.mark.parametrize(
    "damage",
    [
        lambda rows: rows.__setitem__(600, ["S1", "LB", "x", 1.0, None, "a", True]),
        lambda rows: rows.__setitem__(600, ["S1", "LB", 1]),
        lambda rows: rows.__setitem__(600, ["S1", "LB", 1, float("inf"), None, "a", True]),
        lambda rows: rows.__setitem__(600, ["S1", "LB", 1, 1.0, None, "a\x00b", True]),
    ],
)
def test_an_ndjson_error_in_a_later_part_is_the_error_read_in_order(
    tmp_path: Path, damage: Any
) -> None:
    rows = lab_rows(700, 1)
    damage(rows)
    data = ndjson(rows).replace(b"Infinity", b"1e999")
    assert_read_in_order_on_error(tmp_path, data, "dataset-json")


def test_an_ndjson_file_holding_other_than_it_declares_is_refused_by_parts(
    tmp_path: Path,
) -> None:
    data = ndjson(lab_rows(300, 2), records=299)
    path = tmp_path / "count.ndjson"
    path.write_bytes(data)
    with pytest.raises(BadDataset, match="declares 299 records but holds 300 rows"):
        dataset_chunks.summarise_parts(Source.of_path(path), "dataset-json", part=97, least=0)


def test_small_compressed_or_whole_files_are_read_in_order(tmp_path: Path) -> None:
    import gzip

    data = lab_csv(50, 0)
    path = tmp_path / "small.csv"
    path.write_bytes(data)
    assert dataset_chunks.summarise_parts(Source.of_path(path), "csv") is None  # small
    path.write_bytes(gzip.compress(data))
    assert dataset_chunks.summarise_parts(Source.of_path(path), "csv", least=0) is None
    document = {"datasetJSONVersion": "1.1.0", "records": 0, "columns": [], "rows": []}
    path.write_bytes(json.dumps(document).encode())
    assert dataset_chunks.summarise_parts(Source.of_path(path), "dataset-json", least=0) is None


def test_numbers_left_unconverted_are_canonical_already() -> None:
    """What the batch check does not flag is written as `exact_number` writes it, whichever way
    (pattern, int, float) it was found so."""
    pick = random.Random(5)

    def text() -> str:
        digits = "".join(pick.choice("0123456789") for _ in range(pick.randint(1, 18)))
        cut = pick.randint(0, len(digits))
        plain = digits[:cut] + ("." if pick.random() < 0.7 else "") + digits[cut:]
        return pick.choice(
            [
                ("-" if pick.random() < 0.3 else "") + plain,
                repr(pick.uniform(-1, 1) * 10 ** pick.randint(-8, 20)),
                pick.choice(["-0", "0.0", "1e+16", "0.0001", "0.00001", "1.50", "007", "5."]),
            ]
        )

    for _ in range(3000):
        values = {text() for _ in range(pick.randint(1, 20))}
        odd = dataset_csv._not_canonical(values)
        if odd is None:
            continue
        for value in values.difference(odd):
            assert exact_number(value) == value, value
