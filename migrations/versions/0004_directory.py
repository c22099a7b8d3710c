"""Directory: service taxonomy and genders (seeded), services with facets and schedules, locations,
holidays, capacity confirmations; agency point of contact; agency-owned capacity tokens.

Reviewed by hand: plain SQL types; server defaults for the new agency columns; the token purpose CHECK
is replaced (autogenerate does not see CHECK changes); the taxonomy and gender list are seeded here so
every database starts with DESIGN.md section 4.1's needs list.

Revision ID: 0004_directory
Revises: 0003_membership
Create Date: 2026-11-28 15:51:11.740669

"""
import uuid

from alembic import op
import sqlalchemy as sa

# Stable ids for the seeded terms, so every installation exports the same HSDS taxonomy ids.
NAMESPACE = uuid.UUID('6f1c1d1e-8b1a-4d5e-9a57-4c0a2f9e3b10')
SERVICE_TYPES = [
    ('case_management', 'Case management', 'Intensive case management: needs assessment, service planning and coordination.'),
    ('safety_planning', 'Safety planning', 'Assessing danger and planning how to stay safe from the trafficker.'),
    ('emergency_shelter', 'Emergency shelter', 'A safe place to stay tonight.'),
    ('medical', 'Medical care', 'Primary, urgent and forensic-informed medical care.'),
    ('dental', 'Dental care', 'Emergency and routine dental care.'),
    ('mental_health', 'Mental health', 'Counselling and trauma-focused therapy.'),
    ('immigration_legal', 'Immigration legal help', 'T visas, U visas, continued presence and other immigration relief.'),
    ('civil_legal', 'Civil legal help', 'Protective orders, housing, family law, vacatur of convictions.'),
    ('criminal_justice_advocacy', 'Criminal-justice advocacy', 'Accompaniment and advocacy through investigation and prosecution.'),
    ('interpretation', 'Interpretation', 'Interpreters and translation for appointments and interviews.'),
    ('food_clothing', 'Food and clothing', 'Meals, groceries, clothing and hygiene items.'),
    ('transport', 'Transport', 'Rides, bus passes and travel to appointments.'),
    ('employment', 'Employment', 'Job readiness, training and placement.'),
    ('education', 'Education', 'Schooling, GED and English classes.'),
    ('substance_use', 'Substance use treatment', 'Detox, treatment and recovery support.'),
    ('child_welfare', 'Child welfare', 'Child protective services and support for minors.'),
    ('repatriation', 'Repatriation', 'Safe return to the home country, when wanted.'),
]
GENDERS = [('female', 'Female'), ('male', 'Male'), ('transgender', 'Transgender'), ('non_binary', 'Non-binary')]


# revision identifiers, used by Alembic.
revision = '0004_directory'
down_revision = '0003_membership'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('gender_option',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gender_option')),
    sa.UniqueConstraint('code', name=op.f('uq_gender_option_code'))
    )
    op.create_table('holiday',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holiday')),
    sa.UniqueConstraint('day', name=op.f('uq_holiday_day'))
    )
    op.create_table('service_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_type')),
    sa.UniqueConstraint('code', name=op.f('uq_service_type_code')),
    sa.UniqueConstraint('uuid', name=op.f('uq_service_type_uuid'))
    )
    op.create_table('location',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address_1', sa.Text(), nullable=False),
    sa.Column('address_2', sa.Text(), nullable=True),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=60), nullable=False),
    sa.Column('postal_code', sa.String(length=20), nullable=False),
    sa.Column('county', sa.String(length=100), nullable=False),
    sa.Column('visibility', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("visibility IN ('public', 'members', 'confidential')", name=op.f('ck_location_visibility')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_location_agency_id_agency'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_location')),
    sa.UniqueConstraint('uuid', name=op.f('uq_location_uuid'))
    )
    with op.batch_alter_table('location', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_location_agency_id'), ['agency_id'], unique=False)

    op.create_table('service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('accessibility', sa.Text(), nullable=False),
    sa.Column('cost', sa.String(length=10), nullable=False),
    sa.Column('how_to_refer', sa.Text(), nullable=False),
    sa.Column('is_24_7', sa.Boolean(), nullable=False),
    sa.Column('closed_on_holidays', sa.Boolean(), nullable=False),
    sa.Column('open_slots', sa.Integer(), nullable=True),
    sa.Column('waitlist', sa.Integer(), nullable=False),
    sa.Column('capacity_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("cost IN ('free', 'sliding', 'pro_bono', 'fee')", name=op.f('ck_service_cost')),
    sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f('ck_service_status')),
    sa.CheckConstraint('open_slots IS NULL OR open_slots >= 0', name=op.f('ck_service_open_slots_not_negative')),
    sa.CheckConstraint('waitlist >= 0', name=op.f('ck_service_waitlist_not_negative')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_service_agency_id_agency'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_service_service_type_id_service_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service')),
    sa.UniqueConstraint('uuid', name=op.f('uq_service_uuid'))
    )
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_service_type_id'), ['service_type_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_status'), ['status'], unique=False)

    op.create_table('capacity_confirmation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_capacity_confirmation_agency_id_agency'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_capacity_confirmation_user_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capacity_confirmation'))
    )
    with op.batch_alter_table('capacity_confirmation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capacity_confirmation_agency_id'), ['agency_id'], unique=False)

    op.create_table('schedule_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=True),
    sa.Column('opens', sa.Time(), nullable=True),
    sa.Column('closes', sa.Time(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.CheckConstraint("(kind = 'weekly' AND weekday BETWEEN 0 AND 6 AND opens IS NOT NULL AND closes IS NOT NULL) OR (kind = 'closed' AND start_date IS NOT NULL AND end_date IS NOT NULL AND end_date >= start_date)", name=op.f('ck_schedule_rule_shape')),
    sa.CheckConstraint("kind IN ('weekly', 'closed')", name=op.f('ck_schedule_rule_kind')),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_schedule_rule_service_id_service'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_rule'))
    )
    with op.batch_alter_table('schedule_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_rule_service_id'), ['service_id'], unique=False)

    op.create_table('service_facet',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.CheckConstraint("kind IN ('age', 'gender', 'citizenship', 'trafficking', 'language', 'interpretation', 'county')", name=op.f('ck_service_facet_kind')),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_service_facet_service_id_service'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_facet')),
    sa.UniqueConstraint('service_id', 'kind', 'value', name='uq_service_facet_value')
    )
    with op.batch_alter_table('service_facet', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_facet_service_id'), ['service_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_facet_value'), ['value'], unique=False)

    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('poc_name', sa.String(length=120), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('poc_phone', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('poc_email', sa.String(length=254), nullable=False, server_default=''))

    with op.batch_alter_table('auth_token', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_auth_token_purpose'), type_='check')
        batch_op.create_check_constraint('purpose', "purpose IN ('invite', 'reset', 'capacity')")
        batch_op.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
        batch_op.alter_column('user_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_auth_token_agency_id'), ['agency_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_auth_token_agency_id_agency'), 'agency', ['agency_id'], ['id'], ondelete='CASCADE')



    service_type = sa.table(
        'service_type', sa.column('uuid', sa.String), sa.column('code', sa.String), sa.column('name', sa.String),
        sa.column('description', sa.Text), sa.column('sort_order', sa.Integer), sa.column('active', sa.Boolean))
    op.bulk_insert(service_type, [
        {'uuid': str(uuid.uuid5(NAMESPACE, code)), 'code': code, 'name': name, 'description': description,
         'sort_order': index, 'active': True}
        for index, (code, name, description) in enumerate(SERVICE_TYPES)
    ])
    gender_option = sa.table('gender_option', sa.column('code', sa.String), sa.column('label', sa.String),
                             sa.column('sort_order', sa.Integer))
    op.bulk_insert(gender_option, [
        {'code': code, 'label': label, 'sort_order': index} for index, (code, label) in enumerate(GENDERS)
    ])


def downgrade():
    op.execute("DELETE FROM auth_token WHERE purpose = 'capacity' OR user_id IS NULL")
    with op.batch_alter_table('auth_token', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_auth_token_purpose'), type_='check')
        batch_op.create_check_constraint('purpose', "purpose IN ('invite', 'reset')")
        batch_op.drop_constraint(batch_op.f('fk_auth_token_agency_id_agency'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_auth_token_agency_id'))
        batch_op.alter_column('user_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('agency_id')

    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('poc_email')
        batch_op.drop_column('poc_phone')
        batch_op.drop_column('poc_name')

    with op.batch_alter_table('service_facet', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_facet_value'))
        batch_op.drop_index(batch_op.f('ix_service_facet_service_id'))

    op.drop_table('service_facet')
    with op.batch_alter_table('schedule_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_rule_service_id'))

    op.drop_table('schedule_rule')
    with op.batch_alter_table('capacity_confirmation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_capacity_confirmation_agency_id'))

    op.drop_table('capacity_confirmation')
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_status'))
        batch_op.drop_index(batch_op.f('ix_service_service_type_id'))
        batch_op.drop_index(batch_op.f('ix_service_agency_id'))

    op.drop_table('service')
    with op.batch_alter_table('location', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_location_agency_id'))

    op.drop_table('location')
    op.drop_table('service_type')
    op.drop_table('holiday')
    op.drop_table('gender_option')
