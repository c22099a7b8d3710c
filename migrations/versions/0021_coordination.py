"""Coordinating a case: appointments (the place encrypted) and the support checklist of legal ones; messages on a
referral (encrypted); concerns (the text and resolution encrypted); access tokens for the appointment feed.

Reviewed by hand: new tables, and access_token's purpose check widened to 'appointments-mine' (dropped and made
again; in batch mode on SQLite, which rebuilds the table).

Revision ID: 0021_coordination
Revises: 0020_cases
Create Date: 2026-12-06 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021_coordination'
down_revision = '0020_cases'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('appointment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('provider_agency_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('place', sa.Text(), nullable=False),
    sa.Column('accompaniment_needed', sa.Boolean(), nullable=False),
    sa.Column('interpreter_needed', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('legal', 'immigration', 'court', 'medical', 'counselling', 'housing', 'other')", name=op.f('ck_appointment_kind')),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_appointment_created_by_id_app_user')),
    sa.ForeignKeyConstraint(['provider_agency_id'], ['agency.id'], name=op.f('fk_appointment_provider_agency_id_agency')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_appointment_referral_id_referral'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment'))
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_provider_agency_id'), ['provider_agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_starts_at'), ['starts_at'], unique=False)

    op.create_table('concern',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=False),
    sa.Column('raised_by_agency_id', sa.Integer(), nullable=False),
    sa.Column('to_agency_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=False),
    sa.CheckConstraint("kind IN ('question', 'dispute', 'request')", name=op.f('ck_concern_kind')),
    sa.ForeignKeyConstraint(['raised_by_agency_id'], ['agency.id'], name=op.f('fk_concern_raised_by_agency_id_agency')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['app_user.id'], name=op.f('fk_concern_raised_by_id_app_user')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_concern_referral_id_referral'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['app_user.id'], name=op.f('fk_concern_resolved_by_id_app_user')),
    sa.ForeignKeyConstraint(['to_agency_id'], ['agency.id'], name=op.f('fk_concern_to_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_concern'))
    )
    with op.batch_alter_table('concern', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_concern_raised_by_agency_id'), ['raised_by_agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_concern_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_concern_resolved_at'), ['resolved_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_concern_to_agency_id'), ['to_agency_id'], unique=False)

    op.create_table('referral_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_referral_message_agency_id_agency')),
    sa.ForeignKeyConstraint(['author_id'], ['app_user.id'], name=op.f('fk_referral_message_author_id_app_user')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_referral_message_referral_id_referral'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_message'))
    )
    with op.batch_alter_table('referral_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_message_referral_id'), ['referral_id'], unique=False)

    op.create_table('appointment_support',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=14), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('accompanist_id', sa.Integer(), nullable=True),
    sa.Column('onward_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("item IN ('accompaniment', 'interpreter', 'counselling')", name=op.f('ck_appointment_support_item')),
    sa.CheckConstraint("status IN ('open', 'done', 'declined')", name=op.f('ck_appointment_support_status')),
    sa.ForeignKeyConstraint(['accompanist_id'], ['app_user.id'], name=op.f('fk_appointment_support_accompanist_id_app_user')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], name=op.f('fk_appointment_support_appointment_id_appointment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['onward_id'], ['referral.id'], name=op.f('fk_appointment_support_onward_id_referral'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_support')),
    sa.UniqueConstraint('appointment_id', 'item', name='uq_appointment_support_item')
    )
    with op.batch_alter_table('appointment_support', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_support_appointment_id'), ['appointment_id'], unique=False)



    with op.batch_alter_table('access_token', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_access_token_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_access_token_purpose'),
                                         "purpose IN ('oncall-mine', 'oncall-agency', 'appointments-mine')")


def downgrade():
    op.execute("DELETE FROM access_token WHERE purpose = 'appointments-mine'")
    with op.batch_alter_table('access_token', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_access_token_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_access_token_purpose'), "purpose IN ('oncall-mine', 'oncall-agency')")

    with op.batch_alter_table('appointment_support', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_support_appointment_id'))

    op.drop_table('appointment_support')
    with op.batch_alter_table('referral_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_message_referral_id'))

    op.drop_table('referral_message')
    with op.batch_alter_table('concern', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_concern_to_agency_id'))
        batch_op.drop_index(batch_op.f('ix_concern_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_concern_referral_id'))
        batch_op.drop_index(batch_op.f('ix_concern_raised_by_agency_id'))

    op.drop_table('concern')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_starts_at'))
        batch_op.drop_index(batch_op.f('ix_appointment_referral_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_provider_agency_id'))

    op.drop_table('appointment')
