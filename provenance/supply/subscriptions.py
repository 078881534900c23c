"""Webhook subscriptions to named EPCIS queries (REST binding `/queries/{name}/subscriptions`)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from provenance.errors import BadParameter, NotFound
from provenance.log.errors import Conflict
from provenance.log.statements import format_timestamp
from provenance.log.store.engine import query, query_dicts
from provenance.supply import named_queries
from provenance.supply.named_queries import printable
from provenance.supply.query_schedule import parse_schedule
from provenance.supply.webhooks import Policy, check_destination

#: Subscriptions one party may keep, over all its queries.
MAX_SUBSCRIPTIONS = 50
MAX_TOKEN = 256
#: A watermark position past every event of its entry (a document holds at most 10,000).
WHOLE_ENTRY = 2**31 - 1
SUBSCRIPTION = named_queries.SUBSCRIPTION
_MEMBERS = {"dest", "signatureToken", "reportIfEmpty", "stream", "schedule", "initialRecordTime"}


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    owner: str
    query_name: str
    dest: str
    signature_token: str | None
    schedule: dict[str, str] | None  # None: a stream
    report_if_empty: bool
    initial_record_time: str | None
    created_at: str
    delivered_index: int
    delivered_position: int
    last_notified_at: str | None
    due_at: str
    failures: int
    last_error: str | None

    def json(self) -> dict[str, Any]:
        """As the binding answers it; never the signature token."""
        body: dict[str, Any] = {
            "subscriptionID": self.subscription_id,
            "queryName": self.query_name,
            "dest": self.dest,
            "createdAt": self.created_at,
        }
        if self.schedule is None:
            body["stream"] = True
        else:
            body.update(schedule=self.schedule, reportIfEmpty=self.report_if_empty)
        if self.initial_record_time is not None:
            body["initialRecordTime"] = self.initial_record_time
        if self.last_notified_at is not None:
            body["lastNotifiedAt"] = self.last_notified_at
        body["signed"] = self.signature_token is not None
        body["failures"] = self.failures
        if self.last_error is not None:
            body["lastError"] = self.last_error
        return body


@dataclass(frozen=True)
class Request:
    """A subscription as asked for, checked."""

    dest: str
    signature_token: str | None
    schedule: dict[str, str] | None
    report_if_empty: bool
    initial_record_time: str | None


def parse_request(body: Any, policy: Policy) -> Request:
    if not isinstance(body, dict):
        raise BadParameter("a subscription is a JSON object with dest, and stream or schedule")
    unknown = sorted(set(body) - _MEMBERS)
    if unknown:
        raise BadParameter(f"unknown subscription members: {', '.join(unknown)}", members=unknown)
    dest = body.get("dest")
    if not isinstance(dest, str):
        raise BadParameter("dest is the URL the query's results are sent to")
    check_destination(dest, policy)
    token = body.get("signatureToken")
    if token is not None and (
        not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN or not printable(token)
    ):
        raise BadParameter(f"signatureToken is a string of 1 to {MAX_TOKEN} printable characters")
    stream, schedule = body.get("stream", False), body.get("schedule")
    if not isinstance(stream, bool) or (stream == (schedule is not None)):
        raise BadParameter('a subscription has either "stream": true or a schedule, not both')
    if schedule is not None:
        parse_schedule(schedule)
    report_if_empty = body.get("reportIfEmpty", False)
    if not isinstance(report_if_empty, bool) or (report_if_empty and schedule is None):
        raise BadParameter("reportIfEmpty is true or false, and only for a scheduled subscription")
    initial = body.get("initialRecordTime")
    return Request(dest, token, schedule, report_if_empty, _record_time(initial))


def _record_time(value: Any) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadParameter("initialRecordTime is a date-time with an offset (RFC 3339)")
    return format_timestamp(moment)


def create(conn: Connection, owner: str, name: str, asked: Request, now: datetime) -> Subscription:
    """Subscribe to one of the party's queries, from `initialRecordTime` (default: now)."""
    if named_queries.get(conn, owner, name) is None:
        raise NotFound(f"you have no query named {name}")
    ((count,),) = query(conn, "SELECT count(*) FROM epcis_subscription WHERE owner = ?", (owner,))
    if int(count) >= MAX_SUBSCRIPTIONS:
        raise Conflict(f"a party keeps at most {MAX_SUBSCRIPTIONS} subscriptions")
    created = format_timestamp(now)
    due = created
    if asked.schedule is not None:
        due = format_timestamp(parse_schedule(asked.schedule).next_after(now))
    row = {
        "subscription_id": str(uuid.uuid4()),
        "owner": owner,
        "query_name": name,
        "dest": asked.dest,
        "signature_token": asked.signature_token,
        "schedule": json.dumps(asked.schedule) if asked.schedule is not None else None,
        "report_if_empty": int(asked.report_if_empty),
        "initial_record_time": asked.initial_record_time,
        "created_at": created,
        "delivered_index": _start(conn, asked.initial_record_time),
        "delivered_position": WHOLE_ENTRY,
        "last_notified_at": None,
        "due_at": due,
        "failures": 0,
        "last_error": None,
    }
    conn.execute(SUBSCRIPTION.insert().values(**row))
    return _subscription(row)


def _start(conn: Connection, initial_record_time: str | None) -> int:
    """The last log entry a new subscription is not sent: the last recorded before its
    initialRecordTime, or (by default) the last recorded so far."""
    ((last,),) = query(conn, "SELECT max(idx) FROM log_entry")
    high = -1 if last is None else int(last)
    return high if initial_record_time is None else _last_before(conn, initial_record_time, high)


def _last_before(conn: Connection, moment: str, high: int) -> int:
    """The last entry up to `high` recorded before `moment` (-1 if none): a log's times never
    go backwards, so a binary search by index finds it in a few reads."""
    low = -1  # entry `low` is before `moment`; those after `high` are not
    while low < high:
        middle = (low + high + 1) // 2
        ((at,),) = query(conn, "SELECT logged_at FROM log_entry WHERE idx = ?", (middle,))
        if str(at) < moment:
            low = middle
        else:
            high = middle - 1
    return low


def get(conn: Connection, owner: str, name: str, subscription_id: str) -> Subscription | None:
    rows = query_dicts(
        conn,
        "SELECT * FROM epcis_subscription "
        "WHERE subscription_id = ? AND owner = ? AND query_name = ?",
        (subscription_id, owner, name),
    )
    return _subscription(rows[0]) if rows else None


def page(
    conn: Connection, owner: str, name: str, after: str | None, limit: int
) -> list[Subscription]:
    rows = query_dicts(
        conn,
        "SELECT * FROM epcis_subscription WHERE owner = ? AND query_name = ? "
        f"AND subscription_id > ? ORDER BY subscription_id LIMIT {int(limit)}",
        (owner, name, after or ""),
    )
    return [_subscription(row) for row in rows]


def due(conn: Connection, now: str) -> list[Subscription]:
    """Every subscription whose time has come, the longest waiting first."""
    rows = query_dicts(
        conn, "SELECT * FROM epcis_subscription WHERE due_at <= ? ORDER BY due_at", (now,)
    )
    return [_subscription(row) for row in rows]


def delete(conn: Connection, owner: str, name: str, subscription_id: str) -> bool:
    removed = conn.execute(
        SUBSCRIPTION.delete().where(
            SUBSCRIPTION.c.subscription_id == subscription_id,
            SUBSCRIPTION.c.owner == owner,
            SUBSCRIPTION.c.query_name == name,
        )
    )
    return bool(removed.rowcount)


def update(conn: Connection, subscription_id: str, **values: Any) -> None:
    """Record a delivery's outcome (nothing, if the subscription was deleted meanwhile)."""
    conn.execute(
        SUBSCRIPTION.update()
        .where(SUBSCRIPTION.c.subscription_id == subscription_id)
        .values(**values)
    )


def _subscription(row: dict[str, Any]) -> Subscription:
    schedule = row["schedule"]
    return Subscription(
        subscription_id=str(row["subscription_id"]),
        owner=str(row["owner"]),
        query_name=str(row["query_name"]),
        dest=str(row["dest"]),
        signature_token=row["signature_token"],
        schedule=json.loads(schedule) if schedule is not None else None,
        report_if_empty=bool(row["report_if_empty"]),
        initial_record_time=row["initial_record_time"],
        created_at=str(row["created_at"]),
        delivered_index=int(row["delivered_index"]),
        delivered_position=int(row["delivered_position"]),
        last_notified_at=row["last_notified_at"],
        due_at=str(row["due_at"]),
        failures=int(row["failures"]),
        last_error=row["last_error"],
    )
