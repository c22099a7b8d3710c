"""Demand report speed: the daily roll-up of the demand report's counts (demand_count) and of acceptance times
(acceptance_time), how far it has got (rollup_mark), and indexes on intake (created_at) and offer (state,
answered_at) for reading a span of days.

Reviewed by hand: three new tables, filled by the `daily` pass (the report reads the records themselves for every
day the roll-up has not reached, so an empty roll-up is never wrong); two indexes.

Revision ID: 0027_demand_rollup
Revises: 0026_event_kind_index
Create Date: 2026-12-06 09:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0027_demand_rollup'
down_revision = '0026_event_kind_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('demand_count',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grain', sa.String(length=5), nullable=False),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('measure', sa.String(length=20), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.Column('dimension', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demand_count')),
    sa.UniqueConstraint('grain', 'start', 'measure', 'service_type_id', 'dimension', 'value',
                        name=op.f('uq_demand_count_grain'))
    )
    op.create_table('acceptance_time',
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.id'], name=op.f('fk_acceptance_time_offer_id_offer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('offer_id', name=op.f('pk_acceptance_time'))
    )
    op.create_table('rollup_mark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('through', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rollup_mark'))
    )
    op.create_index(op.f('ix_intake_created_at'), 'intake', ['created_at'], unique=False)
    op.create_index('ix_offer_state_answered', 'offer', ['state', 'answered_at'], unique=False)


def downgrade():
    op.drop_index('ix_offer_state_answered', table_name='offer')
    op.drop_index(op.f('ix_intake_created_at'), table_name='intake')
    op.drop_table('rollup_mark')
    op.drop_table('acceptance_time')
    op.drop_table('demand_count')
