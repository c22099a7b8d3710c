"""Directory search speed: index service facets by (kind, value, service_id) instead of value alone.

Reviewed by hand: measured with bench/directory_bench.py (PostgreSQL scanned service_facet without it).

Revision ID: 0007_facet_index
Revises: 0006_intake
Create Date: 2026-11-28 17:29:13.162997

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_facet_index'
down_revision = '0006_intake'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('service_facet', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_facet_value'))
        batch_op.create_index('ix_service_facet_kind_value_service', ['kind', 'value', 'service_id'], unique=False)



def downgrade():
    with op.batch_alter_table('service_facet', schema=None) as batch_op:
        batch_op.drop_index('ix_service_facet_kind_value_service')
        batch_op.create_index(batch_op.f('ix_service_facet_value'), ['value'], unique=False)

