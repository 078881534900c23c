"""gunicorn settings for the service: `gunicorn -c python:provenance.web.gunicorn_conf
'provenance.app:create_app()'`. Workers count metrics together, log to stderr, and answer
gunicorn's own refusals as problem+json."""

from __future__ import annotations

import gc
import os
import tempfile
from pathlib import Path
from typing import Any

from provenance.web import appender_process
from provenance.web.access_log import configure_logging

#: The worker processes' shared counters (see provenance.web.metrics): one directory for this
#: server, made private, emptied at start so that counts of an earlier run are not added in.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
if not os.environ.get(MULTIPROCESS_DIR):
    os.environ[MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix="provenance-metrics-")

worker_class = "provenance.web.gunicorn_worker.ProblemThreadWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
# gunicorn's default: a request line (method, path, query) of at most 4094 bytes; a longer
# one is answered 414 as problem+json by the worker. Paths here are far shorter.
limit_request_line = 4094
# The app writes one JSON access line a request (provenance.web.access_log).
accesslog = None
errorlog = "-"


def on_starting(server: Any) -> None:
    directory = Path(os.environ[MULTIPROCESS_DIR])
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    configure_logging()
    appender_process.start_for(server)


on_exit = appender_process.stop_started


def post_worker_init(worker: Any) -> None:
    # The loaded application (Flask, SQLAlchemy, pandas, schemas) is long-lived: moving it out of
    # the collector's generations keeps each full collection from rescanning it. Capturing an
    # EPCIS document allocates many short-lived objects; this made capture about 20% faster.
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
