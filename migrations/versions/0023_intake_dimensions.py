"""The intake's needs and languages as rows (intake_need, intake_language) for grouped counts in the gap analysis,
filled from every existing intake's needs_json and languages_json (which stay, and are written as before).

Reviewed by hand: two new tables (AUTOINCREMENT on SQLite, like every table a drill's clean-up deletes from), each
with a unique (intake, value) pair; the fill reads the JSON in Python (both databases alike) and skips a need whose
code is no longer in the taxonomy.

Revision ID: 0023_intake_dimensions
Revises: 0022_drills
Create Date: 2026-12-06 08:00:00

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023_intake_dimensions'
down_revision = '0022_drills'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intake_need',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('intake_id', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['intake_id'], ['intake.id'], name=op.f('fk_intake_need_intake_id_intake'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], name=op.f('fk_intake_need_service_type_id_service_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_need')),
    sa.UniqueConstraint('intake_id', 'service_type_id', name=op.f('uq_intake_need_intake_id')),
    sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_intake_need_intake_id'), 'intake_need', ['intake_id'], unique=False)
    op.create_index(op.f('ix_intake_need_service_type_id'), 'intake_need', ['service_type_id'], unique=False)
    op.create_table('intake_language',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('intake_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['intake_id'], ['intake.id'], name=op.f('fk_intake_language_intake_id_intake'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_language')),
    sa.UniqueConstraint('intake_id', 'language', name=op.f('uq_intake_language_intake_id')),
    sqlite_autoincrement=True,
    )
    op.create_index(op.f('ix_intake_language_intake_id'), 'intake_language', ['intake_id'], unique=False)
    op.create_index(op.f('ix_intake_language_language'), 'intake_language', ['language'], unique=False)

    bind = op.get_bind()
    types = dict(bind.execute(sa.text('SELECT code, id FROM service_type')).all())
    needs, languages = [], []
    for intake_id, needs_json, languages_json in bind.execute(
            sa.text('SELECT id, needs_json, languages_json FROM intake ORDER BY id')):
        for type_id in sorted({types[code] for code in json.loads(needs_json or '[]') if code in types}):
            needs.append({'intake_id': intake_id, 'service_type_id': type_id})
        for language in sorted(set(json.loads(languages_json or '[]'))):
            languages.append({'intake_id': intake_id, 'language': str(language)[:20]})
    if needs:
        bind.execute(sa.text('INSERT INTO intake_need (intake_id, service_type_id) VALUES (:intake_id, :service_type_id)'), needs)
    if languages:
        bind.execute(sa.text('INSERT INTO intake_language (intake_id, language) VALUES (:intake_id, :language)'), languages)


def downgrade():
    op.drop_index(op.f('ix_intake_language_language'), table_name='intake_language')
    op.drop_index(op.f('ix_intake_language_intake_id'), table_name='intake_language')
    op.drop_table('intake_language')
    op.drop_index(op.f('ix_intake_need_service_type_id'), table_name='intake_need')
    op.drop_index(op.f('ix_intake_need_intake_id'), table_name='intake_need')
    op.drop_table('intake_need')
