"""Prometheus metrics at /metrics: requests by route and status, their latency, append
transactions, the log's size and verification lag, and requests refused by the rate limits."""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from provenance.access.errors import RateLimited
from provenance.access.principal import Principal
from provenance.access.rules import Facts, Rule
from provenance.errors import Error
from provenance.log.service import Service
from provenance.log.store import logdb, verification
from provenance.log.store.engine import read_connection
from provenance.web import problems
from provenance.web.context import service
from provenance.web.openapi import openapi
from provenance.web.openapi_schemas import content

#: Set (before this module is imported) in every process of a multi-process server: the
#: counters then live in files there, and a scrape of any worker sums them all (gunicorn's
#: settings in provenance.web.gunicorn_conf set it).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: A scraper's bearer token must be long enough that guessing it is hopeless.
MIN_TOKEN_LENGTH = 16
#: The route label of a request that matched no route: never the path, which names lots,
#: serials and trials and would give every scanned pack a series of its own.
UNMATCHED = "(unmatched)"

# A `_created` timestamp series beside every counter doubles the exposition for no figure
# anyone here charts.
disable_created_metrics()  # type: ignore[no-untyped-call]
_OWN = CollectorRegistry()
REQUESTS = Counter(
    "provenance_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
    registry=_OWN,
)
LATENCY = Histogram(
    "provenance_http_request_duration_seconds",
    "Time from receiving a request to its last byte, by route template",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=_OWN,
)
APPENDS = Counter(
    "provenance_log_append_transactions",
    "Append transactions that committed and published a checkpoint",
    registry=_OWN,
)
RATE_LIMITED = Counter(
    "provenance_rate_limited_requests",
    "Requests refused with 429 rate-limited (a party's or a client network's limit)",
    registry=_OWN,
)

bp = Blueprint("metrics", __name__)


#: The counter and histogram of each (method, route, status): `labels` looks them up under a
#: lock and checks the labels on every call.
_series: dict[tuple[str, str | None, int], tuple[Any, Any]] = {}


def observe(method: str, route: str | None, status: int, seconds: float) -> None:
    """Count one answered request (the access log calls this as each answer ends)."""
    key = (method, route, status)
    series = _series.get(key)
    if series is None:
        label = route or UNMATCHED
        series = (REQUESTS.labels(method, label, str(status)), LATENCY.labels(label))
        if len(_series) < 10_000:  # methods come from clients: the cache stays bounded
            _series[key] = series
    series[0].inc()
    series[1].observe(seconds)


class _Forward(Collector):
    """This process's own counters, for a server of one process."""

    def collect(self) -> Iterator[Metric]:
        yield from _OWN.collect()


class LogCollector(Collector):
    """The log's size and how far verification lags behind it, read when scraped."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc

    def collect(self) -> Iterator[Metric]:
        if self.svc.schema.empty:
            return
        with read_connection(self.svc.engine) as conn:
            size = logdb.tree_size(conn)
            verified = verification.latest(conn)
        yield GaugeMetricFamily("provenance_log_entries", "Entries in the log", value=size)
        if verified is not None:
            done = int(verified[0])
            yield GaugeMetricFamily(
                "provenance_log_verified_entries",
                "Entries the last `flask --app app verify` found intact",
                value=done,
            )
            yield GaugeMetricFamily(
                "provenance_log_verification_lag_entries",
                "Entries appended since the last verification found the log intact",
                value=max(0, size - done),
            )


def exposition(svc: Service) -> bytes:
    """The Prometheus text format of every process's counters and the log's gauges."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward())
    registry.register(LogCollector(svc))
    return generate_latest(registry)


@bp.get("/metrics")
@openapi(
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4",
            "content": content({"type": "string"}, "text/plain"),
        }
    }
)
def metrics() -> Response:
    """The service's metrics in Prometheus text format. A scraper may send
    `Authorization: Bearer <METRICS_TOKEN>` instead of signing its requests."""
    return Response(exposition(service()), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def _may_scrape(who: Principal, facts: Facts) -> bool:
    if who.regulator:
        return True
    token = current_app.config.get("METRICS_TOKEN")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), str(token).encode())


#: Operational figures (traffic by route, the log's growth, verification lag) are no one's
#: business but the operator's and the regulators'; computing them reads the database.
SCRAPERS = Rule("regulators, or a scraper sending the METRICS_TOKEN bearer token", _may_scrape)
ACCESS: dict[str, Rule] = {"metrics.metrics": SCRAPERS}

_attaching = threading.Lock()


def count_append(note: str) -> None:
    """Count one append transaction (called with the checkpoint it published)."""
    APPENDS.inc()


def _attach_appends(svc: Service) -> bool:
    """Count the log's append transactions (the log object, which loads the keys, is made by
    the first request that needs it: a write, which is where this is called); False while
    there is no log to count."""
    try:
        log = svc.log
    except Error:
        return False  # no keys yet: nothing can be appended either
    with _attaching:
        if count_append not in log.after_publish:
            log.after_publish.append(count_append)
    return True


def _count_refusal(error: RateLimited) -> Response:
    RATE_LIMITED.inc()
    return problems.handle_error(error)


def install(app: Flask, svc: Service) -> None:
    """Serve /metrics, count rate-limit refusals, and count appends from the first write."""
    token = app.config.get("METRICS_TOKEN")
    if token and len(str(token)) < MIN_TOKEN_LENGTH:
        raise ValueError(f"METRICS_TOKEN must have at least {MIN_TOKEN_LENGTH} characters")
    app.register_error_handler(RateLimited, _count_refusal)

    attached: list[bool] = []

    @app.before_request
    def _appends() -> None:
        if attached or request.method in ("GET", "HEAD", "OPTIONS") or svc.settings.read_only:
            return
        if _attach_appends(svc):  # counted from now on
            attached.append(True)
