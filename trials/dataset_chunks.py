"""Large dataset files read on every core: parts of rows made canonical in worker processes,
hashed in file order into the very summary a single reader gives."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trials import datasets
from trials.dataset_csv import Cells, CsvTable, Retyped, part_batches, part_types
from trials.dataset_json import JsonTable, is_ndjson, ndjson_rows
from trials.dataset_sources import Source
from trials.datasets import (
    Cell,
    DatasetSummary,
    add_domains,
    canonical_rows,
    check_size,
    rounding,
    row_limit,
)

log = logging.getLogger(__name__)

#: Files smaller than this are read in the calling process: starting the workers and sending
#: the rows back costs more than it saves.
MIN_PARALLEL = 32 * 1024 * 1024
#: A part is about this many bytes of the file, cut at a line end.
PART = 4 * 1024 * 1024
#: A part longer than this many parts (a value many megabytes long, or quotes that do not
#: pair) is not cut: the file is read in order.
_LONGEST = 16
#: The file is scanned for line ends and quotes this many bytes at a time.
_BLOCK = 1 << 20
#: At most this many workers, whatever the number of cores.
MAX_WORKERS = 8


#: A function a worker runs, and its arguments.
_Task = tuple[Callable[..., Any], tuple[Any, ...]]


class _InOrder(Exception):
    """The file cannot be cut into parts read on their own: read it in order instead."""


@dataclass(frozen=True)
class _Part:
    """What a worker found in a part: its canonical rows joined as the hash takes them."""

    encoded: bytes
    rows: int
    domains: tuple[str, ...]
    numeric: tuple[bool, ...] = ()
    #: Blank lines at the part's end (an error if a record follows in a later part).
    tail: int = 0
    #: Columns whose cells read as numbers are those read as text (no number in them is
    #: written other than canonically).
    exact: tuple[bool, ...] = ()


def workers() -> int:
    """How many worker processes the cores this process may run on allow; none (1: read in
    this process) where no Python interpreter is at hand to start them with."""
    if not sys.executable or getattr(sys, "frozen", False):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(cores, MAX_WORKERS)


def summarise_parts(
    source: Source,
    fmt: str,
    digits: int | None = None,
    *,
    part: int | None = None,
    least: int | None = None,
) -> DatasetSummary | None:
    """The summary `summarise` gives, read by worker processes a part at a time; None where the
    file is better or only read in order (one core, a small or compressed file, XPT, a whole
    Dataset-JSON document, a one-column CSV, or anything a part cannot tell on its own, such as
    an error: reading in order then reports it as it always has)."""
    path = source.path
    if path is None or source.compression is not None or workers() < 2:
        return None
    try:
        if path.stat().st_size < (MIN_PARALLEL if least is None else least):
            return None
        part = part or PART
        if fmt == "csv":
            return _summarise_csv(source, path, digits, part)
        if fmt == "dataset-json":
            return _summarise_ndjson(source, path, digits, part)
    except _InOrder:
        return None
    return None


# --- CSV ---------------------------------------------------------------------------------------


def _summarise_csv(source: Source, path: Path, digits: int | None, part: int) -> DatasetSummary:
    columns = CsvTable(source, datasets.MAX_CELLS, typed=False).columns
    width = len(columns)
    if width < 2:
        raise _InOrder  # a one-column file's blank lines are rows
    domain = columns.index("DOMAIN") if "DOMAIN" in columns else None

    def tasks(numeric: tuple[bool, ...] | None) -> Iterator[_Task]:
        for start, end in _csv_ranges(path, part):
            yield _csv_part, (str(path), start, end, width, numeric, digits, domain)

    try:
        return _combine("csv", None, columns, tasks(None), typed=False)
    except _Disagree:
        pass
    # A column of numbers in one part holds text in another: type the columns first, as the
    # file read in order does.
    numeric = [True] * width
    type_tasks = (
        (_csv_types, (str(path), start, end, width)) for start, end in _csv_ranges(path, part)
    )
    for found in _in_order(type_tasks):
        numeric = [a and b for a, b in zip(numeric, found, strict=True)]
    return _combine("csv", None, columns, tasks(tuple(numeric)), typed=True)


def _csv_ranges(path: Path, part: int) -> Iterator[tuple[int, int]]:
    """Byte ranges of about `part` bytes, each ending at a line end outside quotes (an even
    number of quotes before it). A quote inside an unquoted value can make that guess wrong;
    the part before then ends inside a quoted value, which its reader finds."""
    start = position = parity = 0
    with path.open("rb") as stream:
        while block := stream.read(_BLOCK):
            counted = 0
            target = start + part - position
            while target < len(block):
                newline = block.find(b"\n", max(target, counted))
                if newline < 0:
                    break
                parity = (parity + block.count(b'"', counted, newline)) & 1
                counted = newline
                if parity:
                    target = newline + 1
                    continue
                end = position + newline + 1
                yield start, end
                start = end
                target = start + part - position
            parity = (parity + block.count(b'"', counted)) & 1
            position += len(block)
            if position - start > part * _LONGEST:
                raise _InOrder
    if start < position:
        yield start, position


def _csv_part(
    path: str,
    start: int,
    end: int,
    width: int,
    numeric: tuple[bool, ...] | None,
    digits: int | None,
    domain: int | None,
) -> _Part:
    """Worker: a part of a CSV file, typed by `numeric` or by its own rows."""
    context = rounding(digits)
    first = start == 0
    tail: list[int] = []
    types = [True] * width if numeric is None else list(numeric)
    pieces: list[bytes] = []
    rows = 0
    domains: list[str] = []
    cells = Cells(width)
    try:
        with _opened(path, start, end) as stream:
            for batch in part_batches(
                stream, cells, first=first, numeric=types, typed=numeric is not None, tail=tail
            ):
                rows += _encode(batch, pieces, domains, domain, context)
    except Retyped:
        if numeric is not None:
            raise
        # Its own columns change type within the part: type them over the part first.
        with _opened(path, start, end) as stream:
            types = list(part_types(stream, width, first=first))
        pieces, rows, domains, tail, cells = [], 0, [], [], Cells(width)
        with _opened(path, start, end) as stream:
            for batch in part_batches(
                stream, cells, first=first, numeric=types, typed=True, tail=tail
            ):
                rows += _encode(batch, pieces, domains, domain, context)
    exact = tuple(not inexact for inexact in cells.inexact)
    return _Part(b",".join(pieces), rows, tuple(domains), tuple(types), sum(tail), exact)


def _csv_types(path: str, start: int, end: int, width: int) -> tuple[bool, ...]:
    """Worker: which columns of a part of a CSV file hold only numbers."""
    with _opened(path, start, end) as stream:
        return part_types(stream, width, first=start == 0)


# --- Dataset-JSON as NDJSON --------------------------------------------------------------------


def _summarise_ndjson(source: Source, path: Path, digits: int | None, part: int) -> DatasetSummary:
    if not is_ndjson(source):
        raise _InOrder  # one document, parsed whole
    table = JsonTable(source, datasets.MAX_CELLS)
    domain = table.columns.index("DOMAIN") if "DOMAIN" in table.columns else None
    tasks = (
        (_ndjson_part, (str(path), start, end, tuple(table.types), table.columns, digits, domain))
        for start, end in _line_ranges(path, table.data_start(), part)
    )
    summary = _combine("dataset-json", table.name, table.columns, tasks, typed=True)
    table.check_count(summary.row_count)
    return summary


def _line_ranges(path: Path, start: int, part: int) -> Iterator[tuple[int, int]]:
    """Byte ranges from `start` of about `part` bytes, each ending at a line end."""
    size = path.stat().st_size
    with path.open("rb") as stream:
        while start < size:
            stream.seek(min(start + part, size))
            end = stream.tell()
            while end < size:
                block = stream.read(_BLOCK)
                newline = block.find(b"\n")
                if newline >= 0:
                    end += newline + 1
                    break
                end += len(block)
                if not block or end - start > part * _LONGEST:
                    raise _InOrder
            end = min(end, size)
            yield start, end
            start = end


def _ndjson_part(
    path: str,
    start: int,
    end: int,
    types: tuple[str, ...],
    columns: tuple[str, ...],
    digits: int | None,
    domain: int | None,
) -> _Part:
    """Worker: the rows of a part of an NDJSON file."""
    context = rounding(digits)
    table = JsonTable.of_columns(types, columns)
    pieces: list[bytes] = []
    rows = 0
    domains: list[str] = []
    with _opened(path, start, end) as stream:
        for batch in table.batches(ndjson_rows(stream), 1):
            rows += _encode(batch, pieces, domains, domain, context)
    return _Part(b",".join(pieces), rows, tuple(domains))


# --- the parts put together ------------------------------------------------------------------


class _Disagree(Exception):
    """Parts typed by their own rows disagree on a column's type."""


def _combine(
    fmt: str,
    name: str | None,
    columns: tuple[str, ...],
    tasks: Iterator[_Task],
    *,
    typed: bool,
) -> DatasetSummary:
    """Hash the parts' rows in file order, as `summarise_rows` hashes a row at a time; without
    `typed`, `_Disagree` if the parts typed by their own rows disagree."""
    sha = hashlib.sha256(b'{"columns":' + canonical_rows([columns]) + b',"rows":[')
    width, rows, tail = len(columns), 0, 0
    limit = row_limit(width, datasets.MAX_CELLS)
    domains: list[str] = []
    types = _Types()
    for found in _in_order(tasks):
        if tail and found.rows:
            raise _InOrder  # a blank line before a record: an error, as the file read in order says
        if not typed and found.rows:
            types.add(found)
        if found.rows:
            sha.update(b"," + found.encoded if rows else found.encoded)
        rows += found.rows
        tail += found.tail
        if rows >= limit:
            check_size(width, limit, datasets.MAX_CELLS)
        add_domains(domains, ([value] for value in found.domains), 0)
    sha.update(b"]}")
    return DatasetSummary(fmt, name, columns, rows, sha.hexdigest(), tuple(domains))


class _Types:
    """The column types of a CSV file read by parts, each part typed by its own rows: a column
    is numbers if it is in every part. A part that read as numbers a column that turns out to
    be text was read right only if its numbers were all written canonically (then the cells
    are the same either way); otherwise the parts `_Disagree`."""

    def __init__(self) -> None:
        self.numeric: list[bool] | None = None
        #: Columns of numbers that every part so far wrote canonically.
        self._exact: list[bool] = []

    def add(self, part: _Part) -> None:
        if self.numeric is None:
            self.numeric, self._exact = list(part.numeric), list(part.exact)
            return
        for index, (numbers, exact) in enumerate(zip(part.numeric, part.exact, strict=True)):
            if self.numeric[index] and not numbers:  # text from this part on
                if not self._exact[index]:
                    raise _Disagree
                self.numeric[index] = False
            elif numbers and not self.numeric[index] and not exact:
                raise _Disagree
            self._exact[index] = self._exact[index] and exact


def _encode(
    batch: Sequence[Sequence[Cell]],
    pieces: list[bytes],
    domains: list[str],
    domain: int | None,
    context: Any,
) -> int:
    if batch:
        pieces.append(canonical_rows(batch, context))
        if domain is not None:
            add_domains(domains, batch, domain)
    return len(batch)


@contextlib.contextmanager
def _opened(path: str, start: int, end: int) -> Iterator[io.BytesIO]:
    """The bytes of a part (at most `_LONGEST` parts long), read at once."""
    with open(path, "rb") as stream:
        stream.seek(start)
        yield io.BytesIO(stream.read(end - start))


# --- the worker processes ----------------------------------------------------------------------

#: What a worker may be asked to run, by name.
_TASKS: dict[str, Callable[..., Any]] = {}


class _Workers:
    """Worker processes started once, each a fresh interpreter (never a fork of a threaded
    server, and never running the caller's main module), fed tasks by pipe in turn and read in
    the same order. A worker ends when the process that started it does (its input closes)."""

    def __init__(self, count: int) -> None:
        # The caller's import path, so that the worker imports this very module.
        code = (
            "import sys; sys.path[:0] = sys.argv[1:]; import trials.dataset_chunks as w; w.serve()"
        )
        self._processes: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(count):
                self._processes.append(
                    subprocess.Popen(
                        [sys.executable, "-c", code, *sys.path],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        # Not stopped by the terminal's Ctrl-C: the end of its input ends it.
                        start_new_session=True,
                    )
                )
        except OSError as exc:
            self.stop()
            raise _InOrder from exc
        self.busy = threading.Lock()

    def alive(self) -> bool:
        return all(process.poll() is None for process in self._processes)

    def stop(self) -> None:
        for process in self._processes:
            with contextlib.suppress(OSError):
                process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()

    def run(self, tasks: Iterator[_Task]) -> Iterator[Any]:
        """The results of the tasks in their order, at most two a worker under way at once (so
        that what waits to be hashed stays a few parts); a task that fails is `_InOrder`."""
        count = len(self._processes)
        sent: deque[subprocess.Popen[bytes]] = deque()
        try:
            for number, (task, args) in enumerate(tasks):
                if len(sent) >= 2 * count:
                    yield _receive(sent.popleft())
                process = self._processes[number % count]
                assert process.stdin is not None
                try:
                    pickle.dump((task.__name__, args), process.stdin)
                    process.stdin.flush()
                except OSError as exc:  # the worker is gone: others are started next time
                    raise _InOrder from exc
                sent.append(process)
            while sent:
                yield _receive(sent.popleft())
        finally:
            # Whatever is under way is read and dropped, so that the next file starts afresh.
            while sent:
                with contextlib.suppress(_InOrder):
                    _receive(sent.popleft())


def _receive(process: subprocess.Popen[bytes]) -> Any:
    assert process.stdout is not None
    try:
        ok, result = pickle.load(process.stdout)
    except (EOFError, OSError, pickle.UnpicklingError) as exc:
        raise _InOrder from exc  # a worker was lost: `_workers` starts others next time
    if not ok:
        log.debug("a part of a dataset is read again in order: %s", result)
        raise _InOrder
    return result


_workers: _Workers | None = None
_workers_lock = threading.Lock()


@contextlib.contextmanager
def _pool() -> Iterator[_Workers | None]:
    """The worker processes, or None while another thread has them (it reads in order)."""
    global _workers
    with _workers_lock:
        if _workers is not None and not _workers.alive():
            _workers.stop()
            _workers = None
        if _workers is None:
            _workers = _Workers(workers())
            atexit.register(_workers.stop)  # not left for the interpreter to find running
        pool = _workers
    if not pool.busy.acquire(blocking=False):
        yield None
        return
    try:
        yield pool
    finally:
        pool.busy.release()


def _in_order(tasks: Iterator[_Task]) -> Iterator[Any]:
    with _pool() as pool:
        if pool is None:
            raise _InOrder
        yield from pool.run(tasks)


def serve() -> None:
    """In a worker: run the tasks that come in on standard input, answering on standard
    output, until the input closes."""
    tasks, answers = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # nothing else may write to the answers
    sys.stdout = sys.stderr
    _TASKS.update((task.__name__, task) for task in (_csv_part, _csv_types, _ndjson_part))
    while True:
        try:
            name, args = pickle.load(tasks)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, _TASKS[name](*args))
        except Exception as exc:  # an error, worded by the file read in order
            answer = (False, repr(exc))
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()
