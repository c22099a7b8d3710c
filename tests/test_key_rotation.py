"""Key rotation (SECURITY P8): the demo task force written under key A; with "B,A" `csrn rotate-key` re-encrypts every
encrypted column of every model under B, carrying on after an interruption; the app restarted with B alone reads
every value, and finds a volunteer's application by its e-mail."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text, select, type_coerce

import csrn.demo
from csrn.extensions import db
from csrn.lifecycle import keys, retention
from csrn.volunteers import operations as volunteer_ops
from csrn.volunteers.models import VolunteerApplication
from tests.conftest import NOW

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def under_keys(app, monkeypatch):
    def use(configured: str):
        monkeypatch.setitem(app.config, "CSRN_ENCRYPTION_KEY", configured)
        app.extensions.pop("csrn_fernet", None)
        app.extensions.pop("csrn_lookup_keys", None)
    yield use
    app.extensions.pop("csrn_fernet", None)
    app.extensions.pop("csrn_lookup_keys", None)


def stored_tokens() -> list[tuple[str, str]]:
    """(table.column, token as stored) of every non-NULL encrypted value of every model."""
    found = []
    for model in retention.models_with_encrypted_columns():
        for name in retention.encrypted_columns(model):
            column = model.__table__.columns[model.__mapper__.column_attrs[name].columns[0].name]
            found += [(f"{model.__tablename__}.{column.name}", token) for token in db.session.scalars(
                select(type_coerce(column, Text)).where(column.is_not(None)))]
    return found


def readable_by(key: str, tokens) -> bool:
    cipher = Fernet(key.encode())
    try:
        for _, token in tokens:
            cipher.decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def test_rotation_reencrypts_every_column_resumes_and_the_old_key_can_go(app, runner, monkeypatch, tmp_path,
                                                                        under_keys):
    monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
    under_keys(KEY_A)
    with app.app_context():
        csrn.demo.seed(password="demo password for tests", force=True, now=NOW)
        application = db.session.scalar(select(VolunteerApplication).where(VolunteerApplication.status == "applied"))
        email, name = application.email, application.name
        before = stored_tokens()
        tables = {label.split(".")[0] for label, _ in before}
        assert {"intake", "referral_message", "appointment", "location", "volunteer_application"} <= tables
        assert readable_by(KEY_A, before) and not readable_by(KEY_B, before)
        plain = {}
        for model in retention.models_with_encrypted_columns():
            for row in db.session.scalars(select(model)):
                plain[(model.__tablename__, row.__mapper__.primary_key_from_instance(row)[0])] = [
                    getattr(row, attr) for attr in retention.encrypted_columns(model)]
        db.session.remove()
    under_keys(f"{KEY_B},{KEY_A}")
    with app.app_context():  # interrupted after the intakes: those values are done, the rest are not
        first = [m for m in retention.models_with_encrypted_columns() if m.__tablename__ == "intake"]
        monkeypatch.setattr(keys, "models_with_encrypted_columns", lambda: first)
        partial = keys.rotate()
        monkeypatch.undo()
        monkeypatch.setattr(csrn.demo, "INSTANCE", tmp_path)
        under_keys(f"{KEY_B},{KEY_A}")
        assert partial.rotated > 0
    result = runner.invoke(args=["csrn", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert f"{partial.rotated} already under it" in result.output.splitlines()[-1]
    with app.app_context():
        after = stored_tokens()
        assert len(after) == len(before) and readable_by(KEY_B, after)
        db.session.remove()
    again = runner.invoke(args=["csrn", "rotate-key"])
    assert again.output.startswith(f"0 value(s) re-encrypted under the first key, {len(after)} already under it")
    under_keys(KEY_B)  # the old key retired: the app restarted with the new key alone
    with app.app_context():
        for model in retention.models_with_encrypted_columns():
            for row in db.session.scalars(select(model)):
                key = (model.__tablename__, row.__mapper__.primary_key_from_instance(row)[0])
                assert [getattr(row, attr) for attr in retention.encrypted_columns(model)] == plain[key], key
        assert volunteer_ops.request_status_link(email, NOW) == 1
        assert db.session.scalar(select(VolunteerApplication).where(
            VolunteerApplication.email_hash.in_(volunteer_ops.email_hashes(email)))).name == name


def test_a_value_no_key_reads_is_reported_and_the_rest_rotated(app, under_keys):
    from sqlalchemy import update

    from csrn.intake.models import Intake
    from tests.referral_factories import consent_answers, make_provider, make_sender, send_intake
    under_keys(KEY_A)
    with app.app_context():
        provider = make_provider()
        referral = send_intake(make_sender(), NOW, receiver=provider.agency_id, **consent_answers())
        stray = Fernet(Fernet.generate_key()).encrypt(b"written under a key nobody has").decode()
        db.session.execute(update(Intake).where(Intake.id == referral.intake_id)
                           .values({Intake.narrative: type_coerce(stray, Text)}))
        db.session.commit()
        under_keys(f"{KEY_B},{KEY_A}")
        report = keys.rotate()
        assert report.unreadable == 1 and report.rotated > 0
        assert "1 value(s) no configured key reads" in str(report)
        tokens = [token for label, token in stored_tokens() if token != stray]
        assert readable_by(KEY_B, [("", token) for token in tokens])
