"""Database failures the service can name, translated where the driver raises them."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

from provenance.errors import Error
from provenance.log.errors import LogNotInitialised, ReadOnly, StorageDamaged

log = logging.getLogger(__name__)

# SQLite primary result codes (https://sqlite.org/rescode.html); extended codes keep them in
# their low byte.
SQLITE_READONLY = 8
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
# PostgreSQL SQLSTATEs (Appendix A of its manual).
PG_READ_ONLY_TRANSACTION = "25006"
PG_UNDEFINED_TABLE = "42P01"
PG_DATA_CORRUPTED = "XX001"
PG_INDEX_CORRUPTED = "XX002"
#: How long the start-up integrity check may read before it gives up (a large file takes
#: minutes; `flask --app app verify` checks every entry anyway).
QUICK_CHECK_BUDGET_S = 2.0

#: What an operator must do when the store lost or changed what the log signed.
RESTORE = (
    "Restore the database from a backup or replica that holds every checkpoint the log "
    "published; do not continue from this state (README: Restoring the log)"
)


def translated(error: BaseException) -> Error | None:
    """The service's own error for a driver error it can name, or None."""
    message = str(error).strip()
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        if code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB):
            return StorageDamaged(f"the SQLite database file is damaged ({message}). {RESTORE}")
        if code & 0xFF == SQLITE_READONLY:
            return ReadOnly(f"the database refused a write ({message})")
        if message.startswith("no such table"):
            return _no_table(message)
    state = getattr(error, "sqlstate", None)
    if state in (PG_DATA_CORRUPTED, PG_INDEX_CORRUPTED):
        return StorageDamaged(f"PostgreSQL reports damaged data ({message}). {RESTORE}")
    if state == PG_READ_ONLY_TRANSACTION:
        return ReadOnly(f"the database refused a write ({message})")
    if state == PG_UNDEFINED_TABLE:
        return _no_table(message.splitlines()[0] if message else message)
    return None


def _no_table(message: str) -> Error:
    return LogNotInitialised(
        f"the database has no schema yet ({message}): run `flask --app app init` as the "
        "database owner"
    )


def translate_errors(engine: Engine) -> None:
    """Raise the service's errors in place of the driver's, for every statement of `engine`."""

    @event.listens_for(engine, "handle_error")
    def _translate(context: ExceptionContext) -> None:
        found = translated(context.original_exception)
        if found is not None:
            raise found from context.original_exception


def quick_check(engine: Engine) -> str | None:
    """SQLite's own structural check of the file, within a time budget: what it found wrong,
    or None (also when it ran out of time, which is logged)."""
    if engine.dialect.name != "sqlite":
        return None
    deadline = time.monotonic() + QUICK_CHECK_BUDGET_S
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        # Returning non-zero from the progress handler interrupts the statement.
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            rows = conn.exec_driver_sql("PRAGMA quick_check(5)").fetchall()
        except StorageDamaged as exc:
            return exc.detail
        except Exception as exc:  # noqa: BLE001  (an interrupt, or a file it cannot read at all)
            if "interrupted" in str(exc):
                log.warning("the start-up quick_check ran out of its %.0f s", QUICK_CHECK_BUDGET_S)
                return None
            raise
        finally:
            raw.set_progress_handler(None, 0)
    found = [str(row[0]) for row in rows]
    return None if found == ["ok"] else "; ".join(found)
