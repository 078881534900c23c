"""Delivering named-query results to webhook subscribers, outside any web request.

Each subscription remembers the last event it delivered (log index, position in the entry's
document). A pass reads the events recorded since then, keeps those its query answers its
party now (the same `answer_query` a request runs, so a subscription never sees more than its
party may read), and POSTs them in documents of at most MAX_EVENTS_PER_POST events, oldest
first. The mark moves past a document only when the subscriber answered it 2xx; a failure is
retried later, waiting twice as long after each failure in a row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.epcis.epc_format import convert_event, to_digital_link
from provenance.epcis.query import query_document
from provenance.epcis.simple_query import PAGE_LIMIT, time_bound
from provenance.errors import Error
from provenance.log.errors import ReadOnly
from provenance.log.service import Service
from provenance.log.statements import format_timestamp, now_timestamp
from provenance.log.store.engine import query, read_connection, write_transaction
from provenance.log.store.projection import DbView
from provenance.supply import named_queries, subscriptions, webhooks
from provenance.supply.query_schedule import parse_schedule
from provenance.supply.subscriptions import WHOLE_ENTRY, Subscription
from provenance.supply.web.epcis import answer_query

MAX_EVENTS_PER_POST = 1000
#: New events looked at per subscription and pass (a document holds at most 10,000).
MAX_CANDIDATES = 10_000
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MOST = timedelta(hours=1)
EPCIS_VERSION = "2.0.0"

Post = Callable[[str, bytes, Mapping[str, str], webhooks.Policy], int]


@dataclass
class PassReport:
    """What one pass did."""

    due: int = 0
    documents: int = 0  # POSTs answered 2xx
    events: int = 0
    failed: int = 0

    def summary(self) -> str:
        return (
            f"{self.due} subscriptions due: {self.documents} documents ({self.events} events) "
            f"delivered, {self.failed} failed"
        )


@dataclass(frozen=True)
class _Candidate:
    index: int
    position: int
    event: dict[str, Any]
    logged_at: str


def deliver_due(
    service: Service, policy: webhooks.Policy, now: datetime, post: Post = webhooks.post
) -> PassReport:
    """Run every subscription that is due at `now` once (in the app's context)."""
    if service.settings.read_only:
        # A document sent whose mark cannot move would be sent again at every pass.
        raise ReadOnly("this server is read-only (READ_ONLY): deliveries need to record progress")
    with read_connection(service.engine) as conn:
        waiting = subscriptions.due(conn, format_timestamp(now))
    report = PassReport(due=len(waiting))
    for subscription in waiting:
        try:
            _deliver(service, subscription, policy, now, post, report)
        except (webhooks.DeliveryFailed, Error) as exc:
            report.failed += 1
            failures = subscription.failures + 1
            wait = min(BACKOFF_FIRST * 2 ** min(failures - 1, 16), BACKOFF_MOST)
            detail = exc.detail if isinstance(exc, Error) else str(exc)
            with write_transaction(service.engine) as conn:
                subscriptions.update(
                    conn,
                    subscription.subscription_id,
                    failures=failures,
                    last_error=detail[:500],
                    due_at=format_timestamp(now + wait),
                )
    return report


def _deliver(
    service: Service,
    subscription: Subscription,
    policy: webhooks.Policy,
    now: datetime,
    post: Post,
    report: PassReport,
) -> None:
    with read_connection(service.engine) as conn:
        named = named_queries.get(conn, subscription.owner, subscription.query_name)
        if named is None:
            return  # deleted since the pass began, with its subscriptions
        profile = service.profile()
        reader = _reader(conn, subscription.owner, profile.rules if profile else 1)
        candidates = _candidates(conn, subscription)
    empty_report = subscription.schedule is not None and subscription.report_if_empty
    if not candidates and subscription.schedule is None and not subscription.failures:
        return  # an idle stream: nothing to send, nothing to record
    found = _answered(named.args(), reader, candidates) if candidates else []
    mark = (subscription.delivered_index, subscription.delivered_position)
    if not found and empty_report:
        _send(subscription, [], policy, post)
        report.documents += 1
    for start in range(0, len(found), MAX_EVENTS_PER_POST):
        chunk = found[start : start + MAX_EVENTS_PER_POST]
        _send(subscription, [c.event for c in chunk], policy, post)
        report.documents += 1
        report.events += len(chunk)
        mark = (chunk[-1].index, chunk[-1].position)
        _record(service, subscription, mark, now, notified=True, done=False)
    if candidates:
        last = candidates[-1]
        whole = len(candidates) < MAX_CANDIDATES
        mark = (last.index, WHOLE_ENTRY if whole else last.position)
    _record(service, subscription, mark, now, notified=bool(found) or empty_report, done=True)


def _record(
    service: Service,
    subscription: Subscription,
    mark: tuple[int, int],
    now: datetime,
    *,
    notified: bool,
    done: bool,
) -> None:
    values: dict[str, Any] = {"delivered_index": mark[0], "delivered_position": mark[1]}
    if notified:
        values["last_notified_at"] = format_timestamp(now)
    if done:
        values.update(failures=0, last_error=None, due_at=_next_due(subscription, now))
    with write_transaction(service.engine) as conn:
        subscriptions.update(conn, subscription.subscription_id, **values)


def _next_due(subscription: Subscription, now: datetime) -> str:
    if subscription.schedule is None:
        return format_timestamp(now)  # a stream is due at every pass
    return format_timestamp(parse_schedule(subscription.schedule).next_after(now))


def _reader(conn: Connection, gln: str, rules: int) -> Principal:
    """The subscribing party, as long as one of its keys may sign: a party shut out of the log
    is sent nothing more."""
    view = DbView(conn)
    party = view.party(gln)
    at = now_timestamp()
    if party is None or all(key.refusal(at, rules) for key in view.keys_of(gln)):
        raise webhooks.DeliveryFailed("the subscribing party has no key that may sign now")
    return Principal(gln=party.gln, name=party.name, roles=frozenset(party.roles), via="webhook")


def _candidates(conn: Connection, subscription: Subscription) -> list[_Candidate]:
    """The events recorded after the subscription's mark, in log order."""
    rows = query(
        conn,
        "SELECT e.idx, e.position, e.hash_id, e.event, "
        "(SELECT l.logged_at FROM log_entry l WHERE l.idx = e.idx) FROM epcis_event e "
        "WHERE e.idx > ? OR (e.idx = ? AND e.position > ?) "
        f"ORDER BY e.idx, e.position LIMIT {MAX_CANDIDATES}",
        (
            subscription.delivered_index,
            subscription.delivered_index,
            subscription.delivered_position,
        ),
    )
    found = []
    for idx, position, hash_id, raw, logged_at in rows:
        event = json.loads(raw)
        event.setdefault("eventID", hash_id)  # as the query answers it
        found.append(_Candidate(int(idx), int(position), event, str(logged_at)))
    return found


def _answered(args: Any, reader: Principal, candidates: list[_Candidate]) -> list[_Candidate]:
    """The candidates the query answers the reader, in log order, each as answered (with its
    recordTime) and its EPCs written as GS1 Digital Links, the binding's default."""
    by_id: dict[Any, list[_Candidate]] = {}
    for candidate in candidates:
        by_id.setdefault(candidate.event.get("eventID"), []).append(candidate)
    # Only entries from the first candidate's on: a record time bound is an index bound.
    since = max(time_bound(args.get("GE_recordTime")) or "", candidates[0].logged_at)
    found: dict[tuple[int, int], _Candidate] = {}
    token: str | None = None
    while True:
        page = args.copy()
        page.setlist("GE_recordTime", [since])
        page.setlist("perPage", [str(PAGE_LIMIT)])
        if token is not None:
            page.setlist("nextPageToken", [token])
        # As captured, to be compared with the stored events; a request's context, as the
        # query names its next page from it.
        with current_app.test_request_context(headers={"GS1-EPC-Format": "Never_Translates"}):
            answer = answer_query(page, reader)
        document = json.loads(answer.get_data())
        for event in document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]:
            # Two stored events with the same content are one event (the same hash ID).
            for candidate in by_id.get(event.get("eventID"), ()):
                key = (candidate.index, candidate.position)
                if key not in found and _same(candidate.event, event):
                    found[key] = _Candidate(*key, convert_event(event, to_digital_link), "")
        token = named_queries.next_page_token(answer.headers.get("Link"))
        if token is None:
            return [found[key] for key in sorted(found)]


def _same(stored: dict[str, Any], answered: dict[str, Any]) -> bool:
    # The answer may add the record time; the event is the rest.
    strip = {"recordTime"}
    return {k: v for k, v in stored.items() if k not in strip} == {
        k: v for k, v in answered.items() if k not in strip
    }


def _send(
    subscription: Subscription, events: list[dict[str, Any]], policy: webhooks.Policy, post: Post
) -> None:
    document = query_document(events, now_timestamp())
    document["epcisBody"]["queryResults"]["subscriptionID"] = subscription.subscription_id
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "GS1-EPCIS-Version": EPCIS_VERSION,
        "GS1-CBV-Version": EPCIS_VERSION,
    }
    if subscription.signature_token is not None:
        headers[webhooks.SIGNATURE_HEADER] = webhooks.signature(subscription.signature_token, body)
    post(subscription.dest, body, headers, policy)
