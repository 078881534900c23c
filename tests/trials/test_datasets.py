"""Clinical-trial dataset files: equal data hashes equal across formats and re-exports."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest

from provenance.log.canonical import canonical_bytes, sha256_hex
from trials import datasets
from trials.dataset_files import FORMATS, detect_format, parse_dataset
from trials.datasets import Dataset, content_hash, raw_hash
from trials.errors import BadDataset

COLUMNS = ("STUDYID", "USUBJID", "AGE", "HEIGHT", "SEX", "RFSTDTC", "BRTHDT")
EXPECTED_ROWS = (
    ("CDISC01", "CDISC01-001", "34", "172.5", "M", "2024-01-15", "1990-01-02"),
    ("CDISC01", "CDISC01-002", "51", None, "F", "2024-02-01", "1973-05-06"),
    ("CDISC01", "CDISC01-003", "29", "160", "F", None, None),
)

DM_CSV = (
    "studyid,usubjid,age,height,sex,rfstdtc,brthdt\r\n"
    "CDISC01,CDISC01-001,34,172.5,M,2024-01-15,1990-01-02\r\n"
    "CDISC01,CDISC01-002,51,,F,2024-02-01,1973-05-06\r\n"
    "CDISC01,CDISC01-003,29,160.0,F,,\r\n"
)


def dm_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "STUDYID": ["CDISC01"] * 3,
            "USUBJID": ["CDISC01-001", "CDISC01-002", "CDISC01-003"],
            "AGE": [34, 51, 29],
            "HEIGHT": [172.5, math.nan, 160.0],
            "SEX": ["M", "F", "F"],
            "RFSTDTC": ["2024-01-15", "2024-02-01", ""],
            "BRTHDT": [dt.date(1990, 1, 2), dt.date(1973, 5, 6), None],
        }
    )


def write_xpt(path: Path, frame: pd.DataFrame, **options: Any) -> bytes:
    options.setdefault("table_name", "DM")
    options.setdefault("file_format_version", 5)
    options.setdefault("variable_format", {"BRTHDT": "DATE9."})
    pyreadstat.write_xport(frame, str(path), **options)
    return path.read_bytes()


def dm_dataset_json(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "datasetJSONCreationDateTime": "2024-03-01T10:00:00",
        "datasetJSONVersion": "1.1.0",
        "fileOID": "www.example.org/CDISC01/DM",
        "studyOID": "CDISC01",
        "itemGroupOID": "IG.DM",
        "records": 3,
        "name": "DM",
        "label": "Demographics",
        "columns": [
            {"itemOID": "IT.DM.STUDYID", "name": "STUDYID", "label": "Study", "dataType": "string"},
            {"itemOID": "IT.DM.USUBJID", "name": "USUBJID", "label": "Subj", "dataType": "string"},
            {"itemOID": "IT.DM.AGE", "name": "AGE", "label": "Age", "dataType": "integer"},
            {"itemOID": "IT.DM.HEIGHT", "name": "HEIGHT", "label": "Height", "dataType": "decimal"},
            {"itemOID": "IT.DM.SEX", "name": "SEX", "label": "Sex", "dataType": "string"},
            {"itemOID": "IT.DM.RFSTDTC", "name": "RFSTDTC", "label": "Start", "dataType": "date"},
            {
                "itemOID": "IT.DM.BRTHDT",
                "name": "BRTHDT",
                "label": "Birth date",
                "dataType": "date",
                "targetDataType": "integer",
            },
        ],
        "rows": [
            ["CDISC01", "CDISC01-001", 34, "172.5", "M", "2024-01-15", "1990-01-02"],
            ["CDISC01", "CDISC01-002", 51, None, "F", "2024-02-01", "1973-05-06"],
            ["CDISC01", "CDISC01-003", 29, "160.0", "F", None, None],
        ],
    }
    doc.update(overrides)
    return doc


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def csv_of(text: str) -> Dataset:
    return parse_dataset(text.encode(), "csv")


def bad(data: bytes, fmt: str) -> BadDataset:
    with pytest.raises(BadDataset) as info:
        parse_dataset(data, fmt)
    return info.value


# --- one table, every format, every export -------------------------------------------------------


def test_xpt_reads_values_names_and_sas_dates(tmp_path: Path) -> None:
    dataset = parse_dataset(write_xpt(tmp_path / "dm.xpt", dm_frame()), "xpt")
    assert dataset.format == "xpt"
    assert dataset.name == "DM"
    assert dataset.columns == COLUMNS
    assert dataset.rows == EXPECTED_ROWS
    assert (dataset.row_count, dataset.column_count) == (3, 7)


def test_reexported_xpt_differs_in_bytes_but_not_in_content(tmp_path: Path) -> None:
    first = write_xpt(tmp_path / "a.xpt", dm_frame())
    relabelled = write_xpt(tmp_path / "b.xpt", dm_frame(), file_label="DM re-export")
    # A later export: same data, different creation/modification stamps in the headers.
    stamp = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
    assert len(stamp.findall(first)) >= 2
    later = stamp.sub(b"07MAR25:09:41:12", first)
    version8 = write_xpt(tmp_path / "c.xpt", dm_frame(), file_format_version=8)
    exports = [first, relabelled, later, version8]
    assert len({raw_hash(data) for data in exports}) == 4
    hashes = {content_hash(parse_dataset(data, "xpt")) for data in exports}
    assert hashes == {content_hash(parse_dataset(first, "xpt"))}


def test_csv_and_dataset_json_of_the_same_table_hash_like_the_xpt(tmp_path: Path) -> None:
    xpt = parse_dataset(write_xpt(tmp_path / "dm.xpt", dm_frame()), "xpt")
    from_csv = csv_of(DM_CSV)
    from_bom_csv = parse_dataset(b"\xef\xbb\xbf" + DM_CSV.replace("\r\n", "\n").encode(), "csv")
    from_json = parse_dataset(encode(dm_dataset_json()), "dataset-json")
    assert from_csv.rows == from_json.rows == xpt.rows == EXPECTED_ROWS
    assert from_json.name == "DM" and from_csv.name is None
    assert {content_hash(d) for d in (xpt, from_csv, from_bom_csv, from_json)} == {
        content_hash(xpt)
    }


def test_content_hash_is_sha256_of_rfc8785_canonical_form() -> None:
    dataset = csv_of("a,b\n1,x\n")
    assert dataset.canonical() == {"columns": ["A", "B"], "rows": [["1", "x"]]}
    assert content_hash(dataset) == sha256_hex(canonical_bytes(dataset.canonical()))
    assert raw_hash(b"a,b\n1,x\n") == sha256_hex(b"a,b\n1,x\n")


def test_dataset_json_10_nested_shape_hashes_the_same() -> None:
    doc11 = dm_dataset_json()
    items = [{"OID": "ITEMGROUPDATASEQ", "name": "ITEMGROUPDATASEQ", "type": "integer"}] + [
        {"OID": c["itemOID"], "name": c["name"], "type": c["dataType"]} for c in doc11["columns"]
    ]
    item_data = [[n, *row] for n, row in enumerate(doc11["rows"], start=1)]
    doc10 = {
        "creationDateTime": "2024-03-01T10:00:00",
        "datasetJSONVersion": "1.0.0",
        "clinicalData": {
            "studyOID": "CDISC01",
            "itemGroupData": {
                "IG.DM": {"records": 3, "name": "DM", "items": items, "itemData": item_data}
            },
        },
    }
    dataset = parse_dataset(encode(doc10), "dataset-json")
    assert dataset.name == "DM"
    assert content_hash(dataset) == content_hash(parse_dataset(encode(doc11), "dataset-json"))


# --- the hash follows the data -------------------------------------------------------------------


def test_changing_one_cell_changes_the_hash(tmp_path: Path) -> None:
    frame = dm_frame()
    original = content_hash(parse_dataset(write_xpt(tmp_path / "a.xpt", frame), "xpt"))
    frame.loc[1, "AGE"] = 52
    changed = content_hash(parse_dataset(write_xpt(tmp_path / "b.xpt", frame), "xpt"))
    assert changed != original
    assert content_hash(csv_of(DM_CSV.replace(",51,", ",52,"))) == changed


def test_row_and_column_order_matter() -> None:
    lines = DM_CSV.splitlines()
    swapped = "\n".join([lines[0], lines[2], lines[1], lines[3]])
    assert content_hash(csv_of(swapped)) != content_hash(csv_of(DM_CSV))
    assert content_hash(csv_of("a,b\n1,2\n")) != content_hash(csv_of("b,a\n2,1\n"))


def test_missing_is_not_the_same_as_a_value() -> None:
    assert csv_of("a,b\n,x\n").rows == ((None, "x"),)
    assert content_hash(csv_of("a,b\n,x\n")) != content_hash(csv_of("a,b\n0,x\n"))


# --- canonical cells -----------------------------------------------------------------------------


def test_leading_zero_identifiers_stay_strings() -> None:
    dataset = csv_of("subjid,dose\n007,1.0\n010,2.50\n123,-0.0\n")
    assert dataset.rows == (("007", "1"), ("010", "2.5"), ("123", "0"))


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["1", "1.0", "1e3", "+2"], ["1", "1", "1000", "2"]),
        (["0.1", ".5", "-0.25"], ["0.1", "0.5", "-0.25"]),
        (["1", "abc"], ["1", "abc"]),  # one non-number makes the whole column text
        (["1.0", "inf"], ["1.0", "inf"]),
        (["1.0", "0.10000000000000000001"], ["1.0", "0.10000000000000000001"]),
        (["12345678901234567890", "1"], ["12345678901234567890", "1"]),  # beyond a double
        (["2024-01-15", "2024-02-01"], ["2024-01-15", "2024-02-01"]),
    ],
)
def test_csv_numeric_columns_are_decided_per_column(cells: list[str], expected: list[str]) -> None:
    dataset = csv_of("v\n" + "\n".join(cells) + "\n")
    assert [row[0] for row in dataset.rows] == expected


def test_single_column_csv_blank_line_is_a_missing_value() -> None:
    assert csv_of("subjid\n001\n\n002\n\n\n").rows == (("001",), (None,), ("002",))


def test_strings_lose_trailing_spaces_only() -> None:
    dataset = csv_of('a,b\n"  x  ",\t y\n"   ",z\n')
    assert dataset.rows == (("  x", "\t y"), (None, "z"))


def test_column_names_are_upper_cased_and_stripped() -> None:
    assert csv_of(" usubjid ,Age\nS-1,3\n").columns == ("USUBJID", "AGE")


def test_xpt_datetime_and_time_formats(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "DTM": [dt.datetime(2024, 1, 15, 8, 30, 5), None],
            "TM": [8 * 3600 + 30 * 60 + 5.0, math.nan],
            "DT": [dt.date(2024, 1, 15), None],
            "NUM": [-0.0, 0.1],
        }
    )
    formats = {"DTM": "E8601DT19.", "TM": "TIME8.", "DT": "YYMMDD10."}
    data = write_xpt(tmp_path / "t.xpt", frame, variable_format=formats, table_name="TIMES")
    dataset = parse_dataset(data, "xpt")
    assert dataset.name == "TIMES"
    assert dataset.rows == (
        ("2024-01-15T08:30:05", "08:30:05", "2024-01-15", "0"),
        (None, None, None, "0.1"),
    )


def test_dataset_json_numbers_and_booleans() -> None:
    columns = [
        {"itemOID": f"IT.{n}", "name": n, "dataType": t}
        for n, t in [("I", "integer"), ("F", "double"), ("D", "decimal"), ("B", "boolean")]
    ]
    rows = [
        [3, 1.0, "0.10000000000000000001", True],
        [None, -0.0, "1.50", False],
        [-7, 2.5, "0.1000000000000000000000000000000000000010", None],
    ]
    doc = dm_dataset_json(columns=columns, rows=rows, records=3)
    dataset = parse_dataset(encode(doc), "dataset-json")
    assert dataset.rows == (
        ("3", "1", "0.10000000000000000001", "true"),
        (None, "0", "1.5", "false"),
        # Beyond a double: every digit is kept, only trailing zeros go.
        ("-7", "2.5", "0.100000000000000000000000000000000000001", None),
    )


# --- rejections ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_file_is_rejected(fmt: str) -> None:
    assert "empty" in bad(b"", fmt).detail


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a,A\n1,2\n", "duplicate column name 'A'"),
        (b"a,b\n1,2\n3\n", "CSV row 3 has 1 fields, the header has 2"),
        (b"a,b\n1,2,3\n", "CSV row 2 has 3 fields"),
        (b"a,b\n1,\xff\n", "CSV is not UTF-8"),
        (b"a,b\n1,x\x00y\n", "NUL"),
        (b"a,\n1,2\n", "empty name"),
        (b'a,b\n"1"x,2\n', "CSV is malformed"),
        (b"\n\n", "no header"),
    ],
)
def test_bad_csv_is_rejected(data: bytes, message: str) -> None:
    assert message in bad(data, "csv").detail


def test_too_many_cells_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "MAX_LOADED_CELLS", 5)
    assert csv_of("a,b\n1,2\n3,4\n").row_count == 2
    error = bad(b"a,b\n1,2\n3,4\n5,6\n", "csv")
    assert error.extensions == {"limit": 5}
    assert "more than the limit of 5" in error.detail
    assert bad(encode(dm_dataset_json()), "dataset-json").extensions == {"limit": 5}


def test_xpt_over_the_cell_limit_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_xpt(tmp_path / "dm.xpt", dm_frame())
    monkeypatch.setattr(datasets, "MAX_LOADED_CELLS", 21)
    assert parse_dataset(data, "xpt").row_count == 3
    monkeypatch.setattr(datasets, "MAX_LOADED_CELLS", 20)
    assert bad(data, "xpt").extensions == {"limit": 20}


def test_default_cell_limits() -> None:
    # Held in memory whole: two million cells; streamed and hashed row by row: 400 million.
    assert datasets.MAX_LOADED_CELLS == 2_000_000
    assert datasets.MAX_CELLS == 400_000_000


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"columns": [], "rows": []}, "not CDISC Dataset-JSON 1.1"),
        (dm_dataset_json(datasetJSONVersion="2.0"), "not CDISC Dataset-JSON 1.1"),
        (dm_dataset_json(rows={"a": 1}), "rows must be a list of arrays"),
        (dm_dataset_json(columns="AGE"), "columns must be a list of objects"),
        (dm_dataset_json(columns=[{"name": "AGE", "dataType": "integer"}]), "itemOID"),
        (
            dm_dataset_json(columns=[{"itemOID": "X", "name": "A", "dataType": "blob"}]),
            "unknown dataType 'blob'",
        ),
        (dm_dataset_json(rows=[["CDISC01"]]), "row 1 has 1 values"),
        (dm_dataset_json(rows=[["S", "U", "3 4", "1", "M", None, None]]), "'3 4' is not a number"),
        (dm_dataset_json(rows=[["S", "U", True, "1", "M", None, None]]), "boolean"),
        (dm_dataset_json(rows=[["S", "U", 1, "x1", "M", None, None]]), "'x1' is not a number"),
        (dm_dataset_json(rows=[["S", 5, 1, "1", "M", None, None]]), "5 is not a valid string"),
    ],
)
def test_bad_dataset_json_is_rejected(doc: Any, message: str) -> None:
    assert message in bad(encode(doc), "dataset-json").detail


def test_dataset_json_must_be_strict_json() -> None:
    assert "not valid JSON" in bad(b'{"a": 1, "a": 2}', "dataset-json").detail
    assert "not valid JSON" in bad(b'{"a": NaN}', "dataset-json").detail
    assert "not valid JSON" in bad(b'{"a": "\xff"}', "dataset-json").detail


def test_duplicate_dataset_json_columns_are_rejected() -> None:
    columns = [{"itemOID": f"IT.{i}", "name": n, "dataType": "string"} for i, n in enumerate("aA")]
    doc = dm_dataset_json(columns=columns, rows=[])
    assert "duplicate column name 'A'" in bad(encode(doc), "dataset-json").detail


def test_bad_xpt_is_rejected(tmp_path: Path) -> None:
    assert "not a SAS transport" in bad(b"a,b\n1,2\n", "xpt").detail
    data = write_xpt(tmp_path / "dm.xpt", dm_frame())
    assert "the XPT file is cut short" in bad(data[:200], "xpt").detail


def test_unknown_format_is_rejected() -> None:
    error = bad(b"a,b\n", "parquet")
    assert "unknown dataset format 'parquet'" in error.detail
    assert error.extensions == {"formats": list(FORMATS)}


# --- detecting the format ------------------------------------------------------------------------


def test_detect_format_by_extension(tmp_path: Path) -> None:
    xpt = write_xpt(tmp_path / "dm.xpt", dm_frame())
    assert detect_format("dm.csv", DM_CSV.encode()) == "csv"
    assert detect_format("DM.XPT", xpt) == "xpt"
    assert detect_format("dm.json", encode(dm_dataset_json())) == "dataset-json"
    assert detect_format("ids.csv", b"subjid\n007\n") == "csv"  # one column: no comma to sniff


def test_detect_format_by_sniffing(tmp_path: Path) -> None:
    xpt = write_xpt(tmp_path / "dm.xpt", dm_frame())
    assert detect_format("upload", xpt) == "xpt"
    assert detect_format("dm.dat", b"\xef\xbb\xbf \n" + encode(dm_dataset_json())) == "dataset-json"
    assert detect_format("export.txt", DM_CSV.encode()) == "csv"


def test_detect_format_rejects_unknown_and_contradictory_files(tmp_path: Path) -> None:
    xpt = write_xpt(tmp_path / "dm.xpt", dm_frame())
    with pytest.raises(BadDataset, match="cannot tell the dataset format"):
        detect_format("notes.txt", b"just some words")
    with pytest.raises(BadDataset, match="empty"):
        detect_format("dm.csv", b"")
    with pytest.raises(BadDataset, match="file name says csv but the content looks like xpt"):
        detect_format("dm.csv", xpt)
    with pytest.raises(BadDataset, match="file name says xpt"):
        detect_format("dm.xpt", encode(dm_dataset_json()))
