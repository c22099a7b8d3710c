"""Protocols: pages (slug, audience, owner, review date, draft/published), their versions, acknowledgements.

Reviewed by hand: plain SQL types; new tables only, so no server defaults are needed. The page's
CHECKs tie its status to its published version number; (page, number) and (version, user) are unique,
and those unique indexes also serve the lookups by page and by version.

Revision ID: 0003_protocols
Revises: 0004_directory
Create Date: 2026-11-28 15:54:25.073459

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_protocols'
down_revision = '0004_directory'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('protocol_page',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('audience', sa.String(length=12), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('review_due_on', sa.Date(), nullable=False),
    sa.Column('latest_number', sa.Integer(), nullable=False),
    sa.Column('published_number', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("(status = 'draft' AND published_number IS NULL) OR (status = 'published' AND published_number IS NOT NULL AND published_number <= latest_number)", name=op.f('ck_protocol_page_publication')),
    sa.CheckConstraint("audience IN ('members', 'volunteers', 'both')", name=op.f('ck_protocol_page_audience')),
    sa.CheckConstraint("status IN ('draft', 'published')", name=op.f('ck_protocol_page_status')),
    sa.ForeignKeyConstraint(['owner_id'], ['app_user.id'], name=op.f('fk_protocol_page_owner_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protocol_page')),
    sa.UniqueConstraint('slug', name=op.f('uq_protocol_page_slug'))
    )
    with op.batch_alter_table('protocol_page', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_protocol_page_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_protocol_page_review_due_on'), ['review_due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_protocol_page_status'), ['status'], unique=False)

    op.create_table('protocol_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('change_note', sa.String(length=500), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('restored_from', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['app_user.id'], name=op.f('fk_protocol_version_author_id_app_user')),
    sa.ForeignKeyConstraint(['page_id'], ['protocol_page.id'], name=op.f('fk_protocol_version_page_id_protocol_page')),
    sa.ForeignKeyConstraint(['published_by_id'], ['app_user.id'], name=op.f('fk_protocol_version_published_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protocol_version')),
    sa.UniqueConstraint('page_id', 'number', name='uq_protocol_version_page_number')
    )
    op.create_table('protocol_acknowledgement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_protocol_acknowledgement_user_id_app_user')),
    sa.ForeignKeyConstraint(['version_id'], ['protocol_version.id'], name=op.f('fk_protocol_acknowledgement_version_id_protocol_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protocol_acknowledgement')),
    sa.UniqueConstraint('version_id', 'user_id', name='uq_protocol_acknowledgement_version_user')
    )
    with op.batch_alter_table('protocol_acknowledgement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_protocol_acknowledgement_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('protocol_acknowledgement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_protocol_acknowledgement_user_id'))

    op.drop_table('protocol_acknowledgement')
    op.drop_table('protocol_version')
    with op.batch_alter_table('protocol_page', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_protocol_page_status'))
        batch_op.drop_index(batch_op.f('ix_protocol_page_review_due_on'))
        batch_op.drop_index(batch_op.f('ix_protocol_page_owner_id'))

    op.drop_table('protocol_page')
