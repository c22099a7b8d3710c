"""The HSDS API (issue 23): API tokens are access tokens of their own purpose, 'hsds-api', held by no user (an
outside system), named, and made by an admin; the admin setting that opens the API to everyone.

Reviewed by hand: access_token gains `name` and `created_by_id`, its `user_id` may be empty (only for an API token,
a check says so), and its purpose check is widened (batch mode on SQLite, which rebuilds the table; access_token
is not a never-reused-ids table). task_force_settings gains `hsds_api_public`, false.

Revision ID: 0032_hsds_api_tokens
Revises: 0031_consent_named_explicitly
Create Date: 2026-12-06 12:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0032_hsds_api_tokens'
down_revision = '0031_consent_named_explicitly'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('access_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_access_token_created_by_id_app_user'), 'app_user',
                                    ['created_by_id'], ['id'], ondelete='SET NULL')
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint(op.f('ck_access_token_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_access_token_purpose'),
                                         "purpose IN ('oncall-mine', 'oncall-agency', 'appointments-mine', 'hsds-api')")
        batch_op.create_check_constraint(op.f('ck_access_token_holder'),
                                         "(purpose = 'hsds-api' AND name IS NOT NULL AND user_id IS NULL)"
                                         " OR (purpose <> 'hsds-api' AND user_id IS NOT NULL)")
    with op.batch_alter_table('task_force_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hsds_api_public', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('task_force_settings', schema=None) as batch_op:
        batch_op.drop_column('hsds_api_public')
    op.execute("DELETE FROM access_token WHERE purpose = 'hsds-api'")
    with op.batch_alter_table('access_token', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_access_token_holder'), type_='check')
        batch_op.drop_constraint(op.f('ck_access_token_purpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_access_token_purpose'),
                                         "purpose IN ('oncall-mine', 'oncall-agency', 'appointments-mine')")
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_access_token_created_by_id_app_user'), type_='foreignkey')
        batch_op.drop_column('created_by_id')
        batch_op.drop_column('name')
