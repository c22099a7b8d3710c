"""Committee queue speed: index offers by (referral_id, state) instead of referral_id alone.

Reviewed by hand: the queue counts each referral's declined and expired offers; with the state in
the index the count reads the index alone. The composite index still serves lookups by referral.

Revision ID: 0010_offer_referral_state
Revises: 0009_volunteers
Create Date: 2026-11-28 19:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010_offer_referral_state'
down_revision = '0009_volunteers'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.create_index('ix_offer_referral_state', ['referral_id', 'state'], unique=False)
        batch_op.drop_index(batch_op.f('ix_offer_referral_id'))


def downgrade():
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_referral_id'), ['referral_id'], unique=False)
        batch_op.drop_index('ix_offer_referral_state')
