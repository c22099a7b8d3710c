"""The on-call roster: kinds of response (and the service types they answer for), shifts, their exceptions;
long-lived access tokens for calendar feeds; referral_contact, the person on call asked to help with an escalated
referral.

Reviewed by hand: new tables only. A shift is weekly (days, start and end times, optional first and last days)
or once (start and end instants), as the `shape` check says; access tokens keep only the SHA-256 of the secret.

Revision ID: 0013_oncall
Revises: 0012_agency_vetting
Create Date: 2026-12-06 01:04:16

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_oncall'
down_revision = '0012_agency_vetting'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('response_kind',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('required_24_7', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response_kind')),
    sa.UniqueConstraint('name', name=op.f('uq_response_kind_name'))
    )
    op.create_table('response_kind_service_type',
    sa.Column('kind_id', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['kind_id'], ['response_kind.id'], name=op.f('fk_response_kind_service_type_kind_id_response_kind'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_response_kind_service_type_service_type_id_service_type'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('kind_id', 'service_type_id', name=op.f('pk_response_kind_service_type'))
    )
    op.create_table('access_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('oncall-mine', 'oncall-agency')", name=op.f('ck_access_token_purpose')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_access_token_agency_id_agency'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_access_token_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_access_token_token_hash'))
    )
    with op.batch_alter_table('access_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_token_user_id'), ['user_id'], unique=False)

    op.create_table('shift',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('kind_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('pattern', sa.String(length=10), nullable=False),
    sa.Column('weekdays', sa.String(length=20), nullable=False),
    sa.Column('starts', sa.Time(), nullable=True),
    sa.Column('ends', sa.Time(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('skip_holidays', sa.Boolean(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("(pattern = 'weekly' AND weekdays <> '' AND starts IS NOT NULL AND ends IS NOT NULL AND (valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from)) OR (pattern = 'once' AND starts_at IS NOT NULL AND ends_at IS NOT NULL AND ends_at > starts_at)", name=op.f('ck_shift_shape')),
    sa.CheckConstraint("pattern IN ('weekly', 'once')", name=op.f('ck_shift_pattern')),
    sa.CheckConstraint("role IN ('primary', 'backup')", name=op.f('ck_shift_role')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_shift_agency_id_agency'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['kind_id'], ['response_kind.id'], name=op.f('fk_shift_kind_id_response_kind'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_shift_user_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift'))
    )
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shift_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shift_kind_id'), ['kind_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shift_user_id'), ['user_id'], unique=False)

    op.create_table('shift_exception',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_shift_exception_ordered')),
    sa.ForeignKeyConstraint(['shift_id'], ['shift.id'], name=op.f('fk_shift_exception_shift_id_shift'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift_exception'))
    )
    with op.batch_alter_table('shift_exception', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shift_exception_shift_id'), ['shift_id'], unique=False)

    op.create_table('referral_contact',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_referral_contact_referral_id_referral'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_referral_contact_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_contact'))
    )
    with op.batch_alter_table('referral_contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_contact_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_contact_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('referral_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_contact_user_id'))
        batch_op.drop_index(batch_op.f('ix_referral_contact_referral_id'))

    op.drop_table('referral_contact')
    with op.batch_alter_table('shift_exception', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shift_exception_shift_id'))

    op.drop_table('shift_exception')
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shift_user_id'))
        batch_op.drop_index(batch_op.f('ix_shift_kind_id'))
        batch_op.drop_index(batch_op.f('ix_shift_agency_id'))

    op.drop_table('shift')
    with op.batch_alter_table('access_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_token_user_id'))

    op.drop_table('access_token')
    op.drop_table('response_kind_service_type')
    op.drop_table('response_kind')
