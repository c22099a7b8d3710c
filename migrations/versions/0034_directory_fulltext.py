"""PLACEHOLDER — being written (0034_directory_fulltext).

Revision ID: 0034_directory_fulltext
Revises: 0033_hsds_import
Create Date: 2026-12-06 12:10:00

"""


# revision identifiers, used by Alembic.
revision = '0034_directory_fulltext'
down_revision = '0033_hsds_import'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
