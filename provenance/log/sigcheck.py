"""Signature checks of a whole log fanned out over worker processes, with a bounded backlog."""

from __future__ import annotations

import multiprocessing
from collections import deque
from multiprocessing.pool import AsyncResult, Pool

from provenance.log.signing import is_valid_p256

SigJob = tuple[int, bytes, bytes, bytes]  # entry index, key DER, message (PAE), signature
SIG_CHUNK = 1000


def _verify_chunk(jobs: list[SigJob]) -> list[int]:
    return [index for index, der, message, sig in jobs if not is_valid_p256(der, message, sig)]


class SignatureChecks:
    """Signature checks fanned out over processes, with a bounded backlog."""

    def __init__(self, workers: int) -> None:
        self.pool: Pool | None = None
        if workers > 1:
            self.pool = multiprocessing.get_context("spawn").Pool(workers)
        self.backlog: deque[AsyncResult[list[int]]] = deque()
        self.limit = 4 * max(workers, 1)
        self.bad: list[int] = []
        self.jobs: list[SigJob] = []
        self.count = 0

    def add(self, job: SigJob) -> None:
        self.jobs.append(job)
        self.count += 1
        if len(self.jobs) >= SIG_CHUNK:
            self.flush()

    def flush(self) -> None:
        jobs, self.jobs = self.jobs, []
        if not jobs:
            return
        if self.pool is None:
            self.bad.extend(_verify_chunk(jobs))
            return
        self.backlog.append(self.pool.apply_async(_verify_chunk, (jobs,)))
        while len(self.backlog) > self.limit:
            self.bad.extend(self.backlog.popleft().get())

    def finish(self) -> list[int]:
        self.flush()
        while self.backlog:
            self.bad.extend(self.backlog.popleft().get())
        if self.pool is not None:
            self.pool.close()
            self.pool.join()
            self.pool = None
        return self.bad

    def abandon(self) -> None:
        """Stop the workers without waiting for queued checks (after a failure)."""
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
