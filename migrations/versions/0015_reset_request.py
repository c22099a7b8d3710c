"""Password reset requests wait for `tick`: reset_request (the typed address, encrypted; requested_at).

Reviewed by hand: a new table only. The /reset form records the request and nothing else, the same work for
a known and an unknown address (SECURITY A5); `tick` looks the address up, queues the link and deletes the row.

Revision ID: 0015_reset_request
Revises: 0014_referral_case
Create Date: 2026-11-29 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_reset_request'
down_revision = '0014_referral_case'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reset_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reset_request'))
    )


def downgrade():
    op.drop_table('reset_request')
