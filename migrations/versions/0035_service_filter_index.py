"""The directory's filters from one index (issue 24): service (service_type_id, status, agency_id).

Reviewed by hand: the single-column index on service.service_type_id is replaced by one on (service_type_id,
status, agency_id), which begins with the same column (so it still serves the foreign key and every lookup by
type) and also holds what a directory search asks of each service of a type, so SQLite and PostgreSQL read the
index alone instead of every service row (a search over 100,000 services filtered by type spent half its time
there). Only indexes change: no table is rebuilt, so the full-text triggers of 0034 are untouched.

Revision ID: 0035_service_filter_index
Revises: 0034_directory_fulltext
Create Date: 2026-12-06 16:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0035_service_filter_index'
down_revision = '0034_directory_fulltext'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_service_type_status_agency', 'service', ['service_type_id', 'status', 'agency_id'],
                    unique=False)
    op.drop_index('ix_service_service_type_id', table_name='service')


def downgrade():
    op.create_index('ix_service_service_type_id', 'service', ['service_type_id'], unique=False)
    op.drop_index('ix_service_type_status_agency', table_name='service')
