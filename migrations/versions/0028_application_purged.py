"""Retention: volunteer_application.purged_at, when the retention purge replaced a declined or withdrawn
application's identifying fields (intakes have had purged_at since 0006).

Reviewed by hand: one nullable column.

Revision ID: 0028_application_purged
Revises: 0027_demand_rollup
Create Date: 2026-12-06 10:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028_application_purged'
down_revision = '0027_demand_rollup'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volunteer_application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('volunteer_application', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
