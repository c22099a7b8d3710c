"""Engine settings per database: SQLite pragmas and IMMEDIATE writes; PostgreSQL timeouts."""

from __future__ import annotations

import re
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_STATEMENT_TIMEOUT_MS = 30_000
PG_LOCK_TIMEOUT_MS = 10_000


def engine_options(uri: str) -> dict:
    """SQLAlchemy engine options for the database the URI names."""
    url = make_url(uri)
    if url.get_backend_name() == "postgresql":
        return {
            "pool_pre_ping": True,
            "connect_args": {
                "connect_timeout": 5,
                "options": f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS}"
                f" -c lock_timeout={PG_LOCK_TIMEOUT_MS}",
            },
        }
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}}
    return {}


def _unicode_lower(value):
    return value.lower() if isinstance(value, str) else value


class PercentileCont:
    """SQLite aggregate percentile_cont(Y, P): PostgreSQL's `percentile_cont(P) WITHIN GROUP (ORDER BY Y)` — the
    value at position P·(n−1) of the group's sorted values, interpolated between the two nearest — with the
    signature of SQLite's own percentile extension (3.47, not in the SQLite Python links to here). NULLs are left
    out; an empty group gives NULL."""

    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.0

    def step(self, value, fraction):
        if value is not None:
            self.values.append(value)
            self.fraction = fraction

    def finalize(self):
        values = sorted(self.values)
        if not values:
            return None
        position = self.fraction * (len(values) - 1)
        below = int(position)
        if below + 1 >= len(values):
            return values[below]
        return values[below] + (position - below) * (values[below + 1] - values[below])


# ----- SQLite: reading pages in parallel --------------------------------------------------------------------------
#
# Every write transaction begins IMMEDIATE (SECURITY R6): it takes the write lock at BEGIN, so a second writer waits
# for the first (busy_timeout) instead of failing when it upgrades a read to a write (WAL gives SQLITE_BUSY at once
# then, with no wait). But a page is a transaction too, held from its first query to the end of the request, and an
# IMMEDIATE one held the write lock all that time: two workers rendering two pages took turns, and the waiting one
# slept in SQLite's busy handler (1, 2, 5 ... 100 ms steps) — under load, a second of p99 for a page that costs a few
# milliseconds. So a GET or HEAD request first runs with its transactions begun DEFERRED (readers never wait in WAL);
# should it reach a write (a session touch once a minute, an export's audit entry), the write is refused before it
# is sent, the attempt rolled back and its response discarded, and the request runs again from the start with
# IMMEDIATE transactions, exactly as before. Every transaction that writes still began IMMEDIATE. The cost: a GET
# that writes does its reads twice. PostgreSQL needs none of this (MVCC; row locks).

_DEFERRED_KEY = "csrn_deferred_attempt"
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b"
                    r"|\s*WITH\b.*\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE | re.DOTALL)


class _ReadAttempt:
    """One run of a GET with deferred transactions; `needs_immediate` once it tried to write."""

    needs_immediate = False


_READ_ATTEMPT: ContextVar[_ReadAttempt | None] = ContextVar("csrn_read_attempt", default=None)


class WriteNeedsImmediate(Exception):  # noqa: N818 - a signal to the retry, not an error anyone sees
    """A read-only attempt of a GET reached a write: it runs again with IMMEDIATE transactions."""


def _discard(data) -> None:
    """The `write` of a response that will never be sent."""


def defer_read_transactions(wsgi_app):
    """Wrap a WSGI app (SQLite): GET and HEAD run with DEFERRED transactions, and again IMMEDIATE if they write."""

    def app(environ, start_response):
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return wsgi_app(environ, start_response)
        attempt = _ReadAttempt()
        started: list = []

        def hold(status, headers, exc_info=None):
            started[:] = [status, headers, exc_info]
            return _discard

        token = _READ_ATTEMPT.set(attempt)
        try:
            body = wsgi_app(dict(environ), hold)
        finally:
            _READ_ATTEMPT.reset(token)
        if not attempt.needs_immediate:
            start_response(*started)
            return body
        if hasattr(body, "close"):
            body.close()
        return wsgi_app(environ, start_response)

    return app


def configure_engine(engine: Engine) -> None:
    """Apply SQLite's pragmas and begin every transaction IMMEDIATE (SQLAlchemy's recipe), but a GET's reads."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        # Let SQLAlchemy, not the driver, emit BEGIN, so it can be IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # SQLite's own lower() folds ASCII only; searches must find "Lưu Trú" from "LƯU TRÚ" as on PostgreSQL.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
        # The demand report's percentiles by grouped SQL, as on PostgreSQL.
        dbapi_connection.create_aggregate("percentile_cont", 2, PercentileCont)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database and engine.url.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        attempt = _READ_ATTEMPT.get()
        # Which attempt this transaction belongs to (None: IMMEDIATE); set on every BEGIN, so a flag left on a
        # pooled connection by a reset that bypassed the events cannot outlive its transaction.
        connection.info[_DEFERRED_KEY] = attempt
        connection.exec_driver_sql("BEGIN" if attempt is not None else "BEGIN IMMEDIATE")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection):
        connection.info[_DEFERRED_KEY] = None

    @event.listens_for(engine, "before_cursor_execute")
    def _refuse_write_in_deferred(connection, cursor, statement, parameters, context, executemany):
        attempt = connection.info.get(_DEFERRED_KEY)
        if attempt is not None and _WRITE.match(statement):
            attempt.needs_immediate = True  # marked here, so no `except` on the way can hide it from the retry
            raise WriteNeedsImmediate(statement.split(None, 1)[0])


def escape_like(term: str) -> str:
    """Escape LIKE wildcards so a search for `%` or `_` finds those characters only (SECURITY V4)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
