"""The retention purge (SECURITY P7) on the demo task force: a closed case purged four years on with its onward
referrals and every record attached, every figure the same before and after; an open onward referral keeping its
case; a declined volunteer's application and files; the fields found by walking the models; reported, audited once
per record, idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, or_, select, update

import csrn.demo
from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.cases import operations as case_ops
from csrn.cases.models import Message
from csrn.extensions import db
from csrn.intake.models import Intake
from csrn.lifecycle import retention
from csrn.referrals.models import Referral
from csrn.types import EncryptedText
from csrn.volunteers.models import VettingItem, VolunteerApplication
from tests.conftest import NOW, logged_in, page_text

LATER = NOW + timedelta(days=4 * 365)
PASSWORD = "demo password for tests"


@pytest.fixture
def demo(app, monkeypatch, tmp_path):
    monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
    with app.app_context():
        csrn.demo.seed(password=PASSWORD, force=True, now=NOW)
        holder = db.session.scalar(User.by_email("casemanager@demo.example"))
        case = next(line.case for line in case_ops.my_open_cases(holder) if case_ops.case_file(line.case))
        assert case_ops.onward_referrals(case)
        return {"case": case.id, "intake": case.intake_id}


def _end_every_referral(except_ids=()):
    """Every referral closed (or withdrawn) at NOW, as the case work would have left them."""
    db.session.execute(update(Referral).where(Referral.id.not_in(except_ids), Referral.state != "withdrawn")
                       .values(state="closed", closed_at=NOW, updated_at=NOW))
    db.session.execute(update(Referral).where(Referral.state == "withdrawn").values(updated_at=NOW))
    db.session.commit()


def _values_of(intake_id: int) -> dict[str, list[str]]:
    """Every non-empty encrypted value of the intake and of the records attached to it or its referrals."""
    referral_ids = list(db.session.scalars(select(Referral.id).where(Referral.intake_id == intake_id)))
    found = {"intake": [v for name in retention.encrypted_columns(Intake)
                        if (v := getattr(db.session.get(Intake, intake_id), name))]}
    for attached in retention.attached_to("intake", "referral"):
        rows = db.session.scalars(select(attached.model).where(_any_link(attached, intake_id, referral_ids))).all()
        found[attached.model.__tablename__] = [v for row in rows for name in attached.columns
                                               if (v := getattr(row, name))]
    return found


def _any_link(attached, intake_id, referral_ids):
    return or_(*[link == intake_id if next(iter(link.foreign_keys)).column.table.name == "intake"
                 else link.in_(referral_ids) for link in attached.links])


def _figures(app) -> list[str]:
    """The statistics a chair and an administrator read: the map, the demand report over the demo's year, the
    committee review, the dashboard, and the CSV exports."""
    chair = logged_in(app, "chair@demo.example", PASSWORD)
    period = f"from={(NOW - timedelta(days=300)).date()}&to={(NOW + timedelta(days=30)).date()}"
    pages = [chair.get(url).get_data(as_text=True).split("<main", 1)[1]
             for url in ("/gaps/", f"/gaps/demand?{period}", f"/gaps/review?{period}")]
    pages += [chair.get(f"/gaps/demand.csv?table={key}&{period}").get_data(as_text=True)
              for key in ("needs-age_group", "unmet-where", "declines", "escalations", "acceptance-agency")]
    return pages


def test_a_closed_case_is_purged_with_its_onward_referrals_and_every_figure_stays(app, demo, runner):
    with app.app_context():
        _end_every_referral()
        before = _values_of(demo["intake"])
        assert before["intake"] and before["referral_message"] and before["case_file"] and before["appointment"]
        assert before["concern"] or before["offer"]
    figures = _figures(app)
    audit_before = _audit_count(app)
    early = runner.invoke(args=["csrn", "purge", "--now", (NOW + timedelta(days=1094)).isoformat()])
    assert "0 intake(s) purged" in early.output  # not yet: the retention period is 1,095 days
    result = runner.invoke(args=["csrn", "purge", "--now", LATER.isoformat()])
    assert result.exit_code == 0, result.output
    with app.app_context():
        intakes = db.session.scalar(select(func.count()).select_from(Intake).where(Intake.is_drill.is_(False)))
        assert f"{intakes} intake(s) purged" in result.output
        after = _values_of(demo["intake"])
        for table, values in before.items():
            assert after[table] == [retention.PURGED] * len(values), table
        assert db.session.get(Intake, demo["intake"]).purged_at == LATER
        purged = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.action == "retention.purged"))
        assert purged == _audit_count(app) - audit_before  # one entry per record, nothing else
        records = int(result.output.split(" purged with ")[1].split(" record")[0])
        assert purged == records > intakes
        assert not db.session.scalar(select(AuditEvent.fields).where(
            AuditEvent.action == "retention.purged", AuditEvent.fields.like("%(purged)%")))
    assert _figures(app) == figures
    again = runner.invoke(args=["csrn", "purge", "--now", (LATER + timedelta(days=1)).isoformat()])
    assert again.output.startswith("0 intake(s) purged with 0 record(s), 0 volunteer application(s)")
    with app.app_context():  # nothing purged twice
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "retention.purged")) == purged


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_an_open_onward_referral_keeps_its_case_and_a_reopened_case_shows_purged(app, demo):
    with app.app_context():
        case = db.session.get(Referral, demo["case"])
        onward = case_ops.onward_referrals(case)[0]
        _end_every_referral(except_ids=[onward.id])
        report = retention.purge(LATER)
        assert report.intakes > 0
        assert db.session.get(Intake, demo["intake"]).purged_at is None
        assert "(purged)" not in _values_of(demo["intake"])["referral_message"]
        # The onward referral ends too: the whole case is purged the next time.
        db.session.execute(update(Referral).where(Referral.id == onward.id)
                           .values(state="closed", closed_at=NOW + timedelta(days=400)))
        db.session.commit()
        assert retention.purge(LATER).intakes == 0  # closed 400 days after the rest: not yet
        assert retention.purge(LATER + timedelta(days=40)).intakes == 1
        assert set(_values_of(demo["intake"])["referral_message"]) == {retention.PURGED}
        holder = db.session.scalar(User.by_email("casemanager@demo.example"))
        case_ops.reopen(holder, db.session.get(Referral, demo["case"]), "She came back", LATER + timedelta(days=41))
    manager = logged_in(app, "casemanager@demo.example", PASSWORD)
    page = page_text(manager.get(f"/referrals/{demo['case']}"))
    assert "Identifying details were purged after the retention period." in page
    case_page = page_text(manager.get(f"/cases/{demo['case']}"))
    assert "(purged)" in case_page
    with app.app_context():  # new records can be added to a purged case, and are not purged until it ends again
        db.session.add(Message(referral_id=demo["case"], author_id=db.session.scalar(
            select(User.id).where(User.email == "casemanager@demo.example")),
            body="New plan after her return", at=LATER + timedelta(days=42)))
        db.session.commit()
        assert retention.purge(LATER + timedelta(days=43)).intakes == 0
        assert "New plan after her return" in _values_of(demo["intake"])["referral_message"]


def test_a_declined_volunteer_application_is_purged_with_its_files(app, demo, upload_dir):
    with app.app_context():
        declined = db.session.scalar(select(VolunteerApplication).where(VolunteerApplication.status == "declined"))
        kept = db.session.scalar(select(VolunteerApplication).where(VolunteerApplication.status == "approved"))
        item = db.session.scalar(select(VettingItem).where(VettingItem.application_id == declined.id))
        upload_dir.mkdir(parents=True, exist_ok=True)
        (upload_dir / "licence-scan.pdf").write_bytes(b"%PDF-1.4 licence of the applicant")
        item.file_name, item.file_original_name, item.notes = "licence-scan.pdf", "jane_roe_licence.pdf", "Seen"
        declined.updated_at = NOW
        declined.availability = "Evenings, ask for Jane at the Elm Street office"
        address = declined.email
        from csrn.notify.models import OutboxMessage
        from csrn.notify.operations import queue_mail
        queue_mail(address, "Your application", f"Hello {declined.name}", NOW).status = "sent"
        db.session.commit()
        declined_id, kept_name = declined.id, kept.name
        report = retention.purge(LATER)
        assert not db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(func.lower(OutboxMessage.to_addr) == address.lower()))
        assert report.applications == 1 and report.files == 1
        assert not (upload_dir / "licence-scan.pdf").exists()
        declined = db.session.get(VolunteerApplication, declined_id)
        assert declined.name == retention.PURGED and declined.email == retention.PURGED
        assert declined.email_hash == "" and declined.purged_at == LATER
        assert declined.availability == retention.PURGED
        item = db.session.get(VettingItem, item.id)
        assert item.notes == retention.PURGED and item.file_name is None and item.file_original_name == ""
        assert db.session.get(VolunteerApplication, kept.id).name == kept_name
        assert retention.purge(LATER + timedelta(days=1)).applications == 0


def test_every_encrypted_column_is_purged_or_said_why_not(ctx):
    """Walking the models: every model with an encrypted column is a person's record (purged with an intake or a
    volunteer application) or is listed with the reason it is not; none is both."""
    attached = {a.model.__tablename__ for a in retention.attached_to("intake", "referral", "volunteer_application")}
    attached.add("intake")
    attached.add("volunteer_application")
    every = {model.__tablename__ for model in retention.models_with_encrypted_columns()}
    assert every == attached | set(retention.NOT_CLIENT_RECORDS)
    assert not attached & set(retention.NOT_CLIENT_RECORDS)
    # Each one found by its type, not by a list: the case's own records are among them.
    assert {"offer", "case_file", "case_need", "plan_step", "case_event", "appointment", "referral_message",
            "concern", "vetting_item", "volunteer_event"} <= attached
    for model in retention.models_with_encrypted_columns():
        for name in retention.encrypted_columns(model):
            assert isinstance(model.__table__.columns[getattr(model, name).property.columns[0].name].type,
                              EncryptedText)


def test_a_record_added_to_a_purged_case_is_purged_in_its_turn(app, demo):
    """A concern raised on a closed case after its purge (nothing stops it) is purged by the next run; what was
    purged before is not audited again."""
    from csrn.cases.models import Concern
    with app.app_context():
        _end_every_referral()
        assert retention.purge(LATER).intakes > 0
        case = db.session.get(Referral, demo["case"])
        user = db.session.scalar(User.by_email("casemanager@demo.example"))
        db.session.add(Concern(referral_id=case.id, kind="question", raised_by_id=user.id,
                               raised_by_agency_id=user.agency_id, text="Maria Lopez A-123456789",
                               created_at=LATER + timedelta(days=1)))
        db.session.commit()
        before = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.action == "retention.purged"))
        report = retention.purge(LATER + timedelta(days=2))
        assert (report.intakes, report.records) == (1, 1)
        texts = db.session.scalars(select(Concern.text).where(Concern.referral_id == case.id)).all()
        assert "Maria Lopez A-123456789" not in texts and retention.PURGED in texts
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "retention.purged")) == before + 1
        assert db.session.get(Intake, demo["intake"]).purged_at == LATER  # when it was first purged


def test_a_case_reopened_after_the_list_was_made_is_not_purged(app, demo, monkeypatch):
    with app.app_context():
        _end_every_referral()
        listed = retention.due_intakes(LATER, 1095)
        assert demo["intake"] in listed
        real = retention.due_intakes
        monkeypatch.setattr(retention, "due_intakes",
                            lambda now, days, only=None: listed if only is None else real(now, days, only))
        holder = db.session.scalar(User.by_email("casemanager@demo.example"))
        case_ops.reopen(holder, db.session.get(Referral, demo["case"]), "She came back", LATER)
        retention.purge(LATER)
        assert db.session.get(Intake, demo["intake"]).purged_at is None
        assert retention.PURGED not in _values_of(demo["intake"])["referral_message"]


def test_production_refuses_to_purge_as_of_a_future_time(app, runner, monkeypatch):
    """A purge (or any job) run ahead of time could not be undone: production refuses a --now in the future."""
    monkeypatch.setitem(app.config, "CSRN_ENV", "production")
    for command in ("purge", "daily", "tick"):
        result = runner.invoke(args=["csrn", command, "--now", "2099-01-01T00:00:00+00:00"])
        assert result.exit_code != 0 and "may not be in the future" in result.output, command
    assert runner.invoke(args=["csrn", "purge", "--now", "2026-01-01T00:00:00+00:00"]).exit_code == 0
