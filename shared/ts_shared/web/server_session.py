"""Server-side sessions: the cookie holds an opaque random id and nothing else.

What a session holds (who is signed in, flashed messages) stays in the service's own database,
in its `web_sessions` table, under the SHA-256 of the id (a copy of the table gives no usable
cookie). Ending a session deletes its row, so a cookie saved before a logout, a revocation or a
password change is worthless when replayed. Nothing about the person travels in clear.

The staff services (accounts, notifier, stats) share one cookie: each keeps its own row under the
same id, and only the accounts service's row says who is signed in (the gateway asks it, see
`staff_session`). The CSRF token is derived from the id, so a form rendered by one staff service
posts to another (the logout button of the notifier's pages goes to accounts).

A visitor who is not signed in gets an id but no row until the session holds something (a
flashed message): browsing the sign-in page writes nothing to the database.

Flask-Session would need Flask-SQLAlchemy and stores a pickled dict; this is the small part of it
we need, over the service's own engine.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import cast

from flask import Flask, Request, Response, g
from flask import session as flask_session
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import Column, Engine, MetaData, String, Table, Text, delete, insert, select, update
from werkzeug.datastructures import CallbackDict

from ts_shared.db import UTCDateTime, database_unavailable, utcnow

CSRF_FIELD = "csrf_token"  # Flask-WTF's key in the session
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
PURGE_EVERY_SECONDS = 300


def web_sessions_table(metadata: MetaData) -> Table:
    """Define the `web_sessions` table on a service's metadata (created by its own migrations)."""
    return Table(
        "web_sessions",
        metadata,
        Column("id_hash", String(64), primary_key=True),
        # Whose session it is (e.g. "staff:12", "account:…"): every session of a person can be
        # ended at once (password changed, account disabled).
        Column("subject", String(100), nullable=True, index=True),
        Column("data", Text, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )


def _needs_no_session(request: Request) -> bool:
    endpoint = request.endpoint or ""
    return endpoint.rsplit(".", 1)[-1] == "static" or endpoint.startswith("ts_health.")


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class ServerSession(CallbackDict, SessionMixin):
    """Flask's `session` for one request. `sid` is the cookie's value; `subject` names whose
    session it is; `expires_at` ends it (set by the code that starts a session, or the
    interface's lifetime)."""

    def __init__(self, data: dict | None, *, sid: str, stored: bool, subject: str | None = None,
                 expires_at: datetime | None = None, csrf_secret: bytes):
        def on_update(session):
            session.modified = True
            session.accessed = True

        super().__init__(data, on_update)
        self.sid = sid
        self.stored = stored  # a row exists under this id
        self.subject = subject
        self.expires_at = expires_at
        self.modified = False
        self.accessed = False
        self.new_cookie = False
        self.unavailable = False  # the session store could not be read: the request is answered 503
        self.ended_sids: list[str] = []
        self._csrf_secret = csrf_secret
        self._derive_csrf()

    def _derive_csrf(self) -> None:
        # Set without marking the session modified: the token is never stored, only derived.
        token = hmac.new(self._csrf_secret, self.sid.encode(), hashlib.sha256).hexdigest()
        dict.__setitem__(self, CSRF_FIELD, token)

    def __getitem__(self, key):
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.accessed = True
        return super().get(key, default)

    def clear(self) -> None:
        super().clear()
        self._derive_csrf()

    def rotate(self) -> None:
        """A new id for this session (sign-in, sign-out: no fixation, and the old cookie is
        worthless); the old row is deleted when the response is saved."""
        if self.stored:
            self.ended_sids.append(self.sid)
        self.sid, self.stored, self.new_cookie = new_session_id(), False, True
        self.modified = True
        self._derive_csrf()
        g.pop(CSRF_FIELD, None)  # Flask-WTF caches the signed token of the old id per request

    def content(self) -> dict:
        return {key: value for key, value in self.items() if key != CSRF_FIELD}


class ServerSessionInterface(SessionInterface):
    """Sessions stored in `table` of `engine`'s database; a row lives `lifetime` unless the code
    that starts the session sets `session.expires_at`."""

    def __init__(self, engine: Engine, table: Table, *, lifetime: timedelta):
        self.engine = engine
        self.table = table
        self.lifetime = lifetime
        self._purged_at = 0.0

    # --- reading ------------------------------------------------------------------------------

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        secret = app.secret_key.encode() if isinstance(app.secret_key, str) else app.secret_key
        if not secret:
            raise RuntimeError("server sessions need the application's SECRET_KEY")
        sid = request.cookies.get(self.get_cookie_name(app), "")
        if _needs_no_session(request):  # static files, health and metrics: no database read
            return ServerSession(None, sid=sid if _SESSION_ID.match(sid) else new_session_id(), stored=False,
                                 csrf_secret=secret)
        if not _SESSION_ID.match(sid):
            session = ServerSession(None, sid=new_session_id(), stored=False, csrf_secret=secret)
            session.new_cookie = True
            return session
        try:
            row = self.load(sid)
        except Exception as error:
            if not database_unavailable(error):
                raise
            # The database is away: an empty session that is never written, so that the French 503
            # page can be rendered (create_app answers 503 before any view runs).
            session = ServerSession(None, sid=sid, stored=False, csrf_secret=secret)
            session.unavailable = True
            return session
        if row is None:  # never stored, ended or expired: an empty session under this id
            return ServerSession(None, sid=sid, stored=False, csrf_secret=secret)
        return ServerSession(json.loads(row.data), sid=sid, stored=True, subject=row.subject,
                             expires_at=row.expires_at, csrf_secret=secret)

    def load(self, sid: str):
        """The live row of a session id, or None."""
        with self.engine.begin() as connection:
            return connection.execute(select(self.table).where(
                self.table.c.id_hash == hash_session_id(sid), self.table.c.expires_at > utcnow())).first()

    # --- writing ------------------------------------------------------------------------------

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)  # what open_session gave this request
        if session.unavailable:
            return
        purge = time.monotonic() - self._purged_at >= PURGE_EVERY_SECONDS
        if session.ended_sids or session.modified:
            content, now = session.content(), utcnow()
            with self.engine.begin() as connection:
                for ended in session.ended_sids:
                    connection.execute(ending(self.table, sid=ended))
                if session.modified and content:
                    self._write(connection, session, content, now)
                elif session.modified and session.stored:
                    connection.execute(ending(self.table, sid=session.sid))
                    session.stored = False
                if purge:  # expired rows, a few minutes apart per process, when writing anyway
                    self._purged_at = time.monotonic()
                    connection.execute(delete(self.table).where(self.table.c.expires_at <= now))
        if session.new_cookie and (session.accessed or session.modified or session.stored):
            self._set_cookie(app, session, response)

    def _write(self, connection, session: ServerSession, content: dict, now: datetime) -> None:
        values = {"subject": session.subject, "data": json.dumps(content, default=str),
                  "expires_at": session.expires_at or now + self.lifetime}
        if session.stored:
            connection.execute(update(self.table).where(self.table.c.id_hash == hash_session_id(session.sid))
                               .values(**values))
        else:
            connection.execute(insert(self.table).values(id_hash=hash_session_id(session.sid), created_at=now,
                                                         **values))
            session.stored = True

    def _set_cookie(self, app: Flask, session: ServerSession, response: Response) -> None:
        # A browser-session cookie: the server decides when the session ends.
        response.set_cookie(
            self.get_cookie_name(app), session.sid, domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app), secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app), samesite=self.get_cookie_samesite(app),
        )
        response.vary.add("Cookie")


def ending(table: Table, *, sid: str | None = None, subject: str | None = None, keep_sid: str | None = None):
    """The DELETE that ends one session (`sid`) or every session of `subject` but `keep_sid`'s,
    to run in the caller's transaction (e.g. with a password change)."""
    if sid is not None:
        return delete(table).where(table.c.id_hash == hash_session_id(sid))
    condition = table.c.subject == subject
    if keep_sid is not None:
        condition &= table.c.id_hash != hash_session_id(keep_sid)
    return delete(table).where(condition)


def server_session() -> ServerSession:
    """Flask's `session`, typed as what `ServerSessionInterface` gives every request."""
    return cast(ServerSession, flask_session)
