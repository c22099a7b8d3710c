"""Recruitment: gap_prospect, an agency a chair links to a gap cell of the resource map (service type × segment).

Reviewed by hand: one new table; unique per agency, type and segment; removed with its agency.

Revision ID: 0025_gap_prospects
Revises: 0024_service_correction
Create Date: 2026-12-06 09:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025_gap_prospects'
down_revision = '0024_service_correction'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('gap_prospect',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.Column('segment', sa.String(length=60), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_gap_prospect_agency_id_agency'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_gap_prospect_created_by_id_app_user')),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_gap_prospect_service_type_id_service_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gap_prospect')),
    sa.UniqueConstraint('agency_id', 'service_type_id', 'segment', name=op.f('uq_gap_prospect_agency_id'))
    )
    op.create_index(op.f('ix_gap_prospect_agency_id'), 'gap_prospect', ['agency_id'], unique=False)
    op.create_index(op.f('ix_gap_prospect_service_type_id'), 'gap_prospect', ['service_type_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_gap_prospect_service_type_id'), table_name='gap_prospect')
    op.drop_index(op.f('ix_gap_prospect_agency_id'), table_name='gap_prospect')
    op.drop_table('gap_prospect')
