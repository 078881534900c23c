"""What an amendment changed: rows added and removed, and cells changed, keyed by natural keys."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context
from typing import Any

from trials.dataset_keys import SUBJECT_COLUMNS, natural_key
from trials.datasets import Cell, rounded_cell

#: How many examples of a key used more than once a diff lists.
DUPLICATE_EXAMPLES = 10

Key = tuple[Cell, ...]


@dataclass(frozen=True)
class Version:
    """One version's columns and its canonical rows, read once."""

    columns: tuple[str, ...]
    rows: Iterable[Sequence[Cell]]


@dataclass(frozen=True)
class Change:
    """One change: a row `added` or `removed` (with its cells), or a `cell` changed."""

    kind: str
    key: dict[str, Cell]
    from_row: int | None  # 1-based, in the earlier version
    to_row: int | None
    column: str | None = None
    old: Cell = None
    new: Cell = None
    row: dict[str, Cell] | None = None
    subject: Cell = None  # whose record, where the dataset names subjects (`SUBJECT_COLUMNS`)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "subject": self.subject,
            "from_row": self.from_row,
            "to_row": self.to_row,
        }
        if self.kind == "cell":
            out.update(column=self.column, old=self.old, new=self.new)
        else:
            out["row"] = self.row
        return out


@dataclass
class _Held:
    """A version's rows, each packed into one string (`_encode`), and their keys."""

    columns: tuple[str, ...]
    rows: list[Packed] = field(default_factory=list)
    index: dict[Key, list[int]] = field(default_factory=dict)
    shared: list[Packed] = field(default_factory=list)  # the common columns only (row order)


#: A row held as one string: its cells joined by NUL, a missing cell empty. Canonical cells are
#: never empty (a blank is missing) and hold no NUL (readers refuse it); a row that broke either
#: rule would be held as its JSON bytes instead, so no two rows are ever confused.
Packed = str | bytes


def _encode(cells: Sequence[Cell]) -> Packed:
    packed = "\x00".join([cell or "" for cell in cells])
    if packed.count("\x00") == len(cells) - 1 and "" not in cells:
        return packed
    return json.dumps(list(cells), ensure_ascii=False, separators=(",", ":")).encode()


def _decode(packed: Packed) -> list[Cell]:
    if isinstance(packed, bytes):
        cells: list[Cell] = json.loads(packed)
        return cells
    return [cell or None for cell in packed.split("\x00")]


class DatasetDiff:
    """Two versions compared. Holds both versions' rows, each packed into one string; the
    changes themselves are produced on demand (`changes`) and counted once (`counts`)."""

    def __init__(
        self,
        domain: str,
        old: Version,
        new: Version,
        *,
        key: Sequence[str] | None = None,
        digits: int | None = None,
    ) -> None:
        self.old_columns, self.new_columns = old.columns, new.columns
        common = [c for c in old.columns if c in set(new.columns)]
        self.common = tuple(common)
        if key:
            missing = [c for c in key if c not in self.common]
            if missing:
                raise ValueError(f"key columns not in both versions: {', '.join(missing)}")
            self.key_columns, self.key_source = tuple(key), "requested"
        else:
            self.key_columns, self.key_source = natural_key(domain, common)
        context = None if digits is None else Context(prec=digits, rounding=ROUND_HALF_EVEN)
        self._old = self._hold(old, context)
        self._new = self._hold(new, context)
        self.duplicate_keys = self._duplicates()
        self.counts = self._count()

    @property
    def columns_added(self) -> list[str]:
        return [c for c in self.new_columns if c not in set(self.old_columns)]

    @property
    def columns_removed(self) -> list[str]:
        return [c for c in self.old_columns if c not in set(self.new_columns)]

    @property
    def columns_reordered(self) -> bool:
        return [c for c in self.new_columns if c in set(self.common)] != list(self.common)

    def _hold(self, version: Version, context: Context | None) -> _Held:
        held = _Held(version.columns)
        at = {c: i for i, c in enumerate(version.columns)}
        keyed = [at[c] for c in self.key_columns]
        shared = [at[c] for c in self.common]
        whole = list(self.common) == list(version.columns)
        for number, row in enumerate(version.rows):
            if context is not None:
                row = [rounded_cell(cell, context) for cell in row]
            data = _encode(row)
            held.rows.append(data)
            if keyed:
                held.index.setdefault(tuple(row[i] for i in keyed), []).append(number)
            else:
                held.shared.append(data if whole else _encode([row[i] for i in shared]))
        return held

    def _duplicates(self) -> list[Key]:
        """Keys more than one row of either version has: their rows are matched by content."""
        if not self.key_columns:
            return []
        seen = {k for k, rows in self._old.index.items() if len(rows) > 1}
        seen |= {k for k, rows in self._new.index.items() if len(rows) > 1}
        return [k for k in self._new.index if k in seen] + [
            k for k in self._old.index if k in seen and k not in self._new.index
        ]

    def _count(self) -> dict[str, int]:
        counts = Counter({"rows_added": 0, "rows_removed": 0, "rows_changed": 0})
        changed_rows: set[int] = set()
        for change in self.changes():
            if change.kind == "cell":
                counts["cells_changed"] += 1
                changed_rows.add(change.to_row or 0)
            else:
                counts[f"rows_{change.kind}"] += 1
        counts["rows_changed"] = len(changed_rows)
        return {
            "rows_from": len(self._old.rows),
            "rows_to": len(self._new.rows),
            "rows_added": counts["rows_added"],
            "rows_removed": counts["rows_removed"],
            "rows_changed": counts["rows_changed"],
            "cells_changed": counts["cells_changed"],
            "duplicate_keys": len(self.duplicate_keys),
        }

    # --- the changes, in the later version's row order, then the rows removed ---------------

    def changes(self) -> Iterator[Change]:
        pairs = self._row_order() if not self.key_columns else self._keyed()
        for kind, i, j in pairs:
            if kind == "pair":
                assert i is not None and j is not None
                yield from self._cells(i, j)
            elif kind == "added":
                assert j is not None
                yield self._row_change("added", None, j)
            else:
                assert i is not None
                yield self._row_change("removed", i, None)

    def _keyed(self) -> Iterator[tuple[str, int | None, int | None]]:
        old, new = self._old.index, self._new.index
        removed: list[int] = []
        for key, news in new.items():
            olds = old.get(key, [])
            if len(olds) <= 1 and len(news) == 1:
                yield ("pair", olds[0], news[0]) if olds else ("added", None, news[0])
                continue
            # A key used more than once identifies no row: match its rows by whole content.
            waiting: dict[Packed, list[int]] = {}
            for i in olds:
                waiting.setdefault(self._shared(self._old, i), []).append(i)
            for j in news:
                same = waiting.get(self._shared(self._new, j))
                if same:
                    same.pop(0)
                else:
                    yield "added", None, j
            removed += [i for rows in waiting.values() for i in rows]
        removed += [i for key, rows in old.items() if key not in new for i in rows]
        for i in sorted(removed):
            yield "removed", i, None

    def _row_order(self) -> Iterator[tuple[str, int | None, int | None]]:
        """Without a key, rows are aligned as a text diff aligns lines; a run of rows replaced
        by as many rows is paired row by row, any other run is rows removed and added."""
        matcher = difflib.SequenceMatcher(None, self._old.shared, self._new.shared)
        removed: list[int] = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:
                yield from (("pair", i1 + k, j1 + k) for k in range(i2 - i1))
                continue
            yield from (("added", None, j) for j in range(j1, j2))
            removed += range(i1, i2)
        yield from (("removed", i, None) for i in removed)

    def _shared(self, held: _Held, number: int) -> Packed:
        row = _decode(held.rows[number])
        at = {c: k for k, c in enumerate(held.columns)}
        return _encode([row[at[c]] for c in self.common])

    def _cells(self, i: int, j: int) -> Iterator[Change]:
        before, after = self._old.rows[i], self._new.rows[j]
        if before == after and self.old_columns == self.new_columns:
            return
        old_row, new_row = _decode(before), _decode(after)
        old_at = {c: k for k, c in enumerate(self.old_columns)}
        new_at = {c: k for k, c in enumerate(self.new_columns)}
        key, subject = self._key(new_row, self.new_columns)
        for column in self.common:
            was, now = old_row[old_at[column]], new_row[new_at[column]]
            if was != now:
                yield Change("cell", key, i + 1, j + 1, column, was, now, subject=subject)

    def _row_change(self, kind: str, i: int | None, j: int | None) -> Change:
        held, number = (self._old, i) if i is not None else (self._new, j)
        assert number is not None
        row = _decode(held.rows[number])
        key, subject = self._key(row, held.columns)
        cells = dict(zip(held.columns, row, strict=True))
        from_row, to_row = (None if i is None else i + 1), (None if j is None else j + 1)
        return Change(kind, key, from_row, to_row, row=cells, subject=subject)

    def _key(self, row: list[Cell], columns: Sequence[str]) -> tuple[dict[str, Cell], Cell]:
        """The row's key, and its subject (where the dataset names one)."""
        at = {c: k for k, c in enumerate(columns)}
        subject = next((row[at[c]] for c in SUBJECT_COLUMNS if c in at), None)
        return {c: row[at[c]] for c in self.key_columns}, subject

    # --- summaries ------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        return {
            "key": {"columns": list(self.key_columns), "source": self.key_source},
            "columns": {
                "added": self.columns_added,
                "removed": self.columns_removed,
                "reordered": self.columns_reordered,
            },
            "counts": self.counts,
            "duplicate_keys": [
                dict(zip(self.key_columns, k, strict=True))
                for k in self.duplicate_keys[:DUPLICATE_EXAMPLES]
            ],
        }

    def as_json(self, limit: int) -> dict[str, Any]:
        """The summary and the first `limit` changes of each kind; `truncated` if there are more."""
        lists: dict[str, list[dict[str, Any]]] = {"cell": [], "added": [], "removed": []}
        truncated = False
        for change in self.changes():
            bucket = lists[change.kind]
            if len(bucket) < limit:
                bucket.append(change.as_json())
            else:
                truncated = True
        return {
            **self.summary(),
            "cells_changed": lists["cell"],
            "rows_added": lists["added"],
            "rows_removed": lists["removed"],
            "limit": limit,
            "truncated": truncated,
        }
