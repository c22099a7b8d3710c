"""PLACEHOLDER — being written (0033_hsds_import).

Revision ID: 0033_hsds_import
Revises: 0032_hsds_api_tokens
Create Date: 2026-12-06 12:10:00

"""


# revision identifiers, used by Alembic.
revision = '0033_hsds_import'
down_revision = '0032_hsds_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
