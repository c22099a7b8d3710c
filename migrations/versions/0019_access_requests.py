"""Invitations and role grants into an agency from outside it wait for its agency admins: access requests; who
invited each person and who approved.

Reviewed by hand: `access_request` (kind invite / roles / reactivate; pending, approved or refused; who asked and who
decided); `app_user.invited_by_id` and `approved_by_id` (SET NULL when that account goes). Existing accounts get
their inviter from the audit log's `user.invite` entries, when that account still exists.

Revision ID: 0019_access_requests
Revises: 0018_encrypt_volunteers
Create Date: 2026-12-06 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_access_requests'
down_revision = '0018_encrypt_volunteers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'access_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('roles', sa.String(length=200), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('invite', 'roles', 'reactivate')", name=op.f('ck_access_request_kind')),
        sa.CheckConstraint("state IN ('pending', 'approved', 'refused')", name=op.f('ck_access_request_state')),
        sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_access_request_agency_id_agency'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_access_request_user_id_app_user'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['app_user.id'],
                                name=op.f('fk_access_request_requested_by_id_app_user'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['decided_by_id'], ['app_user.id'],
                                name=op.f('fk_access_request_decided_by_id_app_user'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_access_request')),
    )
    with op.batch_alter_table('access_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_request_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_request_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_request_state'), ['state'], unique=False)

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invited_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_app_user_invited_by_id_app_user'), 'app_user',
                                    ['invited_by_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_app_user_approved_by_id_app_user'), 'app_user',
                                    ['approved_by_id'], ['id'], ondelete='SET NULL')
    op.execute(
        "UPDATE app_user SET invited_by_id = (SELECT MIN(e.actor_id) FROM audit_event e JOIN app_user inviter "
        "ON inviter.id = e.actor_id WHERE e.action = 'user.invite' AND e.object_type = 'user' "
        "AND e.object_id = CAST(app_user.id AS VARCHAR(60)))"
    )


def downgrade():
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_app_user_approved_by_id_app_user'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_app_user_invited_by_id_app_user'), type_='foreignkey')
        batch_op.drop_column('approved_by_id')
        batch_op.drop_column('invited_by_id')
    with op.batch_alter_table('access_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_request_state'))
        batch_op.drop_index(batch_op.f('ix_access_request_user_id'))
        batch_op.drop_index(batch_op.f('ix_access_request_agency_id'))
    op.drop_table('access_request')
