"""Backups and what lies on disk (SECURITY R9, P8): an online SQLite backup taken while another thread writes is
whole (integrity check, every audit entry committed before it began, the chain verifies) and restores with the same
rows; PostgreSQL's pg_dump -Fc restores with pg_restore the same; neither the SQLite file nor a dump holds a known
alias, note, address or message in clear."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time
import uuid

import pytest
from sqlalchemy import MetaData, create_engine, func, select, text
from sqlalchemy.engine import make_url

import csrn.demo
from csrn.audit import operations as audit
from csrn.audit.models import AuditEvent
from csrn.cases.models import CaseFile, Message
from csrn.directory.models import Location
from csrn.extensions import db
from csrn.intake.models import Intake
from tests.conftest import NOW, build_app

pytestmark = pytest.mark.concurrency


def _seed(app, monkeypatch, tmp_path):
    monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
    with app.app_context():
        csrn.demo.seed(password="demo password for tests", force=True, now=NOW)
        db.session.remove()


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            meta = MetaData()
            meta.reflect(conn)
            return {name: conn.execute(select(func.count()).select_from(table)).scalar()
                    for name, table in meta.tables.items()}
    finally:
        engine.dispose()


def _known_values(app) -> dict[str, str]:
    """An alias, a narrative, a case's goals, a confidential address and a message of the demo, as the app reads
    them."""
    with app.app_context():
        found = {
            "alias": max(db.session.scalars(select(Intake.alias).where(Intake.alias.is_not(None))), key=len),
            "narrative": max(db.session.scalars(select(Intake.narrative).where(Intake.narrative.is_not(None))),
                             key=len),
            "goals": db.session.scalar(select(CaseFile.goals).where(CaseFile.goals != "")),
            "address": db.session.scalar(select(Location.address_1).where(Location.visibility == "confidential")),
            "message": db.session.scalar(select(Message.body)),
        }
        db.session.remove()
    assert all(value and len(value) >= 4 for value in found.values()), found  # the demo's aliases are initials
    return found


def _is_sqlite(app) -> bool:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite"


def test_a_sqlite_backup_under_write_load_is_whole_and_restores(committed_app, tmp_path, monkeypatch):
    app = committed_app
    if not _is_sqlite(app):
        pytest.skip("SQLite's online backup; PostgreSQL is backed up with pg_dump (the next tests)")
    _seed(app, monkeypatch, tmp_path)
    stop, written, errors = threading.Event(), [], []

    def write_load():
        with app.app_context():
            try:
                while not stop.is_set():
                    audit.record(None, "test.write_load", None, object_type="load", object_id=len(written))
                    db.session.commit()
                    written.append(1)
            except Exception as exc:  # noqa: BLE001 - reported by the test below
                errors.append(exc)
            finally:
                db.session.remove()

    writer = threading.Thread(target=write_load)
    writer.start()
    try:
        while len(written) < 20 and not errors:
            time.sleep(0.01)
        with app.app_context():
            committed_before = db.session.scalar(select(func.max(AuditEvent.id)))
            db.session.remove()
        copy = tmp_path / "backup.sqlite3"
        result = app.test_cli_runner().invoke(args=["csrn", "backup", str(copy)])
        during = len(written)
        while len(written) < during + 20 and not errors:  # the writes went on through the backup, and after it
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
    assert not errors, errors
    assert result.exit_code == 0 and "integrity check ok" in result.output, result.output
    assert copy.stat().st_mode & 0o777 == 0o600  # the owner's only
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
    connection = sqlite3.connect(copy)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = {row[0] for row in connection.execute("SELECT id FROM audit_event WHERE id <= ?", (committed_before,))}
    finally:
        connection.close()
    with app.app_context():
        source_ids = set(db.session.scalars(select(AuditEvent.id).where(AuditEvent.id <= committed_before)))
        db.session.remove()
    assert kept == source_ids
    copied = build_app(f"sqlite:///{copy}")
    with copied.app_context():
        assert audit.verify_chain() == (True, None)
        db.engine.dispose()
    # Restored into a fresh place once the writes have stopped: the same rows, and the app reads them.
    quiet = tmp_path / "quiet.sqlite3"
    assert app.test_cli_runner().invoke(args=["csrn", "backup", str(quiet)]).exit_code == 0
    restored = tmp_path / "restored" / "csrn.sqlite3"
    restored.parent.mkdir()
    shutil.copyfile(quiet, restored)
    assert _counts(f"sqlite:///{restored}") == _counts(app.config["SQLALCHEMY_DATABASE_URI"])
    assert _known_values(build_app(f"sqlite:///{restored}")) == _known_values(app)
    again = app.test_cli_runner().invoke(args=["csrn", "backup", str(quiet)])
    assert again.exit_code != 0 and "exists already" in again.output


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_tools():
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump and pg_restore are not installed")


def test_a_pg_dump_restores_into_a_fresh_database_with_the_same_rows(committed_app, tmp_path, monkeypatch):
    app = committed_app
    if _is_sqlite(app):
        pytest.skip("PostgreSQL's pg_dump; SQLite has its own backup (above)")
    _pg_tools()
    _seed(app, monkeypatch, tmp_path)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    dump = tmp_path / "csrn.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), _libpq(url)], check=True, capture_output=True)
    name = f"csrn_r_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    fresh = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        subprocess.run(["pg_restore", "--no-owner", "-d", _libpq(fresh), str(dump)], check=True,
                       capture_output=True)
        assert _counts(fresh) == _counts(url)
        assert _known_values(build_app(fresh)) == _known_values(app)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_no_identifying_value_lies_in_clear_in_the_file_or_a_dump(committed_app, tmp_path, monkeypatch):
    app = committed_app
    _seed(app, monkeypatch, tmp_path)
    known = _known_values(app)
    if _is_sqlite(app):
        copy = tmp_path / "copy.sqlite3"
        assert app.test_cli_runner().invoke(args=["csrn", "backup", str(copy)]).exit_code == 0
        stored = copy.read_bytes()
    else:
        _pg_tools()
        stored = subprocess.run(["pg_dump", _libpq(app.config["SQLALCHEMY_DATABASE_URI"])], check=True,
                                capture_output=True).stdout
    # The search finds what is stored in clear (the task force's name), so it would find the others too.
    assert b"River Valley Anti-Trafficking Task Force (demo)" in stored
    for what, value in known.items():
        assert value.encode() not in stored, what
