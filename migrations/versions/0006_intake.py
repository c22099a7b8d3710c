"""Intake and referrals: drafts, intakes (identifying columns encrypted), consent, unmet needs, pathways,
referrals, offers (partial unique indexes: one accepted, one pending per referral), events, notifications.

Reviewed by hand: plain SQL types; the partial unique indexes carry their WHERE on both databases.

Revision ID: 0006_intake
Revises: 0003_protocols
Create Date: 2026-11-28 16:06:28.552925

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_intake'
down_revision = '0003_protocols'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pathway',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('working_group', sa.String(length=120), nullable=False),
    sa.Column('age_groups_json', sa.Text(), nullable=False),
    sa.Column('genders_json', sa.Text(), nullable=False),
    sa.Column('citizenship_json', sa.Text(), nullable=False),
    sa.Column('trafficking_json', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pathway'))
    )
    op.create_table('pathway_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pathway_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.Column('guidance', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['pathway_id'], ['pathway.id'], name=op.f('fk_pathway_step_pathway_id_pathway'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_pathway_step_service_type_id_service_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pathway_step'))
    )
    with op.batch_alter_table('pathway_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pathway_step_pathway_id'), ['pathway_id'], unique=False)

    op.create_table('intake',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('is_drill', sa.Boolean(), nullable=False),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('county', sa.String(length=100), nullable=False),
    sa.Column('age_group', sa.String(length=10), nullable=False),
    sa.Column('gender', sa.String(length=40), nullable=False),
    sa.Column('citizenship', sa.String(length=10), nullable=False),
    sa.Column('trafficking_type', sa.String(length=10), nullable=False),
    sa.Column('languages_json', sa.Text(), nullable=False),
    sa.Column('interpreter_needed', sa.Boolean(), nullable=False),
    sa.Column('considerations_json', sa.Text(), nullable=False),
    sa.Column('needs_json', sa.Text(), nullable=False),
    sa.Column('alias', sa.Text(), nullable=True),
    sa.Column('contact_phone', sa.Text(), nullable=True),
    sa.Column('contact_other', sa.Text(), nullable=True),
    sa.Column('safe_channel', sa.Text(), nullable=True),
    sa.Column('safe_times', sa.Text(), nullable=True),
    sa.Column('do_not_text', sa.Boolean(), nullable=False),
    sa.Column('code_word', sa.Text(), nullable=True),
    sa.Column('phone_may_be_controlled', sa.Boolean(), nullable=False),
    sa.Column('narrative', sa.Text(), nullable=True),
    sa.Column('immigration_notes', sa.Text(), nullable=True),
    sa.Column('health_notes', sa.Text(), nullable=True),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("age_group IN ('minor', '18_24', '25_plus', 'unknown')", name=op.f('ck_intake_age_group')),
    sa.CheckConstraint("citizenship IN ('us', 'foreign', 'unknown')", name=op.f('ck_intake_citizenship')),
    sa.CheckConstraint("trafficking_type IN ('sex', 'labour', 'both', 'unknown')", name=op.f('ck_intake_trafficking_type')),
    sa.CheckConstraint("urgency IN ('emergency', 'urgent', 'routine')", name=op.f('ck_intake_urgency')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_intake_agency_id_agency')),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_intake_created_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake')),
    sa.UniqueConstraint('submission_key', name=op.f('uq_intake_submission_key')),
    sa.UniqueConstraint('uuid', name=op.f('uq_intake_uuid'))
    )
    with op.batch_alter_table('intake', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_created_by_id'), ['created_by_id'], unique=False)

    op.create_table('intake_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_intake_draft_agency_id_agency'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_intake_draft_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_draft')),
    sa.UniqueConstraint('submission_key', name=op.f('uq_intake_draft_submission_key'))
    )
    with op.batch_alter_table('intake_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_draft_updated_at'), ['updated_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_draft_user_id'), ['user_id'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_notification_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_read_at'), ['read_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_user_id'), ['user_id'], unique=False)

    op.create_table('consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('intake_id', sa.Integer(), nullable=False),
    sa.Column('given', sa.Boolean(), nullable=False),
    sa.Column('how', sa.String(length=10), nullable=False),
    sa.Column('with_receiver', sa.Boolean(), nullable=False),
    sa.Column('with_backups', sa.Boolean(), nullable=False),
    sa.Column('with_onward', sa.Boolean(), nullable=False),
    sa.Column('with_chairs', sa.Boolean(), nullable=False),
    sa.Column('named_agencies_json', sa.Text(), nullable=False),
    sa.Column('categories_json', sa.Text(), nullable=False),
    sa.Column('given_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("how IN ('verbal', 'written', 'none')", name=op.f('ck_consent_how')),
    sa.ForeignKeyConstraint(['intake_id'], ['intake.id'], name=op.f('fk_consent_intake_id_intake'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['app_user.id'], name=op.f('fk_consent_recorded_by_id_app_user')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['app_user.id'], name=op.f('fk_consent_revoked_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent')),
    sa.UniqueConstraint('intake_id', name=op.f('uq_consent_intake_id'))
    )
    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('intake_id', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.Column('sending_agency_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('accepted_agency_id', sa.Integer(), nullable=True),
    sa.Column('candidates_json', sa.Text(), nullable=False),
    sa.Column('is_drill', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('offered', 'accepted', 'in_progress', 'closed', 'withdrawn', 'unassigned')", name=op.f('ck_referral_state')),
    sa.CheckConstraint("urgency IN ('emergency', 'urgent', 'routine')", name=op.f('ck_referral_urgency')),
    sa.ForeignKeyConstraint(['accepted_agency_id'], ['agency.id'], name=op.f('fk_referral_accepted_agency_id_agency')),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_referral_created_by_id_app_user')),
    sa.ForeignKeyConstraint(['intake_id'], ['intake.id'], name=op.f('fk_referral_intake_id_intake')),
    sa.ForeignKeyConstraint(['sending_agency_id'], ['agency.id'], name=op.f('fk_referral_sending_agency_id_agency')),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_referral_service_type_id_service_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral')),
    sa.UniqueConstraint('uuid', name=op.f('uq_referral_uuid'))
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_accepted_agency_id'), ['accepted_agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_intake_id'), ['intake_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_sending_agency_id'), ['sending_agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_state'), ['state'], unique=False)

    op.create_table('unmet_need',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('intake_id', sa.Integer(), nullable=True),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.Column('age_group', sa.String(length=10), nullable=False),
    sa.Column('gender', sa.String(length=40), nullable=False),
    sa.Column('citizenship', sa.String(length=10), nullable=False),
    sa.Column('trafficking_type', sa.String(length=10), nullable=False),
    sa.Column('county', sa.String(length=100), nullable=False),
    sa.Column('recorded_on', sa.Date(), nullable=False),
    sa.Column('is_drill', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['intake_id'], ['intake.id'], name=op.f('fk_unmet_need_intake_id_intake'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_unmet_need_service_type_id_service_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unmet_need'))
    )
    with op.batch_alter_table('unmet_need', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unmet_need_intake_id'), ['intake_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unmet_need_recorded_on'), ['recorded_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_unmet_need_service_type_id'), ['service_type_id'], unique=False)

    op.create_table('offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('decline_reason', sa.String(length=20), nullable=False),
    sa.Column('decline_text', sa.Text(), nullable=False),
    sa.Column('offered_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state != 'declined' OR decline_reason != ''", name=op.f('ck_offer_decline_has_reason')),
    sa.CheckConstraint("state IN ('pending', 'accepted', 'declined', 'expired', 'withdrawn')", name=op.f('ck_offer_state')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_offer_agency_id_agency')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['app_user.id'], name=op.f('fk_offer_answered_by_id_app_user')),
    sa.ForeignKeyConstraint(['offered_by_id'], ['app_user.id'], name=op.f('fk_offer_offered_by_id_app_user')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_offer_referral_id_referral'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_offer_service_id_service'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offer'))
    )
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_deadline_at'), ['deadline_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_state'), ['state'], unique=False)
        batch_op.create_index('uq_offer_one_accepted', ['referral_id'], unique=True, sqlite_where=sa.text("state = 'accepted'"), postgresql_where=sa.text("state = 'accepted'"))
        batch_op.create_index('uq_offer_one_pending', ['referral_id'], unique=True, sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))

    op.create_table('referral_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_referral_event_actor_id_app_user')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_referral_event_agency_id_agency')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_referral_event_referral_id_referral'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_event'))
    )
    with op.batch_alter_table('referral_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_event_referral_id'), ['referral_id'], unique=False)



def downgrade():
    with op.batch_alter_table('referral_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_event_referral_id'))

    op.drop_table('referral_event')
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_index('uq_offer_one_pending', sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index('uq_offer_one_accepted', sqlite_where=sa.text("state = 'accepted'"), postgresql_where=sa.text("state = 'accepted'"))
        batch_op.drop_index(batch_op.f('ix_offer_state'))
        batch_op.drop_index(batch_op.f('ix_offer_referral_id'))
        batch_op.drop_index(batch_op.f('ix_offer_deadline_at'))
        batch_op.drop_index(batch_op.f('ix_offer_agency_id'))

    op.drop_table('offer')
    with op.batch_alter_table('unmet_need', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unmet_need_service_type_id'))
        batch_op.drop_index(batch_op.f('ix_unmet_need_recorded_on'))
        batch_op.drop_index(batch_op.f('ix_unmet_need_intake_id'))

    op.drop_table('unmet_need')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_state'))
        batch_op.drop_index(batch_op.f('ix_referral_sending_agency_id'))
        batch_op.drop_index(batch_op.f('ix_referral_intake_id'))
        batch_op.drop_index(batch_op.f('ix_referral_created_at'))
        batch_op.drop_index(batch_op.f('ix_referral_accepted_agency_id'))

    op.drop_table('referral')
    op.drop_table('consent')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_user_id'))
        batch_op.drop_index(batch_op.f('ix_notification_read_at'))

    op.drop_table('notification')
    with op.batch_alter_table('intake_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_draft_user_id'))
        batch_op.drop_index(batch_op.f('ix_intake_draft_updated_at'))

    op.drop_table('intake_draft')
    with op.batch_alter_table('intake', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_intake_agency_id'))

    op.drop_table('intake')
    with op.batch_alter_table('pathway_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pathway_step_pathway_id'))

    op.drop_table('pathway_step')
    op.drop_table('pathway')
