"""Browser sessions: a one-time login link, made by a signed request, ends in a short session.

A person (or party) asks for a link with a request signed by their registered key (the
`provenance login` command); the link works once, for two minutes, and sets a session cookie
that lasts thirty minutes, is HttpOnly and SameSite=Strict, and authenticates only reads and
logging out. Everything that writes still needs a signed statement or a signed request.
A session lives on the server too: logging out ends it there, so a copied cookie dies with it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature as BadCookie
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, and_, or_

from provenance.log.files import write_secret
from provenance.log.statements import format_timestamp
from provenance.log.store.engine import is_read_only, query, write_transaction

LINK_LIFETIME = timedelta(minutes=2)
SESSION_LIFETIME = timedelta(minutes=30)
COOKIE = "provenance_session"

#: Off-log state of browser logins (never part of the log or its projection).
METADATA = MetaData()
LOGIN_LINK = Table(
    "login_link",
    METADATA,
    Column("nonce", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("expires_at", String(24), nullable=False),
    Column("used_at", String(24)),
    Column("session_until", String(24)),
    Column("ended_at", String(24)),
)
#: Nonces of signed requests that write, kept while their signature could still be accepted.
REQUEST_NONCE = Table(
    "request_nonce",
    METADATA,
    Column("key_id", String(64), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", String(24), nullable=False, index=True),
)


@dataclass(frozen=True)
class Sessions:
    """Login links and session cookies of one deployment."""

    engine: Engine
    secret: bytes

    @classmethod
    def under(cls, engine: Engine, data_dir: Path) -> Sessions:
        path = data_dir / "keys" / "session-secret"
        if not path.exists():
            if is_read_only(engine):  # no session can be made here: any secret will do
                return cls(engine, secrets.token_bytes(32))
            write_secret(path, secrets.token_bytes(32))
        return cls(engine, path.read_bytes())

    def new_link(self, key_id: str) -> tuple[str, str]:
        """A one-time login nonce for `key_id`, and when it expires."""
        nonce = secrets.token_urlsafe(32)
        expires = format_timestamp(datetime.now(UTC) + LINK_LIFETIME)
        with write_transaction(self.engine) as conn:
            conn.execute(LOGIN_LINK.insert().values(nonce=nonce, key_id=key_id, expires_at=expires))
        return nonce, expires

    def redeem(self, nonce: str) -> str | None:
        """A session cookie for the key a link logs in, once; None if the link is unknown,
        used or expired."""
        moment = datetime.now(UTC)
        now = format_timestamp(moment)
        link = LOGIN_LINK.c
        with write_transaction(self.engine) as conn:
            rows = query(
                conn,
                "SELECT key_id, expires_at, used_at FROM login_link WHERE nonce = ?",
                (nonce[:64],),
            )
            if not rows or rows[0][2] is not None or str(rows[0][1]) < now:
                return None
            until = format_timestamp(moment + SESSION_LIFETIME)
            conn.execute(
                LOGIN_LINK.update()
                .where(link.nonce == nonce)
                .values(used_at=now, session_until=until)
            )
            # Unused links and sessions past their time are of no use to anyone: forget them.
            conn.execute(
                LOGIN_LINK.delete().where(
                    or_(
                        and_(link.used_at.is_(None), link.expires_at < now),
                        link.session_until < now,
                    )
                )
            )
        return self._serializer().dumps({"key_id": str(rows[0][0]), "session": nonce})

    def spend_nonce(self, key_id: str, nonce: str, lifetime: timedelta) -> bool:
        """Record a signed request's nonce; False if the key already used it while a signature
        could still be fresh (the request is a replay)."""
        moment = datetime.now(UTC)
        now = format_timestamp(moment)
        table = REQUEST_NONCE.c
        with write_transaction(self.engine) as conn:
            conn.execute(REQUEST_NONCE.delete().where(table.expires_at < now))
            seen = query(
                conn,
                "SELECT 1 FROM request_nonce WHERE key_id = ? AND nonce = ?",
                (key_id, nonce),
            )
            if seen:
                return False
            conn.execute(
                REQUEST_NONCE.insert().values(
                    key_id=key_id, nonce=nonce, expires_at=format_timestamp(moment + lifetime)
                )
            )
        return True

    def key_of(self, cookie: str, conn: Connection) -> str | None:
        """The key a session cookie stands for, while it is untampered and its session is
        neither over nor ended."""
        found = self._load(cookie)
        if found is None:
            return None
        key_id, session = found
        rows = query(
            conn,
            "SELECT session_until FROM login_link"
            " WHERE nonce = ? AND key_id = ? AND ended_at IS NULL",
            (session, key_id),
        )
        now = format_timestamp(datetime.now(UTC))
        if not rows or rows[0][0] is None or str(rows[0][0]) < now:
            return None
        return key_id

    def end(self, cookie: str) -> None:
        """End the session a cookie carries (logging out), on the server."""
        found = self._load(cookie)
        if found is None:
            return
        now = format_timestamp(datetime.now(UTC))
        with write_transaction(self.engine) as conn:
            conn.execute(
                LOGIN_LINK.update().where(LOGIN_LINK.c.nonce == found[1]).values(ended_at=now)
            )

    def _load(self, cookie: str) -> tuple[str, str] | None:
        try:
            data = self._serializer().loads(cookie, max_age=int(SESSION_LIFETIME.total_seconds()))
        except BadCookie:
            return None
        if not isinstance(data, dict):
            return None
        key_id, session = data.get("key_id"), data.get("session")
        if not isinstance(key_id, str) or not isinstance(session, str):
            return None
        return key_id, session

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt="provenance-session")
