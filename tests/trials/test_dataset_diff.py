"""The amendment diff on its own: keys, rows added and removed, cells changed, columns, numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from trials.dataset_diff import DatasetDiff, Version
from trials.dataset_files import parse_dataset
from trials.dataset_keys import natural_key
from trials.datasets import Cell, content_hash

AE = ("STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AESEV")


def diff(
    domain: str,
    old: tuple[Sequence[str], list[Sequence[Cell]]],
    new: tuple[Sequence[str], list[Sequence[Cell]]],
    **options: Any,
) -> DatasetDiff:
    return DatasetDiff(
        domain, Version(tuple(old[0]), old[1]), Version(tuple(new[0]), new[1]), **options
    )


def cells(d: DatasetDiff) -> list[tuple[Any, ...]]:
    return [
        (tuple(c.key.values()), c.from_row, c.to_row, c.column, c.old, c.new)
        for c in d.changes()
        if c.kind == "cell"
    ]


def rows(d: DatasetDiff, kind: str) -> list[tuple[Any, ...]]:
    return [(tuple(c.key.values()), c.from_row, c.to_row) for c in d.changes() if c.kind == kind]


def test_sdtm_rows_are_keyed_by_study_subject_and_sequence() -> None:
    old = [
        ("S1", "AE", "S1-001", "1", "HEADACHE", "MILD"),
        ("S1", "AE", "S1-001", "2", "NAUSEA", "MILD"),
        ("S1", "AE", "S1-002", "1", "RASH", "MODERATE"),
    ]
    # Reordered, one grade corrected, one event removed and one added.
    new = [
        ("S1", "AE", "S1-002", "1", "RASH", "SEVERE"),
        ("S1", "AE", "S1-001", "1", "HEADACHE", "MILD"),
        ("S1", "AE", "S1-003", "1", "FATIGUE", None),
    ]
    d = diff("AE", (AE, old), (AE, new))
    assert (d.key_columns, d.key_source) == (("STUDYID", "USUBJID", "AESEQ"), "domain")
    assert cells(d) == [(("S1", "S1-002", "1"), 3, 1, "AESEV", "MODERATE", "SEVERE")]
    assert rows(d, "added") == [(("S1", "S1-003", "1"), None, 3)]
    assert rows(d, "removed") == [(("S1", "S1-001", "2"), 2, None)]
    removed = next(c for c in d.changes() if c.kind == "removed")
    assert removed.row == dict(zip(AE, old[1], strict=True))
    assert removed.subject == "S1-001"
    assert d.counts == {
        "rows_from": 3,
        "rows_to": 3,
        "rows_added": 1,
        "rows_removed": 1,
        "rows_changed": 1,
        "cells_changed": 1,
        "duplicate_keys": 0,
    }


def test_dm_is_keyed_by_subject_and_a_one_study_file_may_lack_studyid() -> None:
    columns = ("USUBJID", "SEX", "AGE")
    d = diff("DM", (columns, [("S-1", "F", "40")]), (columns, [("S-1", "F", "41")]))
    assert d.key_columns == ("USUBJID",)
    assert cells(d) == [(("S-1",), 1, 1, "AGE", "40", "41")]


@pytest.mark.parametrize(
    ("domain", "columns", "key", "source"),
    [
        ("LB", ("STUDYID", "USUBJID", "LBSEQ", "LBTESTCD"), ("STUDYID", "USUBJID", "LBSEQ"),
         "domain"),
        ("SUPPAE", ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QVAL"),
         ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"), "domain"),
        ("TS", ("STUDYID", "TSSEQ", "TSPARMCD", "TSVAL"), ("STUDYID", "TSPARMCD", "TSSEQ"),
         "domain"),
        ("AE", ("SUBJECT", "AESEQ", "AETERM"), ("SUBJECT", "AESEQ"), "seq"),
        ("XY", ("SUBJID", "QSSEQ", "QSORRES"), ("SUBJID", "QSSEQ"), "seq"),
        ("AE", ("SUBJECT", "AETERM", "AESTDT"), (), "row-order"),
    ],
)  # fmt: skip
def test_the_key_table_and_its_fallbacks(
    domain: str, columns: tuple[str, ...], key: tuple[str, ...], source: str
) -> None:
    assert natural_key(domain, columns) == (key, source)


def test_without_a_key_rows_are_aligned_by_content_and_paired_within_a_run() -> None:
    columns = ("SUBJECT", "AETERM", "AETOXGR")
    a, b, c, d = ("S-1", "A", "MILD"), ("S-1", "B", "MILD"), ("S-2", "C", "MILD"), ("S-3", "D", "1")
    old = [a, b, c, d]
    new = [("S-0", "Z", "MILD"), a, ("S-1", "B", "SEVERE"), c, ("S-3", "X", "1"), ("S-3", "Y", "1")]
    found = diff("AE", (columns, old), (columns, new))
    assert found.key_source == "row-order"
    # B was replaced by one row: paired, cell by cell. D was replaced by two rows: which of them
    # is D now is anybody's guess, so D is removed and both are added.
    changes = [(c.kind, c.subject, c.from_row, c.to_row, c.column, c.new) for c in found.changes()]
    assert changes == [
        ("added", "S-0", None, 1, None, None),
        ("cell", "S-1", 2, 3, "AETOXGR", "SEVERE"),
        ("added", "S-3", None, 5, None, None),
        ("added", "S-3", None, 6, None, None),
        ("removed", "S-3", 4, None, None, None),
    ]


def test_a_key_used_twice_is_reported_and_its_rows_matched_by_content() -> None:
    old = [
        ("S1", "AE", "S1-001", "1", "HEADACHE", "MILD"),
        ("S1", "AE", "S1-001", "1", "NAUSEA", "MILD"),
        ("S1", "AE", "S1-001", "2", "RASH", "MILD"),
    ]
    new = [
        ("S1", "AE", "S1-001", "1", "HEADACHE", "MILD"),
        ("S1", "AE", "S1-001", "1", "NAUSEA", "SEVERE"),
        ("S1", "AE", "S1-001", "2", "RASH", "SEVERE"),
    ]
    d = diff("AE", (AE, old), (AE, new))
    assert d.summary()["duplicate_keys"] == [{"STUDYID": "S1", "USUBJID": "S1-001", "AESEQ": "1"}]
    assert d.counts["duplicate_keys"] == 1
    # The unique key is compared cell by cell; of the duplicated key's rows, the unchanged one is
    # matched and the other is a row removed and a row added, never a guessed cell change.
    assert cells(d) == [(("S1", "S1-001", "2"), 3, 3, "AESEV", "MILD", "SEVERE")]
    assert rows(d, "added") == [(("S1", "S1-001", "1"), None, 2)]
    assert rows(d, "removed") == [(("S1", "S1-001", "1"), 2, None)]


def test_columns_added_removed_and_reordered() -> None:
    old = (("USUBJID", "AGE", "RACE"), [("S-1", "40", "ASIAN"), ("S-2", "50", "WHITE")])
    new = (("AGE", "USUBJID", "SEX"), [("41", "S-1", "F"), ("50", "S-2", "M")])
    d = diff("DM", old, new)
    summary = d.summary()["columns"]
    assert summary == {"added": ["SEX"], "removed": ["RACE"], "reordered": True}
    # Only the columns both versions have are compared: no change is made up for SEX or RACE.
    assert cells(d) == [(("S-1",), 1, 1, "AGE", "40", "41")]
    assert d.counts["rows_changed"] == 1
    same = diff(
        "DM", old, (("AGE", "USUBJID", "RACE"), [("40", "S-1", "ASIAN"), ("50", "S-2", "WHITE")])
    )
    assert (cells(same), same.columns_reordered) == ([], True)


def test_cells_missing_and_present() -> None:
    columns = ("USUBJID", "AGE")
    d = diff("DM", (columns, [("S-1", None)]), (columns, [("S-1", "40")]))
    assert cells(d) == [(("S-1",), 1, 1, "AGE", None, "40")]


def _csv(text: str) -> tuple[tuple[str, ...], list[Sequence[Cell]]]:
    dataset = parse_dataset(text.encode(), "csv")
    return dataset.columns, list(dataset.rows)


def test_numbers_are_compared_as_the_content_hash_reads_them() -> None:
    """`1.50` and `1.5`, `2.0` and `2` are the same number to the content hash, so no change;
    `0.30000000000000004` is a different double from `0.3`, so a change, unless both are rounded
    to 15 significant digits as `dataset-hash --digits 15` does; identifiers stay text."""
    header = "USUBJID,LBSEQ,LBSTRESN,LBREFID\n"
    old = header + "S-1,1,1.50,007\nS-1,2,2.0,010\nS-1,3,0.30000000000000004,011\n"
    new = header + "S-1,1,1.5,007\nS-1,2,2,010\nS-1,3,0.3,11\n"
    d = diff("LB", _csv(old), _csv(new))
    assert cells(d) == [
        (("S-1", "3"), 3, 3, "LBSTRESN", "0.30000000000000004", "0.3"),
        (("S-1", "3"), 3, 3, "LBREFID", "011", "11"),
    ]
    rounded = diff("LB", _csv(old), _csv(new), digits=15)
    assert cells(rounded) == [(("S-1", "3"), 3, 3, "LBREFID", "011", "11")]
    # No change at all is exactly an equal content hash.
    same = "USUBJID,LBSEQ,LBSTRESN\nS-1,1,1.50\n", "USUBJID,LBSEQ,LBSTRESN\nS-1,1,1.5\n"
    assert cells(diff("LB", *map(_csv, same))) == []
    hashes = {content_hash(parse_dataset(text.encode(), "csv")) for text in same}
    assert len(hashes) == 1


def test_a_long_list_is_cut_but_the_counts_are_whole() -> None:
    columns = ("USUBJID", "AGE")
    old = [(f"S-{n}", "40") for n in range(50)]
    new = [(f"S-{n}", "41") for n in range(50)] + [("S-99", "30")]
    answer = diff("DM", (columns, old), (columns, new)).as_json(limit=5)
    assert len(answer["cells_changed"]) == 5 and answer["truncated"]
    assert answer["cells_changed"][0] == {
        "key": {"USUBJID": "S-0"},
        "subject": "S-0",
        "from_row": 1,
        "to_row": 1,
        "column": "AGE",
        "old": "40",
        "new": "41",
    }
    assert answer["counts"]["cells_changed"] == 50
    assert answer["rows_added"][0]["row"] == {"USUBJID": "S-99", "AGE": "30"}
    small = diff("DM", (columns, old[:2]), (columns, new[:2])).as_json(limit=5)
    assert not small["truncated"]


def test_a_requested_key_must_be_in_both_versions() -> None:
    columns = ("USUBJID", "AGE")
    with pytest.raises(ValueError, match="AESEQ"):
        diff("DM", (columns, []), (columns, []), key=["USUBJID", "AESEQ"])
    d = diff("XX", (columns, [("S-1", "40")]), (columns, [("S-1", "41")]), key=["USUBJID"])
    assert (d.key_source, cells(d)) == ("requested", [(("S-1",), 1, 1, "AGE", "40", "41")])


def test_cells_no_reader_writes_are_still_told_apart() -> None:
    """A NUL or an empty string never comes out of a reader; held rows still keep them apart
    from a missing cell and from each other."""
    columns = ("USUBJID", "NOTE")
    old = [("S-1", "a\x00b"), ("S-2", ""), ("S-3", None)]
    new = [("S-1", "a\x00c"), ("S-2", None), ("S-3", None)]
    d = diff("DM", (columns, old), (columns, new))
    assert cells(d) == [
        (("S-1",), 1, 1, "NOTE", "a\x00b", "a\x00c"),
        (("S-2",), 2, 2, "NOTE", "", None),
    ]
