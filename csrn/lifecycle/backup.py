"""Online backups of the SQLite database (SECURITY R9): SQLite's backup API copies the whole database in one step
inside a read transaction, so the copy is the database as it stood at one instant while writes go on (WAL lets
them). Written beside the target and renamed into place, so a half-made copy never looks like a backup; checked
with `PRAGMA integrity_check` before it is called done. PostgreSQL is backed up with `pg_dump -Fc` (README).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from csrn.extensions import db


class BackupRefused(Exception):
    """The backup cannot be made as asked (with the reason, for the operator)."""


@dataclass
class BackupReport:
    path: Path
    size: int
    tables: int

    def __str__(self) -> str:
        return f"Backed up to {self.path}: {self.size:,} bytes, {self.tables} tables, integrity check ok"


def backup(target: Path) -> BackupReport:
    """Copy the database to `target`, a new file readable by its owner only (it holds everything, encrypted or
    not); never over an existing file, never leaving a half-made one."""
    if db.engine.dialect.name != "sqlite":
        raise BackupRefused("This database is PostgreSQL: back it up with pg_dump -Fc (see the README).")
    target = Path(target)
    if target.exists() or target.is_symlink():
        raise BackupRefused(f"{target} exists already: give a new file name.")
    if not target.parent.is_dir():
        raise BackupRefused(f"{target.parent} is not a folder.")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        source = db.engine.raw_connection()
        try:
            copy = sqlite3.connect(partial)
            try:
                source.driver_connection.backup(copy)  # every page in one step: one consistent instant
                integrity = copy.execute("PRAGMA integrity_check").fetchone()[0]
                tables = copy.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            finally:
                copy.close()
        finally:
            source.close()
        if integrity != "ok":
            raise BackupRefused(f"The copy failed its integrity check ({integrity}); nothing was kept.")
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        try:
            os.link(partial, target)  # fails if the target appeared meanwhile: nothing is overwritten
        except FileExistsError as exc:
            raise BackupRefused(f"{target} exists already: give a new file name.") from exc
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(target, target.stat().st_size, tables)
