"""Case work: the accepting agency's case record (case_file, case_need, plan_step, case_event); transfers
(referral.transferred_from_id, at most one waiting per case); onward referrals and transfers created once per form
submission (referral.submission_key); unmet needs found in an assessment (unmet_need.found_in).

Reviewed by hand: four new tables, three nullable or defaulted columns, a unique partial index. Encrypted columns
(goals, notes, a step's note, an event's text) are Text holding Fernet tokens. Existing unmet needs were all recorded at intake: the
server default fills them.

Revision ID: 0020_cases
Revises: 0019_access_requests
Create Date: 2026-12-06 03:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_cases'
down_revision = '0019_access_requests'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('case_manager_id', sa.Integer(), nullable=True),
    sa.Column('assessment_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('goals', sa.Text(), nullable=False),
    sa.Column('plan_pathway_id', sa.Integer(), nullable=True),
    sa.Column('plan_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_manager_id'], ['app_user.id'], name=op.f('fk_case_file_case_manager_id_app_user')),
    sa.ForeignKeyConstraint(['plan_pathway_id'], ['pathway.id'], name=op.f('fk_case_file_plan_pathway_id_pathway'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_case_file_referral_id_referral'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_file')),
    sa.UniqueConstraint('referral_id', name=op.f('uq_case_file_referral_id'))
    )
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_file_case_manager_id'), ['case_manager_id'], unique=False)

    op.create_table('case_need',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('found_in', sa.String(length=10), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('in_progress', 'met', 'unmet', 'declined')", name=op.f('ck_case_need_status')),
    sa.CheckConstraint("found_in IN ('intake', 'assessment')", name=op.f('ck_case_need_found_in')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_case_need_referral_id_referral'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_case_need_service_type_id_service_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_need')),
    sa.UniqueConstraint('referral_id', 'service_type_id', name='uq_case_need_type')
    )
    with op.batch_alter_table('case_need', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_need_referral_id'), ['referral_id'], unique=False)

    op.create_table('plan_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.Column('guidance', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('onward_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['onward_id'], ['referral.id'], name=op.f('fk_plan_step_onward_id_referral'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_plan_step_referral_id_referral'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_plan_step_service_type_id_service_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_step')),
    sa.UniqueConstraint('onward_id', name=op.f('uq_plan_step_onward_id'))
    )
    with op.batch_alter_table('plan_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_step_referral_id'), ['referral_id'], unique=False)

    op.create_table('case_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('summary', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_case_event_actor_id_app_user')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_case_event_referral_id_referral'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_event'))
    )
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_event_referral_id'), ['referral_id'], unique=False)

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transferred_from_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('submission_key', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_referral_transferred_from_id'), ['transferred_from_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_referral_submission_key'), ['submission_key'])
        batch_op.create_foreign_key(batch_op.f('fk_referral_transferred_from_id_referral'), 'referral',
                                    ['transferred_from_id'], ['id'])
        batch_op.create_index('uq_referral_open_transfer', ['transferred_from_id'], unique=True,
                              sqlite_where=sa.text("state IN ('offered', 'unassigned')"),
                              postgresql_where=sa.text("state IN ('offered', 'unassigned')"))

    with op.batch_alter_table('unmet_need', schema=None) as batch_op:
        batch_op.add_column(sa.Column('found_in', sa.String(length=10), server_default='intake', nullable=False))


def downgrade():
    with op.batch_alter_table('unmet_need', schema=None) as batch_op:
        batch_op.drop_column('found_in')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('uq_referral_open_transfer')
        batch_op.drop_constraint(batch_op.f('fk_referral_transferred_from_id_referral'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_referral_submission_key'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_referral_transferred_from_id'))
        batch_op.drop_column('submission_key')
        batch_op.drop_column('transferred_from_id')
    for table in ('case_event', 'plan_step', 'case_need'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_referral_id'))
        op.drop_table(table)
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_file_case_manager_id'))
    op.drop_table('case_file')
