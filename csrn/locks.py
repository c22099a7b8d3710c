"""One run of a scheduled job at a time, across hosts: when the app runs on several hosts each with cron, two
`tick` or `daily` runs at once must not both run a job (SECURITY L1's "jobs that never act twice").

PostgreSQL: a session advisory lock per job, on a connection of its own, released at the end (or when the process
dies and its connection closes). SQLite lives on one host: an exclusive `flock` on a lock file per job beside the
database, released likewise. Either way a run that finds the lock taken skips the job: the other run is doing it.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from sqlalchemy import text

from csrn.extensions import db


def _key(name: str) -> int:
    """The job's advisory lock key: a signed 64-bit integer from its name."""
    return int.from_bytes(hashlib.sha256(f"csrn job: {name}".encode()).digest()[:8], "big", signed=True)


def _lock_file(name: str) -> Path:
    database = db.engine.url.database
    folder = Path(database).resolve().parent if database and database != ":memory:" else Path(current_app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f".csrn-job-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.lock"


@contextmanager
def job_lock(name: str) -> Iterator[bool]:
    """Hold the job's lock while the block runs; yields False (and holds nothing) when another run has it."""
    if db.engine.dialect.name == "postgresql":
        connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            held = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _key(name)}).scalar())
            try:
                yield held
            finally:
                if held:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _key(name)})
        finally:
            connection.close()
        return
    with open(_lock_file(name), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
