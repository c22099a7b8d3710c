"""Migrations: they agree with the models, round-trip down and up, and create no accounts (SECURITY A7, R9)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select, text

from csrn.auth.models import User, UserRole
from csrn.directory.fulltext import include_object
from csrn.extensions import db


def _differences(connection) -> list:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": False, "include_object": include_object}
    )
    return compare_metadata(context, db.metadata)


@pytest.fixture
def default_session_mode():
    """Give sessions SQLAlchemy's default join mode (conftest's teardown sets an unknown one)."""
    db.session.session_factory.configure(bind=None, join_transaction_mode="conditional_savepoint")


def test_models_and_migrations_agree(ctx):
    """Autogenerate against the migrated suite database finds nothing to do."""
    assert _differences(db.session.connection()) == []


def test_every_model_table_is_migrated(ctx):
    """Every table the models declare exists after `flask db upgrade` (and the version table)."""
    tables = set(inspect(db.session.connection()).get_table_names())
    assert set(db.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_constraints_are_named_by_the_convention(ctx):
    """Constraint names follow the MetaData naming convention, so later batch migrations can find them."""
    inspector = inspect(db.session.connection())
    checks = {check["name"] for check in inspector.get_check_constraints("agency")}
    assert {"ck_agency_membership_status", "ck_agency_agency_type"} <= checks
    foreign_keys = {fk["name"] for fk in inspector.get_foreign_keys("app_user")}
    assert "fk_app_user_agency_id_agency" in foreign_keys


@pytest.mark.concurrency
def test_fresh_database_has_no_accounts(committed_app, default_session_mode):
    """After `flask db upgrade` nobody can log in: no default user, no default role (A7)."""
    with committed_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        assert db.session.scalar(select(func.count()).select_from(UserRole)) == 0
        assert db.session.execute(text("SELECT COUNT(*) FROM app_user")).scalar() == 0
        db.session.remove()


@pytest.mark.concurrency
def test_downgrade_to_base_and_upgrade_round_trips(committed_app, default_session_mode):
    """Every migration downgrades cleanly to an empty schema and upgrades back to the models exactly."""
    with committed_app.app_context():
        engine = db.engine
        downgrade(revision="base")
        with engine.connect() as conn:
            left = set(inspect(conn).get_table_names()) - {"alembic_version"}
            assert left == set()
            version = conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar()
            assert version == 0
        upgrade()
        with engine.connect() as conn:
            assert set(db.metadata.tables) <= set(inspect(conn).get_table_names())
            assert _differences(conn) == []
        # The upgraded schema works: a user can be written and read back.
        from csrn.auth import operations as auth_ops
        from tests.conftest import NOW

        auth_ops.create_user(None, "after.roundtrip@example.org", "Round Trip", ["admin"], None, NOW,
                             password="a perfectly fine passphrase")
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
        db.session.remove()


@pytest.mark.concurrency
def test_intake_needs_and_languages_are_filled_from_existing_intakes(committed_app, default_session_mode):
    """0023 turns each existing intake's needs and languages (JSON) into rows, skipping a code no longer in the
    taxonomy; 0022's SQLite tables keep their rows and ids through the AUTOINCREMENT rebuild."""
    with committed_app.app_context():
        from tests.referral_factories import new_agency, new_user

        agency_id = new_agency("Migrated").id
        user_id = new_user(agency_id).id
        db.session.commit()
        db.session.remove()
        downgrade(revision="0021_coordination")
        with db.engine.begin() as conn:
            for n, (needs, languages) in enumerate([('["case_management", "dental", "gone"]', '["es", "en"]'),
                                                    ('[]', '[]')]):
                conn.execute(text(
                    "INSERT INTO intake (id, uuid, submission_key, created_by_id, agency_id, created_at, is_drill, "
                    "urgency, county, age_group, gender, citizenship, trafficking_type, languages_json, "
                    "interpreter_needed, considerations_json, needs_json, do_not_text, phone_may_be_controlled) "
                    "VALUES (:id, :uuid, :key, :u, :a, CURRENT_TIMESTAMP, false, 'routine', '', 'unknown', "
                    "'unknown', 'unknown', 'unknown', :languages, false, '[]', :needs, false, false)"),
                    {"id": 40 + n, "uuid": f"b000000{n}-0000-0000-0000-000000000000", "key": f"k{n}", "u": user_id,
                     "a": agency_id, "languages": languages, "needs": needs})
        upgrade()
        with db.engine.connect() as conn:
            needs = conn.execute(text("SELECT i.id, t.code FROM intake_need n JOIN intake i ON i.id = n.intake_id "
                                      "JOIN service_type t ON t.id = n.service_type_id ORDER BY t.code")).all()
            languages = conn.execute(text("SELECT intake_id, language FROM intake_language ORDER BY language")).all()
            ids = conn.execute(text("SELECT id FROM intake ORDER BY id")).scalars().all()
        assert [tuple(row) for row in needs] == [(40, "case_management"), (40, "dental")]
        assert [tuple(row) for row in languages] == [(40, "en"), (40, "es")]
        assert ids == [40, 41]
        db.session.remove()


@pytest.mark.concurrency
def test_the_demo_survives_the_recent_migrations_down_and_up_and_every_downgrade_runs_on_data(
        committed_app, default_session_mode, monkeypatch, tmp_path):
    """The demo written at the head; down to 0019 and up again: every table that stayed keeps its rows (and the
    intake needs and languages 0023 makes are filled again from the intakes, the same rows); the app reads every
    encrypted value back. Then every downgrade to the base runs with the data in place."""
    import csrn.demo
    from csrn.lifecycle import retention
    from tests.conftest import NOW

    def counts(conn, tables) -> dict[str, int]:
        from sqlalchemy import table
        return {name: conn.execute(select(func.count()).select_from(table(name))).scalar() for name in sorted(tables)}

    monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
    with committed_app.app_context():
        csrn.demo.seed(password="demo password for tests", force=True, now=NOW)
        db.session.remove()
        engine = db.engine
        with engine.connect() as conn:
            before = counts(conn, inspect(conn).get_table_names())
        downgrade(revision="0019_access_requests")
        with engine.connect() as conn:
            kept = set(inspect(conn).get_table_names()) - {"alembic_version"}
        assert "intake" in kept and "case_file" not in kept
        upgrade()
        with engine.connect() as conn:
            after = counts(conn, inspect(conn).get_table_names())
        for name in sorted(kept | {"intake_need", "intake_language"}):
            assert after[name] == before[name], name
        assert before["intake_need"] > 0
        for model in retention.models_with_encrypted_columns():
            for row in db.session.scalars(select(model)):
                [getattr(row, attr) for attr in retention.encrypted_columns(model)]  # decrypts, or raises
        db.session.remove()
        downgrade(revision="base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) - {"alembic_version"} == set()
        upgrade()
