"""The retention purge (SECURITY P7): once every referral that shares an intake has been closed or withdrawn for
longer than the retention period, the identifying fields of the intake and of every record attached to it are
replaced by "(purged)"; declined and withdrawn volunteer applications the same, with their uploaded documents.

Which fields: every encrypted column (`EncryptedText`) of the intake and of every model that points at an intake or
a referral by a foreign key — found by walking the models, so that a field or a model added later is purged without
anyone remembering to. Models with encrypted columns that are not a person's record say why in `NOT_CLIENT_RECORDS`
(a test fails on one that is neither). The matching dimensions stay, so every statistic is the same afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, or_, select

from csrn import uploads
from csrn.audit import operations as audit
from csrn.extensions import db
from csrn.intake.models import Intake
from csrn.notify.models import OutboxMessage
from csrn.referrals.models import Referral
from csrn.settings.operations import get_settings
from csrn.types import EncryptedText
from csrn.volunteers.models import VettingItem, VolunteerApplication

PURGED = "(purged)"
ENDED = ("closed", "withdrawn")
APPLICATION_ENDED = ("declined", "withdrawn")
APPLICATION_FREE_TEXT = ("profession_other", "availability", "language_pairs")
# Models with encrypted columns that hold no person's case record, and why they are not purged here.
NOT_CLIENT_RECORDS = {
    "app_user": "a user's own second factor",
    "user_session": "a user's own recovery codes, shown once",
    "reset_request": "a user's own address, answered and removed by the reset job",
    "location": "an agency's address",
    "intake_draft": "an unsubmitted intake, deleted after 7 days unused (`purge_drafts`)",
    "outbox_message": "mail, which never carries a client's identifying details (mail to a volunteer applicant is "
                      "deleted with the application's purge)",
}


@dataclass
class Attached:
    """A model with encrypted columns, and its foreign keys to the root table."""

    model: type
    links: list = field(default_factory=list)  # columns
    columns: list[str] = field(default_factory=list)  # attribute names of its encrypted columns


def encrypted_columns(model) -> list[str]:
    """The attribute names of a model's encrypted columns."""
    return [attr.key for attr in model.__mapper__.column_attrs
            if any(isinstance(column.type, EncryptedText) for column in attr.columns)]


def models_with_encrypted_columns() -> list[type]:
    return sorted((mapper.class_ for mapper in db.Model.registry.mappers if encrypted_columns(mapper.class_)),
                  key=lambda model: model.__tablename__)


def attached_to(*tables: str) -> list[Attached]:
    """Every model with encrypted columns that points at one of these tables by a foreign key."""
    found = []
    for model in models_with_encrypted_columns():
        links = [column for column in model.__table__.columns
                 if any(key.column.table.name in tables for key in column.foreign_keys)]
        if links:
            found.append(Attached(model, links, encrypted_columns(model)))
    return found


def _ended_at():
    return func.coalesce(Referral.closed_at, Referral.updated_at)


def due_intakes(now: datetime, retention_days: int, only: int | None = None) -> list[int]:
    """Intakes whose every referral ended (closed or withdrawn) more than the retention period ago — purged ones
    too: a record added to a purged case (a concern raised on it, a case reopened and closed again) is purged in
    its turn, and what was purged already is left as it is."""
    cutoff = now - timedelta(days=retention_days)
    still_held = (select(Referral.id).where(Referral.intake_id == Intake.id)
                  .where(or_(Referral.state.not_in(ENDED), _ended_at() >= cutoff)))
    query = (select(Intake.id).where(Intake.is_drill.is_(False), ~exists(still_held),
                                     exists(select(Referral.id).where(Referral.intake_id == Intake.id)))
             .order_by(Intake.id))
    if only is not None:
        query = query.where(Intake.id == only)
    return list(db.session.scalars(query))


def _purge_row(row, columns: list[str], now: datetime) -> bool:
    """Replace every non-empty encrypted value of a row by PURGED; audit it (field names only) when any was."""
    changed = [name for name in columns if getattr(row, name) not in (None, "", PURGED)]
    for name in changed:
        setattr(row, name, PURGED)
    if changed:
        audit.record(None, "retention.purged", row, fields=changed, now=now)
    return bool(changed)


def purge_intake(intake: Intake, now: datetime) -> int:
    """Purge one intake and every record attached to it or to one of its referrals; how many records changed."""
    referral_ids = list(db.session.scalars(select(Referral.id).where(Referral.intake_id == intake.id)))
    purged = int(_purge_row(intake, encrypted_columns(Intake), now))
    for attached in attached_to("intake", "referral"):
        conditions = []
        for link in attached.links:
            target = next(iter(link.foreign_keys)).column.table.name
            conditions.append(link == intake.id if target == "intake" else link.in_(referral_ids))
        for row in db.session.scalars(select(attached.model).where(or_(*conditions))):
            purged += _purge_row(row, attached.columns, now)
    if intake.purged_at is None:
        intake.purged_at = now
    return purged


@dataclass
class PurgeReport:
    intakes: int = 0
    records: int = 0
    applications: int = 0
    files: int = 0

    def __str__(self) -> str:
        return (f"{self.intakes} intake(s) purged with {self.records} record(s), {self.applications} volunteer "
                f"application(s), {self.files} uploaded file(s) deleted")


def due_applications(now: datetime, retention_days: int) -> list[int]:
    cutoff = now - timedelta(days=retention_days)
    return list(db.session.scalars(
        select(VolunteerApplication.id).where(VolunteerApplication.status.in_(APPLICATION_ENDED),
                                              VolunteerApplication.updated_at < cutoff,
                                              VolunteerApplication.purged_at.is_(None))
        .order_by(VolunteerApplication.id)))


def purge_application(application: VolunteerApplication, now: datetime) -> tuple[int, list[str]]:
    """Purge an application, its vetting items and history; the files its items uploaded (to delete after the
    commit), unless another item still holds the same file."""
    address = application.email
    # The applicant's own words kept in clear (never identifying by design, but free text can be): purged too.
    records = int(_purge_row(application, [*encrypted_columns(VolunteerApplication), *APPLICATION_FREE_TEXT], now))
    application.email_hash = ""  # a keyed hash of the address still says who applied, to whoever knows it
    application.fingerprint = ""
    # The mail sent to them: its recipient is their address in clear, its body begins with their name.
    if address and address != PURGED:
        db.session.execute(delete(OutboxMessage).where(func.lower(OutboxMessage.to_addr) == address.strip().lower()))
    files = []
    for attached in attached_to("volunteer_application"):
        for row in db.session.scalars(select(attached.model).where(
                or_(*[link == application.id for link in attached.links]))):
            records += _purge_row(row, attached.columns, now)
            if isinstance(row, VettingItem) and row.file_name:
                files.append(row.file_name)
                row.file_name = None
                row.file_original_name = ""  # a file's own name may name the person
                row.file_mime = ""
    application.purged_at = now
    db.session.flush()
    still_held = set(db.session.scalars(select(VettingItem.file_name).where(VettingItem.file_name.in_(files))))
    return records, [name for name in files if name not in still_held]


def _still_due(intake_id: int, now: datetime, days: int) -> bool:
    """Checked again in the purge's own transaction, its referrals locked (PostgreSQL; SQLite's write transaction
    holds the database): a case reopened since the list was made is not purged."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Referral.id).where(Referral.intake_id == intake_id).with_for_update())
    return bool(due_intakes(now, days, only=intake_id))


def purge(now: datetime) -> PurgeReport:
    """The `daily` job and `csrn purge`: every intake and volunteer application past the retention period, one
    transaction each; idempotent (what is purged is not purged again, and is not audited again)."""
    days = get_settings().retention_days
    report = PurgeReport()
    for intake_id in due_intakes(now, days):
        if not _still_due(intake_id, now, days):
            db.session.rollback()
            continue
        intake = db.session.get(Intake, intake_id)
        first = intake.purged_at is None
        records = purge_intake(intake, now)
        db.session.commit()
        report.records += records
        report.intakes += 1 if first or records else 0
    for application_id in due_applications(now, days):
        records, files = purge_application(db.session.get(VolunteerApplication, application_id), now)
        db.session.commit()
        report.records += records
        report.applications += 1
        for name in files:
            path = uploads.upload_folder() / name
            if path.is_file():
                path.unlink()
                report.files += 1
    return report


def purge_job(now: datetime) -> str:
    return str(purge(now))
