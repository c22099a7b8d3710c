"""New recovery codes wait on the session record, encrypted, until shown once: user_session.recovery_codes_to_show.

Reviewed by hand: one nullable column (Fernet text, like the TOTP secret). They used to wait in the signed but
readable session cookie. Nothing to backfill: codes waiting in cookies at upgrade time are simply not shown; the
user can make new ones from /account.

Revision ID: 0016_session_recovery_codes
Revises: 0015_reset_request
Create Date: 2026-11-29 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_session_recovery_codes'
down_revision = '0015_reset_request'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recovery_codes_to_show', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_column('recovery_codes_to_show')
