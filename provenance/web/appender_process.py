"""The log's appender process under gunicorn: started by the master before its workers, it
appends what every worker checked (provenance.log.appender), is started again if it dies, and
stops with the master."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Where the workers find the appender (read into the settings as APPENDER_SOCKET).
SOCKET_ENV = "PROVENANCE_APPENDER_SOCKET"
#: "0" runs no appender: each worker process appends for itself.
SWITCH_ENV = "PROVENANCE_APPENDER"
#: Milliseconds a transaction waits for more statements to share it and its checkpoint with.
WINDOW_ENV = "PROVENANCE_APPEND_WINDOW_MS"
DEFAULT_WINDOW_MS = "0"
#: How long the master waits for a new appender to answer before the workers start without it.
START_SECONDS = 60.0


def serve(path: str) -> None:
    """Run the appender for the log the environment configures, until SIGTERM or SIGINT."""
    from flask import Config

    from provenance.app import APP_METADATA
    from provenance.log.appender import AppenderServer
    from provenance.log.service import Service
    from provenance.log.settings import Settings
    from provenance.plugins import load_plugins
    from provenance.web import metrics
    from provenance.web.access_log import configure_logging

    configure_logging()
    config = Config(os.getcwd())
    config.from_prefixed_env("PROVENANCE")  # as create_app reads it
    settings = dataclasses.replace(Settings.from_config(config), appender_socket=None)
    plugins = load_plugins(settings.plugins)
    service = Service(settings, plugins.registry, APP_METADATA)
    transparency_log = service.log
    transparency_log.after_publish.append(metrics.count_append)
    if service.witnessing is not None:
        # The last checkpoint before a restart may not have reached every witness yet.
        service.witnessing.push_latest()
    window = float(os.environ.get(WINDOW_ENV) or DEFAULT_WINDOW_MS) / 1000
    server = AppenderServer(path, batch=transparency_log.append_checked_batch, window=window)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        Path(path).unlink(missing_ok=True)
        service.close()


#: This module, by name (run as a program it is `__main__`).
_MODULE = "provenance.web.appender_process"
#: An appender that stops this many times within RESTART_WINDOW seconds is not started again.
RESTARTS = 5
RESTART_WINDOW = 60.0


def supervise(path: str) -> None:
    """Run the appender in a child process, and start it again if it ends other than by being
    told to: workers reconnect to the same socket, and append for themselves meanwhile. Until
    SIGTERM or SIGINT, which it passes on (the appender finishes the transaction it is in)."""
    from provenance.web.access_log import configure_logging

    configure_logging()
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ends: collections.deque[float] = collections.deque(maxlen=RESTARTS)
    while not stopping:
        child = subprocess.Popen([sys.executable, "-m", _MODULE, "--serve", path])
        if stopping:  # told to stop while it was being started
            child.terminate()
        code = child.wait()
        if stopping:
            break
        ends.append(time.monotonic())
        if len(ends) == RESTARTS and ends[-1] - ends[0] < RESTART_WINDOW:
            log.error(
                "the appender stopped %d times within %.0f s (last exit status %s): it is not "
                "started again, and each worker process appends for itself",
                RESTARTS,
                RESTART_WINDOW,
                code,
            )
            break
        log.error("the appender stopped (exit status %s): starting it again", code)
        time.sleep(0.5)


def _answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            probe.connect(str(path))
        return True
    except OSError:
        return False


#: The appender processes this gunicorn master started (one, or None when it did not come up).
_started: list[subprocess.Popen[bytes] | None] = []


def start_for(server: Any) -> None:
    """gunicorn's `on_starting`: an appender for a server of several workers (one worker
    already shares its transactions among its threads)."""
    if server.cfg.workers > 1:
        _started.append(start())


def stop_started(server: Any) -> None:
    """gunicorn's `on_exit`: stop the appender `start_for` started."""
    while _started:
        stop(_started.pop())


def start() -> subprocess.Popen[bytes] | None:
    """Start the appender (from the gunicorn master, before it forks workers) and point the
    workers at it through the environment; None when switched off or when it does not come up
    (the workers then append for themselves)."""
    if os.environ.get(SWITCH_ENV, "1").strip() == "0":
        return None
    directory = Path(tempfile.mkdtemp(prefix="provenance-appender-"))  # mode 0700
    path = directory / "append.sock"
    process = subprocess.Popen([sys.executable, "-m", _MODULE, str(path)])
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        if _answers(path):
            os.environ[SOCKET_ENV] = str(path)
            return process
        time.sleep(0.05)
    log.error("the appender did not start; each worker process appends for itself")
    stop(process)
    return None


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Stop the appender (it finishes the transaction it is in) and remove its socket."""
    path = os.environ.pop(SOCKET_ENV, None)
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if path is not None:
        Path(path).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            Path(path).parent.rmdir()


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve(sys.argv[2])
    else:
        supervise(sys.argv[1])
