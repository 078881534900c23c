"""gunicorn settings read from the working directory by `make run` and the benchmarks."""

import gc
from typing import Any

from provenance.web import appender_process

# Workers check signatures; one appender process shares transactions among all of them.
on_starting = appender_process.start_for
on_exit = appender_process.stop_started


def post_worker_init(worker: Any) -> None:
    # The loaded application (Flask, SQLAlchemy, pandas, schemas) is long-lived: moving it out of
    # the collector's generations keeps each full collection from rescanning it. Capturing an
    # EPCIS document allocates many short-lived objects; this made capture about 20% faster.
    gc.freeze()
