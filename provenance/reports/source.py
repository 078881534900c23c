"""One consistent read snapshot of the log's projection, handed to reports as pandas frames."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from provenance.log.service import Service
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection


class Source:
    """Reads for report pipelines; every read sees the same snapshot of the database."""

    def __init__(self, service: Service, conn: Connection) -> None:
        self.service = service
        self.conn = conn
        self.size = logdb.tree_size(conn)

    def frame(
        self, sql: str, params: tuple[Any, ...] = (), columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Rows of `sql` (with `?` markers) as a frame; column names from the cursor."""
        if self.conn.dialect.paramstyle != "qmark":
            sql = sql.replace("?", "%s")
        result = self.conn.exec_driver_sql(sql, params)
        names = list(columns) if columns is not None else list(result.keys())
        # Plain tuples: pandas probes each Row object's attributes, which costs microseconds a row.
        rows = [tuple(row) for row in result.fetchall()]
        return pd.DataFrame.from_records(rows, columns=names, coerce_float=False)

    def table(self, name: str, columns: Sequence[str] = ("*",)) -> pd.DataFrame:
        """A whole projection table (or some of its columns)."""
        return self.frame(f"SELECT {', '.join(columns)} FROM {name}")


@contextlib.contextmanager
def open_source(service: Service) -> Iterator[Source]:
    with read_connection(service.engine) as conn:
        yield Source(service, conn)
