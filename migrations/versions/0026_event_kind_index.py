"""Demand report speed: an index on referral_event (kind, at), for counting escalations and arrivals in the
committee queue over a period without reading every event.

Reviewed by hand: one index.

Revision ID: 0026_event_kind_index
Revises: 0025_gap_prospects
Create Date: 2026-12-06 10:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0026_event_kind_index'
down_revision = '0025_gap_prospects'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_referral_event_kind_at', 'referral_event', ['kind', 'at'], unique=False)


def downgrade():
    op.drop_index('ix_referral_event_kind_at', table_name='referral_event')
