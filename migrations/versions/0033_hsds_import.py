"""The HSDS import (issue 23): what it last wrote, so a re-import never overwrites a field edited in CSRN.

Reviewed by hand: one new table, hsds_imported_object — one row per agency, service and location an import wrote
(object type and HSDS id, unique together), holding as JSON text the keyed hash of the value it wrote to each field
(HMAC-SHA256 under a key derived from CSRN_ENCRYPTION_KEY, never the value: a street address is encrypted data).
A re-import overwrites a field only while its current value still has that hash. One row per object rather than
per field: a package of thousands of services writes thousands of rows, not tens of thousands. No foreign key to
the objects: a row outlives an object deleted in CSRN, so the next import does not bring it back. Nothing else
changes; no existing table is altered (so no batch mode).

Revision ID: 0033_hsds_import
Revises: 0032_hsds_api_tokens
Create Date: 2026-12-06 12:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0033_hsds_import'
down_revision = '0032_hsds_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'hsds_imported_object',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('object_type', sa.String(length=20), nullable=False),
        sa.Column('object_uuid', sa.String(length=36), nullable=False),
        sa.Column('field_hashes', sa.Text(), nullable=False),
        sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_hsds_imported_object')),
        sa.UniqueConstraint('object_type', 'object_uuid', name='uq_hsds_imported_object'),
    )


def downgrade():
    op.drop_table('hsds_imported_object')
