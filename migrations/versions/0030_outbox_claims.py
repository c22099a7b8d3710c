"""Mail sent by one sender only when several hosts run `tick`: outbox_message.claimed_by and claimed_at, set by one
conditional UPDATE when a sender takes a message (another skips it until the claim times out).

Reviewed by hand: two columns, the first with an empty default for existing rows. Added and dropped in place
(ALTER TABLE, SQLite 3.35+ included), not by a batch table copy, which would lose the table's AUTOINCREMENT (0022).

Revision ID: 0030_outbox_claims
Revises: 0029_audit_append_only
Create Date: 2026-12-06 11:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0030_outbox_claims'
down_revision = '0029_audit_append_only'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('outbox_message', sa.Column('claimed_by', sa.String(length=80), server_default='', nullable=False))
    op.add_column('outbox_message', sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.execute('ALTER TABLE outbox_message DROP COLUMN claimed_at')
    op.execute('ALTER TABLE outbox_message DROP COLUMN claimed_by')
