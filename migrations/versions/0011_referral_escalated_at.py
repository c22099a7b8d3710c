"""Committee queue speed: referral.escalated_at, set whenever an offer is declined or expires and it moves on.

Reviewed by hand: a nullable column, backfilled from the offers (the last declined or expired answer);
the queue then reads "escalated" from the referral row instead of looking at each referral's offers.

Revision ID: 0011_referral_escalated_at
Revises: 0010_offer_referral_state
Create Date: 2026-11-28 20:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_referral_escalated_at'
down_revision = '0010_offer_referral_state'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE referral SET escalated_at = (SELECT max(offer.answered_at) FROM offer "
        "WHERE offer.referral_id = referral.id AND offer.state IN ('declined', 'expired')) "
        "WHERE EXISTS (SELECT 1 FROM offer WHERE offer.referral_id = referral.id "
        "AND offer.state IN ('declined', 'expired'))"
    )


def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_column('escalated_at')
