"""Escalation and inbox speed: a partial index on pending offers by (agency, deadline).

Reviewed by hand: the escalation pass looks for pending offers past their deadline and
the inbox for one agency's pending offers; both read only the small pending part of
the offer table.

Revision ID: 0008_offer_pending
Revises: 0007_facet_index
Create Date: 2026-11-28 18:25:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_offer_pending'
down_revision = '0007_facet_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_offer_pending_deadline', 'offer', ['deadline_at', 'agency_id'], unique=False,
        sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"),
    )


def downgrade():
    op.drop_index('ix_offer_pending_deadline', table_name='offer')
