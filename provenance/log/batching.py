"""Group commit: concurrent submitters in one process share one transaction and checkpoint."""

from __future__ import annotations

import threading
import time
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

    By default nobody waits for a timer: a lone submitter commits at once, and under load each
    commit carries every submission that arrived while the previous one was running. With a
    `window` (seconds), a leader first waits that long, or until `most` submissions are queued,
    so that a commit and its checkpoint are shared by more submissions, for that much latency.
    """

    def __init__(
        self,
        commit: Callable[[Sequence[Item]], Sequence[Result | Error]],
        window: float = 0.0,
        most: int = 1000,
    ) -> None:
        self._commit = commit
        self._cond = threading.Condition()
        self._queue: list[_Waiter[Item, Result]] = []
        self._leader = False
        self.window = window
        self.most = most

    def submit(self, item: Item) -> Result:
        waiter: _Waiter[Item, Result] = _Waiter(item)
        with self._cond:
            self._queue.append(waiter)
            if self.window > 0 and len(self._queue) >= self.most:
                self._cond.notify_all()  # a waiting leader need not wait longer
            while self._leader and not waiter.done:
                self._cond.wait()
            if not waiter.done:
                self._leader = True
                if self.window > 0:
                    deadline = time.monotonic() + self.window
                    while len(self._queue) < self.most:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
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
