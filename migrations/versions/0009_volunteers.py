"""Pro bono volunteers: applications, their vetting checklists and their history.

Reviewed by hand: three new tables, nothing existing changes. An application's one-person
provider (agency_id) is unique; checklist items and history go with their application.

Revision ID: 0009_volunteers
Revises: 0008_offer_pending
Create Date: 2026-11-28 18:25:12.828277

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_volunteers'
down_revision = '0008_offer_pending'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('volunteer_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('profession', sa.String(length=20), nullable=False),
    sa.Column('profession_other', sa.String(length=120), nullable=False),
    sa.Column('licence_number', sa.String(length=80), nullable=False),
    sa.Column('licence_jurisdiction', sa.String(length=120), nullable=False),
    sa.Column('languages', sa.String(length=400), nullable=False),
    sa.Column('language_pairs', sa.Text(), nullable=False),
    sa.Column('practice_areas', sa.String(length=400), nullable=False),
    sa.Column('hours_per_month', sa.Integer(), nullable=False),
    sa.Column('availability', sa.Text(), nullable=False),
    sa.Column('reference1_name', sa.String(length=200), nullable=False),
    sa.Column('reference1_contact', sa.String(length=254), nullable=False),
    sa.Column('reference2_name', sa.String(length=200), nullable=False),
    sa.Column('reference2_contact', sa.String(length=254), nullable=False),
    sa.Column('background_check_consent', sa.Boolean(), nullable=False),
    sa.Column('confidentiality_acknowledged', sa.Boolean(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_token_hash', sa.String(length=64), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('service_type_id', sa.Integer(), nullable=True),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("profession IN ('attorney', 'physician', 'dentist', 'nurse', 'mental_health', 'interpreter', 'other')", name=op.f('ck_volunteer_application_profession')),
    sa.CheckConstraint("status IN ('applied', 'in_review', 'approved', 'on_hold', 'declined', 'renewal_due', 'withdrawn')", name=op.f('ck_volunteer_application_status')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_volunteer_application_agency_id_agency'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_volunteer_application_service_type_id_service_type')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_volunteer_application_user_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_application')),
    sa.UniqueConstraint('agency_id', name=op.f('uq_volunteer_application_agency_id')),
    sa.UniqueConstraint('status_token_hash', name=op.f('uq_volunteer_application_status_token_hash')),
    sa.UniqueConstraint('uuid', name=op.f('uq_volunteer_application_uuid'))
    )
    with op.batch_alter_table('volunteer_application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_application_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteer_application_fingerprint'), ['fingerprint'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteer_application_profession'), ['profession'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteer_application_status'), ['status'], unique=False)

    op.create_table('vetting_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('guidance', sa.Text(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('expires', sa.Boolean(), nullable=False),
    sa.Column('course_kind', sa.String(length=10), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('file_name', sa.String(length=64), nullable=True),
    sa.Column('file_original_name', sa.String(length=200), nullable=False),
    sa.Column('file_mime', sa.String(length=40), nullable=False),
    sa.Column('reminded_for', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['volunteer_application.id'], name=op.f('fk_vetting_item_application_id_volunteer_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['training_course.id'], name=op.f('fk_vetting_item_course_id_training_course')),
    sa.ForeignKeyConstraint(['done_by_id'], ['app_user.id'], name=op.f('fk_vetting_item_done_by_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vetting_item'))
    )
    with op.batch_alter_table('vetting_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vetting_item_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vetting_item_expires_on'), ['expires_on'], unique=False)

    op.create_table('volunteer_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=12), nullable=False),
    sa.Column('to_status', sa.String(length=12), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_volunteer_event_actor_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['application_id'], ['volunteer_application.id'], name=op.f('fk_volunteer_event_application_id_volunteer_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_event'))
    )
    with op.batch_alter_table('volunteer_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteer_event_application_id'), ['application_id'], unique=False)



def downgrade():
    with op.batch_alter_table('volunteer_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_event_application_id'))

    op.drop_table('volunteer_event')
    with op.batch_alter_table('vetting_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vetting_item_expires_on'))
        batch_op.drop_index(batch_op.f('ix_vetting_item_application_id'))

    op.drop_table('vetting_item')
    with op.batch_alter_table('volunteer_application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_application_status'))
        batch_op.drop_index(batch_op.f('ix_volunteer_application_profession'))
        batch_op.drop_index(batch_op.f('ix_volunteer_application_fingerprint'))
        batch_op.drop_index(batch_op.f('ix_volunteer_application_email'))

    op.drop_table('volunteer_application')
