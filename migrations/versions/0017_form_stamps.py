"""Public forms: used time stamps (each good for one submission), and the outbox read by recipient and time.

Reviewed by hand: `form_stamp` keeps the nonce of every stamp a public form accepted (unique: a replayed form is
refused), purged by the daily job once older than a stamp may be; the outbox index serves the count of what one
address was mailed in the last day (at most three from the public volunteer form and the link request).

Revision ID: 0017_form_stamps
Revises: 0016_session_recovery_codes
Create Date: 2026-12-06 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_form_stamps'
down_revision = '0016_session_recovery_codes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'form_stamp',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_form_stamp')),
        sa.UniqueConstraint('nonce', name=op.f('uq_form_stamp_nonce')),
    )
    with op.batch_alter_table('form_stamp', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_stamp_used_at'), ['used_at'], unique=False)
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_message_to_addr_created_at', ['to_addr', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_to_addr_created_at')
    with op.batch_alter_table('form_stamp', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_stamp_used_at'))
    op.drop_table('form_stamp')
