"""Immigration details (SECURITY P6): consent.named_explicitly_json, the agencies the person named on the consent
form themselves — named_agencies_json also holds the sender's backups when the consent covers "its backups", and a
law-enforcement backup is not named by the person.

Reviewed by hand: one column. Existing consents: what was named where the consent did not cover backups (nothing
was added then); where it did, the backups cannot be told apart from the named agencies, so none counts as named
explicitly — the safe side (a police user sees no immigration details under such a consent).

Revision ID: 0031_consent_named_explicitly
Revises: 0030_outbox_claims
Create Date: 2026-12-06 11:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0031_consent_named_explicitly'
down_revision = '0030_outbox_claims'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('consent', sa.Column('named_explicitly_json', sa.Text(), server_default='[]', nullable=False))
    consent = sa.table('consent', sa.column('with_backups', sa.Boolean()), sa.column('named_agencies_json', sa.Text()),
                       sa.column('named_explicitly_json', sa.Text()))
    op.execute(consent.update().where(consent.c.with_backups.is_(False))
               .values(named_explicitly_json=consent.c.named_agencies_json))


def downgrade():
    op.execute('ALTER TABLE consent DROP COLUMN named_explicitly_json')
