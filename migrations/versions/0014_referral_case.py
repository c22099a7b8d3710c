"""Referrals for case work: referral.parent_id (an onward referral's case) and referral.closed_at.

Reviewed by hand: two nullable columns and an index; closed_at is backfilled from the timeline (the last
"closed" event of each closed referral), as reporting and the retention purge count from it.

Revision ID: 0014_referral_case
Revises: 0013_oncall
Create Date: 2026-12-06 01:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_referral_case'
down_revision = '0013_oncall'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_referral_parent_id'), ['parent_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_referral_parent_id_referral'), 'referral', ['parent_id'], ['id'])
    op.execute(
        "UPDATE referral SET closed_at = (SELECT max(referral_event.at) FROM referral_event "
        "WHERE referral_event.referral_id = referral.id AND referral_event.kind = 'closed') "
        "WHERE state = 'closed'"
    )


def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_referral_parent_id_referral'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_referral_parent_id'))
        batch_op.drop_column('closed_at')
        batch_op.drop_column('parent_id')
