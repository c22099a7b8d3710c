"""SECURITY L1 (mechanism): field names never values, a hash chain that shows tampering, concurrent writers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from csrn.agencies import operations as agency_ops
from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.extensions import db
from tests.conftest import NOW

SECRET_NAME = "SENTINEL-Survivor-Alias-Maria-4471"
SECRET_PHONE = "+1 555 019 4471"
AUDIT_COLUMNS = ("at", "actor_id", "actor_email", "actor_agency_id", "action", "object_type", "object_id",
                 "fields", "ip", "prev_hash", "hash")


def _raw_rows() -> list[tuple]:
    columns = ", ".join(AUDIT_COLUMNS)
    return [tuple(row) for row in db.session.execute(text(f"SELECT {columns} FROM audit_event ORDER BY id"))]  # noqa: S608 - fixed names


def test_record_stores_field_names_never_values(app, create_agency, create_user):
    """An audited change lists which fields changed; none of the new or old values reach the log."""
    agency_id = create_agency(name="Before Name", phone="+1 555 010 0001")
    chair = create_user(roles=("chair",))
    with app.app_context():
        actor = db.session.get(User, chair.id)
        agency = db.session.get(Agency, agency_id)
        agency_ops.update_agency(
            actor, agency, {"name": SECRET_NAME, "phone": SECRET_PHONE, "county": agency.county},
            agency.version, NOW,
        )
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "agency.update").order_by(AuditEvent.id.desc())
        ).first()
        assert event.fields == "name,phone"  # the unchanged county is not listed
        assert event.actor_id == chair.id and event.actor_email == chair.email
        assert event.actor_agency_id == chair.agency_id
        assert (event.object_type, event.object_id) == ("agency", str(agency_id))
        assert event.at == NOW
        dump = repr(_raw_rows())
    for value in (SECRET_NAME, SECRET_PHONE, "Before Name", "0001"):
        assert value not in dump


def test_record_given_values_keeps_only_names(ctx):
    """Even handed a mapping of values, record keeps the keys (sorted, once each) and drops the values."""
    event = audit.record(None, "test.values", object_type="thing", object_id=7,
                         fields={"name": SECRET_NAME, "dob": "1999-01-01", "alias": SECRET_NAME}, now=NOW)
    assert event.fields == "alias,dob,name"
    assert SECRET_NAME not in repr(_raw_rows())
    assert "1999-01-01" not in repr(_raw_rows())


def test_record_is_part_of_the_callers_transaction(ctx):
    """The audit row is written in the same transaction: a rollback of the change takes it away too."""
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    audit.record(None, "test.rolled_back", object_type="thing", object_id=1, now=NOW)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def _three_events() -> list[int]:
    ids = [
        audit.record(None, f"test.event{n}", object_type="thing", object_id=n, fields=["a"],
                     now=NOW + timedelta(minutes=n)).id
        for n in range(3)
    ]
    db.session.commit()
    return ids


def test_chain_links_each_event_to_the_one_before(ctx):
    """Each event carries the previous event's hash; the first links to the genesis value."""
    ids = _three_events()
    events = [db.session.get(AuditEvent, event_id) for event_id in ids]
    previous = db.session.scalar(
        select(AuditEvent.hash).where(AuditEvent.id < ids[0]).order_by(AuditEvent.id.desc()).limit(1)
    )
    assert events[0].prev_hash == (previous or audit.GENESIS)
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert audit.verify_chain() == (True, None)


def drop_append_only_triggers() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("DROP TRIGGER audit_event_no_change ON audit_event"))
    else:
        db.session.execute(text("DROP TRIGGER audit_event_no_update"))
        db.session.execute(text("DROP TRIGGER audit_event_no_delete"))


@pytest.mark.parametrize("edit", ["UPDATE audit_event SET action = 'auth.login' WHERE id = :id",
                                  "DELETE FROM audit_event WHERE id = :id"], ids=["update", "delete"])
def test_the_database_refuses_to_change_an_audit_row(app, edit):
    """Append-only (L1): a trigger refuses UPDATE and DELETE on audit_event, on either database."""
    from sqlalchemy.exc import DBAPIError
    with app.app_context():
        ids = _three_events()
        db.session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(edit), {"id": ids[1]})
        db.session.rollback()
        assert audit.verify_chain() == (True, None)
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.id == ids[1])) != "auth.login"
        if db.session.get_bind().dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text("TRUNCATE audit_event"))
            db.session.rollback()


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_event SET action = 'auth.login' WHERE id = :id",
        "UPDATE audit_event SET fields = 'nothing' WHERE id = :id",
        "UPDATE audit_event SET actor_email = 'someone.else@example.org' WHERE id = :id",
        "UPDATE audit_event SET at = at - INTERVAL '1 day' WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
    ],
    ids=["action", "fields", "actor", "time", "deleted"],
)
def test_hand_edited_row_breaks_the_chain(app, runner, database_url, tamper):
    """A row edited (or removed) by hand is reported by verify_chain() and `flask csrn verify-audit` exits 1."""
    if "INTERVAL" in tamper and database_url.startswith("sqlite"):
        tamper = "UPDATE audit_event SET at = '2020-01-01 00:00:00.000000' WHERE id = :id"
    with app.app_context():
        ids = _three_events()
        ok = runner.invoke(args=["csrn", "verify-audit"])
        assert ok.exit_code == 0, ok.output
        assert "intact" in ok.output

        # The triggers refuse the edit; an attacker who owns the database drops them first, as here.
        drop_append_only_triggers()
        db.session.execute(text(tamper), {"id": ids[1]})
        db.session.commit()
        broken_at = ids[2] if tamper.startswith("DELETE") else ids[1]
        assert audit.verify_chain() == (False, broken_at)

    result = runner.invoke(args=["csrn", "verify-audit"])
    assert result.exit_code == 1
    assert f"BROKEN at event {broken_at}" in result.output


@pytest.fixture
def default_session_mode():
    """Give sessions SQLAlchemy's default join mode (conftest's teardown sets an unknown one)."""
    db.session.session_factory.configure(bind=None, join_transaction_mode="conditional_savepoint")


@pytest.mark.concurrency
@pytest.mark.parametrize("writers", [20])
def test_concurrent_writers_leave_a_valid_chain(committed_app, default_session_mode, writers):
    """Twenty threads each append an event at the same moment: the chain stays intact, nothing is lost."""
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with committed_app.app_context():
                start.wait(timeout=30)
                audit.record(None, "test.concurrent", object_type="thread", object_id=n, fields=["n"],
                             now=NOW + timedelta(seconds=n))
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    with committed_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == writers
        assert audit.verify_chain() == (True, None)
        hashes = db.session.scalars(select(AuditEvent.prev_hash)).all()
        assert len(set(hashes)) == writers  # no two events claim the same predecessor
        object_ids = db.session.scalars(select(AuditEvent.object_id)).all()
        assert sorted(int(value) for value in object_ids) == list(range(writers))
        db.session.remove()
