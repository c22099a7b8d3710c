"""Engine settings per database: SQLite pragmas and IMMEDIATE writes; PostgreSQL timeouts."""

from __future__ import annotations

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


def configure_engine(engine: Engine) -> None:
    """Apply SQLite's pragmas and begin every transaction IMMEDIATE (SQLAlchemy's recipe)."""
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
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def escape_like(term: str) -> str:
    """Escape LIKE wildcards so a search for `%` or `_` finds those characters only (SECURITY V4)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
