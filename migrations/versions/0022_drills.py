"""Drills: the drill table; a drill's clock (intake.drill_clock_offset, seconds ahead of the wall clock); both clocks
on a drill's events (referral_event.real_at); notices and mail kept with their drill (notification.drill_of,
outbox_message.drill_of); and, on SQLite, AUTOINCREMENT on every table a drill's clean-up deletes from, so that no
id is ever given again (a kept audit entry or an old link would name a real record).

Reviewed by hand: one new table, four nullable or defaulted columns, two indexes. SQLite cannot add AUTOINCREMENT to
a table: each is rebuilt by SQLite's own recipe (new table from the stored CREATE TABLE, the primary key made
`INTEGER PRIMARY KEY AUTOINCREMENT`; copy; drop; rename; indexes again) with foreign keys off (migrations/env.py);
the rows, ids and indexes are kept, and sqlite_sequence starts at each table's highest id. PostgreSQL's sequences
never give an id twice: nothing to do there.

Revision ID: 0022_drills
Revises: 0021_coordination
Create Date: 2026-12-06 07:00:00

"""
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_drills'
down_revision = '0021_coordination'
branch_labels = None
depends_on = None

NEVER_REUSED = ('intake', 'unmet_need', 'consent', 'referral', 'offer', 'referral_event', 'referral_contact',
                'case_file', 'case_need', 'plan_step', 'case_event', 'appointment', 'appointment_support',
                'referral_message', 'concern', 'notification', 'outbox_message')
PLAIN_ID = re.compile(r'^(\s*)id INTEGER NOT NULL,', re.M)
AUTO_ID = re.compile(r'^(\s*)id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,', re.M)


def _rebuild(table: str, transform) -> None:
    """SQLite: make the table again from its CREATE TABLE as `transform` rewrites it, keeping rows and indexes."""
    bind = op.get_bind()
    create = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                  (table,)).scalar_one()
    indexes = [row[0] for row in bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))]
    rewritten = transform(create, table)
    if rewritten == create:
        return
    temporary = f'_rebuild_{table}'
    rewritten = re.sub(r'^CREATE TABLE "?%s"? \(' % table, f'CREATE TABLE "{temporary}" (', rewritten, count=1)
    bind.exec_driver_sql(rewritten)
    bind.exec_driver_sql(f'INSERT INTO "{temporary}" SELECT * FROM "{table}"')
    bind.exec_driver_sql(f'DROP TABLE "{table}"')
    bind.exec_driver_sql(f'ALTER TABLE "{temporary}" RENAME TO "{table}"')
    for index in indexes:
        bind.exec_driver_sql(index)


def _autoincrement(create: str, table: str) -> str:
    if 'AUTOINCREMENT' in create:
        return create
    rewritten = PLAIN_ID.sub(r'\1id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,', create, count=1)
    rewritten = re.sub(r',\s*CONSTRAINT pk_%s PRIMARY KEY \(id\)' % table, '', rewritten, count=1)
    if rewritten.count('PRIMARY KEY') != 1:
        raise RuntimeError(f'unexpected CREATE TABLE for {table}: {create}')
    return rewritten


def _plain(create: str, table: str) -> str:
    if 'AUTOINCREMENT' not in create:
        return create
    rewritten = AUTO_ID.sub(r'\1id INTEGER NOT NULL,', create, count=1)
    return rewritten[:rewritten.rstrip().rindex(')')].rstrip() + f', \n\tCONSTRAINT pk_{table} PRIMARY KEY (id)\n)'


def upgrade():
    op.create_table('drill',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=False),
    sa.Column('sending_agency_id', sa.Integer(), nullable=False),
    sa.Column('intake_id', sa.Integer(), nullable=True),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('county', sa.String(length=100), nullable=False),
    sa.Column('needs_json', sa.Text(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('simulated_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=12), nullable=False),
    sa.Column('report_json', sa.Text(), nullable=False),
    sa.Column('cleaned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleaned_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state IN ('running', 'ended', 'cleaned')", name=op.f('ck_drill_state')),
    sa.ForeignKeyConstraint(['cleaned_by_id'], ['app_user.id'], name=op.f('fk_drill_cleaned_by_id_app_user')),
    sa.ForeignKeyConstraint(['intake_id'], ['intake.id'], name=op.f('fk_drill_intake_id_intake'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_drill_referral_id_referral'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sending_agency_id'], ['agency.id'], name=op.f('fk_drill_sending_agency_id_agency')),
    sa.ForeignKeyConstraint(['started_by_id'], ['app_user.id'], name=op.f('fk_drill_started_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drill')),
    sa.UniqueConstraint('uuid', name=op.f('uq_drill_uuid')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('drill', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drill_intake_id'), ['intake_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_drill_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_drill_state'), ['state'], unique=False)

    op.add_column('intake', sa.Column('drill_clock_offset', sa.Integer(), server_default='0', nullable=False))
    op.add_column('referral_event', sa.Column('real_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('notification', sa.Column('drill_of', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_notification_drill_of'), 'notification', ['drill_of'], unique=False)
    op.add_column('outbox_message', sa.Column('drill_of', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_outbox_message_drill_of'), 'outbox_message', ['drill_of'], unique=False)

    if op.get_bind().dialect.name == 'sqlite':
        for table in NEVER_REUSED:
            _rebuild(table, _autoincrement)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for table in NEVER_REUSED:
            _rebuild(table, _plain)
    op.drop_index(op.f('ix_outbox_message_drill_of'), table_name='outbox_message')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('drill_of')
    op.drop_index(op.f('ix_notification_drill_of'), table_name='notification')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_column('drill_of')
    with op.batch_alter_table('referral_event', schema=None) as batch_op:
        batch_op.drop_column('real_at')
    with op.batch_alter_table('intake', schema=None) as batch_op:
        batch_op.drop_column('drill_clock_offset')
    with op.batch_alter_table('drill', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drill_state'))
        batch_op.drop_index(batch_op.f('ix_drill_started_at'))
        batch_op.drop_index(batch_op.f('ix_drill_intake_id'))
    op.drop_table('drill')
