"""Module boundaries: a volunteer's vetting held as data on its provider (agency.vetting_required, vetted_until).

Reviewed by hand: two columns, backfilled from the applications and their items with the rule they replace
(approved, every required item done; current through the earliest expiry of a required item, or for good when
none expires), so the receiving rule in `directory` reads the agency row instead of importing `volunteers`.

Revision ID: 0012_agency_vetting
Revises: 0011_referral_escalated_at
Create Date: 2026-12-06 01:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_agency_vetting'
down_revision = '0011_referral_escalated_at'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vetting_required', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('vetted_until', sa.Date(), nullable=True))
    op.execute(
        "UPDATE agency SET vetting_required = TRUE WHERE id IN "
        "(SELECT agency_id FROM volunteer_application WHERE agency_id IS NOT NULL)"
    )
    op.execute(
        "UPDATE agency SET vetted_until = (SELECT COALESCE(MIN(item.expires_on), '9999-12-31') "
        "FROM vetting_item item JOIN volunteer_application app ON app.id = item.application_id "
        "WHERE app.agency_id = agency.id AND item.required = TRUE) "
        "WHERE id IN (SELECT app.agency_id FROM volunteer_application app "
        "WHERE app.status = 'approved' AND app.agency_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM vetting_item item WHERE item.application_id = app.id AND item.required = TRUE "
        "AND item.done_on IS NULL))"
    )


def downgrade():
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('vetted_until')
        batch_op.drop_column('vetting_required')
