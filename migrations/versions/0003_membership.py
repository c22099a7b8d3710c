"""Membership and certification: training courses, certificates, membership history, agreement details.

Reviewed by hand: plain SQL types; new agency columns get server defaults so existing rows fill in.

Revision ID: 0003_membership
Revises: 0002_accounts
Create Date: 2026-11-28 15:47:20.827796

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_membership'
down_revision = '0002_accounts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('training_course',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('hours', sa.Integer(), nullable=False),
    sa.Column('valid_months', sa.Integer(), nullable=True),
    sa.Column('is_core', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_course')),
    sa.UniqueConstraint('name', name=op.f('uq_training_course_name'))
    )
    op.create_table('certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('certificate_number', sa.String(length=100), nullable=False),
    sa.Column('file_name', sa.String(length=64), nullable=True),
    sa.Column('file_original_name', sa.String(length=200), nullable=False),
    sa.Column('file_mime', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'verified', 'rejected')", name=op.f('ck_certificate_status')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_certificate_agency_id_agency')),
    sa.ForeignKeyConstraint(['course_id'], ['training_course.id'], name=op.f('fk_certificate_course_id_training_course')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['app_user.id'], name=op.f('fk_certificate_decided_by_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['app_user.id'], name=op.f('fk_certificate_recorded_by_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_certificate_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate'))
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_expires_on'), ['expires_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_user_id'), ['user_id'], unique=False)

    op.create_table('membership_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=False),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_membership_change_agency_id_agency'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['changed_by_id'], ['app_user.id'], name=op.f('fk_membership_change_changed_by_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_change'))
    )
    with op.batch_alter_table('membership_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_change_agency_id'), ['agency_id'], unique=False)

    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mou_signatory', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('mou_file_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('mou_file_original_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('mou_file_mime', sa.String(length=40), nullable=False, server_default=''))



def downgrade():
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('mou_file_mime')
        batch_op.drop_column('mou_file_original_name')
        batch_op.drop_column('mou_file_name')
        batch_op.drop_column('mou_signatory')

    with op.batch_alter_table('membership_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_change_agency_id'))

    op.drop_table('membership_change')
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_user_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_status'))
        batch_op.drop_index(batch_op.f('ix_certificate_expires_on'))
        batch_op.drop_index(batch_op.f('ix_certificate_course_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_agency_id'))

    op.drop_table('certificate')
    op.drop_table('training_course')
