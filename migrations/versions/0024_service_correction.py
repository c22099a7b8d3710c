"""Declines correct the directory: service.correction_flagged_at and correction_note, written by the gap analysis's
`daily` pass (three "not eligible" or "no capacity" declines in 30 days) and cleared when the agency confirms or
edits the listing.

Reviewed by hand: two columns, one nullable, one with an empty default for existing rows.

Revision ID: 0024_service_correction
Revises: 0023_intake_dimensions
Create Date: 2026-12-06 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024_service_correction'
down_revision = '0023_intake_dimensions'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('service', sa.Column('correction_flagged_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('service', sa.Column('correction_note', sa.String(length=200), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_column('correction_note')
        batch_op.drop_column('correction_flagged_at')
