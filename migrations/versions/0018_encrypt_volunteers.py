"""Identifying free text encrypted: an offer's decline text; a volunteer application's name, e-mail, phone, licence
number and references, the committee's hold or decline reason (on the application and in its history) and vetting
notes. The application's e-mail is found through `email_hash`, and the duplicate check through `fingerprint`: keyed
hashes (HMAC-SHA256) instead of the address in clear and a plain SHA-256 of the answers.

Reviewed by hand. Encrypts every existing row with the first key of CSRN_ENCRYPTION_KEY (Fernet, as the
EncryptedText type does) and hashes with the key derived from it — both written out here, frozen, so that this
revision keeps doing what it did whatever the code does later. The columns that were VARCHAR become TEXT (a Fernet
token is longer than the value); the index on the e-mail in clear is dropped. The downgrade decrypts (any configured
key), restores the plain SHA-256 fingerprints and the VARCHAR columns, and drops `email_hash`.

Revision ID: 0018_encrypt_volunteers
Revises: 0017_form_stamps
Create Date: 2026-12-06 03:00:00

"""
import base64
import hashlib
import hmac
import json

from alembic import op
import sqlalchemy as sa
from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


# revision identifiers, used by Alembic.
revision = '0018_encrypt_volunteers'
down_revision = '0017_form_stamps'
branch_labels = None
depends_on = None

# The application's columns that were VARCHAR(n), and the ones that become encrypted.
WAS_VARCHAR = {"name": 200, "email": 254, "phone": 40, "licence_number": 80, "reference1_name": 200,
               "reference1_contact": 254, "reference2_name": 200, "reference2_contact": 254}
APPLICATION_ENCRYPTED = (*WAS_VARCHAR, "status_reason")
# What the fingerprint covers (csrn.volunteers.operations.APPLICANT_FIELDS at this revision).
ANSWERS = ("name", "email", "phone", "profession", "profession_other", "licence_number", "licence_jurisdiction",
           "languages", "language_pairs", "practice_areas", "hours_per_month", "availability",
           "reference1_name", "reference1_contact", "reference2_name", "reference2_contact",
           "background_check_consent", "confidentiality_acknowledged")
LISTS = ("languages", "practice_areas")  # stored space-separated, fingerprinted as sorted lists
OTHER_ENCRYPTED = (("offer", "decline_text"), ("vetting_item", "notes"), ("volunteer_event", "detail"))

application = sa.table(
    "volunteer_application", sa.column("id", sa.Integer()), sa.column("email_hash", sa.String()),
    sa.column("fingerprint", sa.String()), sa.column("hours_per_month", sa.Integer()),
    sa.column("background_check_consent", sa.Boolean()), sa.column("confidentiality_acknowledged", sa.Boolean()),
    *(sa.column(name, sa.Text()) for name in ANSWERS
      if name not in ("hours_per_month", "background_check_consent", "confidentiality_acknowledged")),
    sa.column("status_reason", sa.Text()),
)


def _keys() -> list[str]:
    return [key.strip() for key in current_app.config["CSRN_ENCRYPTION_KEY"].split(",") if key.strip()]


def _cipher() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in _keys()])


def _keyed(purpose: str, value: str) -> str:
    """csrn.types.keyed_hash at this revision: HMAC-SHA256 under an HKDF-SHA256 key derived from the first key."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"csrn keyed lookup hash v1").derive(
        base64.urlsafe_b64decode(_keys()[0].encode()))
    return hmac.new(key, purpose.encode() + b"\x00" + value.encode(), hashlib.sha256).hexdigest()


def _answers_json(row: dict) -> str:
    normal = {}
    for key in ANSWERS:
        value = row[key]
        if key in LISTS:
            value = sorted((value or "").split())
        elif isinstance(value, str):
            value = " ".join(value.split()).casefold()
        normal[key] = value
    return json.dumps(normal, sort_keys=True, default=str)


def _rewrite(table: str, column: str, change) -> None:
    """Apply `change` to every non-NULL value of the column, in batches of UPDATEs."""
    connection = op.get_bind()
    target = sa.table(table, sa.column("id", sa.Integer()), sa.column(column, sa.Text()))
    rows = connection.execute(sa.select(target.c.id, target.c[column]).where(target.c[column].is_not(None))).all()
    statement = target.update().where(target.c.id == sa.bindparam("row_id")).values({column: sa.bindparam("value")})
    for start in range(0, len(rows), 500):
        chunk = [{"row_id": row_id, "value": change(value)} for row_id, value in rows[start:start + 500]]
        if chunk:
            connection.execute(statement, chunk)


def upgrade():
    with op.batch_alter_table('volunteer_application', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_application_email')
        for name, length in WAS_VARCHAR.items():
            batch_op.alter_column(name, type_=sa.Text(), existing_type=sa.String(length=length),
                                  existing_nullable=False)
        batch_op.add_column(sa.Column('email_hash', sa.String(length=64), nullable=True))

    cipher = _cipher()
    connection = op.get_bind()
    for row in connection.execute(sa.select(application)).mappings().all():
        values = {"email_hash": _keyed("volunteer-email", (row["email"] or "").strip().lower()),
                  "fingerprint": _keyed("volunteer-answers", _answers_json(row))}
        values.update({name: cipher.encrypt((row[name] or "").encode()).decode() for name in APPLICATION_ENCRYPTED})
        connection.execute(application.update().where(application.c.id == row["id"]).values(values))
    for table, column in OTHER_ENCRYPTED:
        _rewrite(table, column, lambda value: cipher.encrypt(value.encode()).decode())

    with op.batch_alter_table('volunteer_application', schema=None) as batch_op:
        batch_op.alter_column('email_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f('ix_volunteer_application_email_hash'), ['email_hash'], unique=False)


def downgrade():
    cipher = _cipher()
    connection = op.get_bind()
    for table, column in OTHER_ENCRYPTED:
        _rewrite(table, column, lambda value: cipher.decrypt(value.encode()).decode())
    for row in connection.execute(sa.select(application)).mappings().all():
        values = {name: cipher.decrypt(row[name].encode()).decode() for name in APPLICATION_ENCRYPTED}
        plain = {**dict(row), **values}
        values["fingerprint"] = hashlib.sha256(_answers_json(plain).encode()).hexdigest()
        connection.execute(application.update().where(application.c.id == row["id"]).values(values))

    with op.batch_alter_table('volunteer_application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_application_email_hash'))
        batch_op.drop_column('email_hash')
        for name, length in WAS_VARCHAR.items():
            batch_op.alter_column(name, type_=sa.String(length=length), existing_type=sa.Text(),
                                  existing_nullable=False)
        batch_op.create_index('ix_volunteer_application_email', ['email'], unique=False)
