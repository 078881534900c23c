"""Group commit: concurrent submitters in one process share one transaction and checkpoint."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from provenance.errors import Error

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Waiter(Generic[Item, Result]):
    __slots__ = ("item", "outcome", "done")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.outcome: Result | BaseException | None = None
        self.done = False


class GroupCommit(Generic[Item, Result]):
    """Leader/follower batching: whoever finds no commit running commits everything queued.

    Nobody waits for a timer: a lone submitter commits at once, and under load each commit
    carries every submission that arrived while the previous one was running.
    """

    def __init__(self, commit: Callable[[Sequence[Item]], Sequence[Result | Error]]) -> None:
        self._commit = commit
        self._cond = threading.Condition()
        self._queue: list[_Waiter[Item, Result]] = []
        self._leader = False

    def submit(self, item: Item) -> Result:
        waiter: _Waiter[Item, Result] = _Waiter(item)
        with self._cond:
            self._queue.append(waiter)
            while self._leader and not waiter.done:
                self._cond.wait()
            if not waiter.done:
                self._leader = True
                batch, self._queue = self._queue, []
        if not waiter.done:
            self._lead(batch)
        if isinstance(waiter.outcome, BaseException):
            raise waiter.outcome
        return waiter.outcome  # type: ignore[return-value]

    def _lead(self, batch: list[_Waiter[Item, Result]]) -> None:
        try:
            outcomes: Sequence[Result | BaseException] = self._commit([w.item for w in batch])
        except BaseException as exc:  # the whole transaction failed: every member fails with it
            outcomes = [exc] * len(batch)
        with self._cond:
            for waiter, outcome in zip(batch, outcomes, strict=True):
                waiter.outcome, waiter.done = outcome, True
            self._leader = False
            self._cond.notify_all()
