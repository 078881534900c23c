"""The typed rows the trial statements read and write mirror the trials' tables."""

from __future__ import annotations

from typing import Any, get_args, get_type_hints

import pytest

from provenance.log.rows import Table
from trials.rows import TABLES
from trials.tables import METADATA


def test_every_trial_table_has_a_row_type() -> None:
    assert sorted(table.name for table in TABLES) == sorted(METADATA.tables)


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_row_type_mirrors_its_table_column_for_column(table: Table[Any]) -> None:
    hints = get_type_hints(table.row_type)
    columns = METADATA.tables[table.name].columns
    assert list(hints) == [column.name for column in columns]
    for column in columns:
        hint = hints[column.name]
        types = set(get_args(hint)) or {hint}
        assert (type(None) in types) == bool(column.nullable), column.name
        assert types - {type(None)} == {column.type.python_type}, column.name
