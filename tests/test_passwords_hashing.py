"""SECURITY A1: argon2id with argon2-cffi's defaults in production, cheaper in tests, rehash on login."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from cryptography.fernet import Fernet

from csrn.auth import operations as auth_ops
from csrn.auth.models import User
from csrn.config import ProductionConfig, load_config
from csrn.extensions import db
from tests.conftest import PASSWORD, Browser

ARGON2_KEYS = ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM")


def _params(encoded: str) -> dict[str, int]:
    """The m, t and p of an encoded argon2 hash."""
    fields = encoded.split("$")[3]
    return {key: int(value) for key, value in (part.split("=") for part in fields.split(","))}


def _stored_hash(app, user_id: int) -> str:
    with app.app_context():
        return db.session.get(User, user_id).password_hash


def test_stored_hash_is_argon2id(app, create_user):
    """The database holds an argon2id hash, never the password."""
    user = create_user()
    stored = _stored_hash(app, user.id)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    PasswordHasher().verify(stored, PASSWORD)


def test_production_parameters_are_argon2_cffi_defaults():
    """ProductionConfig's cost parameters are exactly argon2-cffi's (RFC 9106 low-memory) defaults."""
    defaults = PasswordHasher()
    assert ProductionConfig.ARGON2_TIME_COST == defaults.time_cost
    assert ProductionConfig.ARGON2_MEMORY_COST == defaults.memory_cost
    assert ProductionConfig.ARGON2_PARALLELISM == defaults.parallelism


def test_hash_made_with_production_config_shows_production_parameters(app, monkeypatch, tmp_path):
    """A hash made under the loaded production configuration reads m=65536,t=3,p=4."""
    for name, value in {
        "CSRN_ENV": "production",
        "SECRET_KEY": "p" * 48,
        "CSRN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CSRN_BASE_URL": "https://csrn.example.org",
        "TRUSTED_HOSTS": "csrn.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path}/prod.sqlite3",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    }.items():
        monkeypatch.setenv(name, value)
    production = load_config()
    for key in ARGON2_KEYS:
        monkeypatch.setitem(app.config, key, getattr(production, key))
    with app.app_context():
        encoded = auth_ops.hash_password(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not PasswordHasher().check_needs_rehash(encoded)


def test_test_configuration_is_cheaper(app, create_user):
    """The suite hashes with much cheaper parameters than production (and says so in the hash)."""
    assert app.config["ARGON2_MEMORY_COST"] < ProductionConfig.ARGON2_MEMORY_COST
    assert app.config["ARGON2_TIME_COST"] < ProductionConfig.ARGON2_TIME_COST
    stored = _stored_hash(app, create_user().id)
    assert _params(stored) == {
        "m": app.config["ARGON2_MEMORY_COST"],
        "t": app.config["ARGON2_TIME_COST"],
        "p": app.config["ARGON2_PARALLELISM"],
    }


OLD_HASHER = PasswordHasher(time_cost=2, memory_cost=256, parallelism=2)


def _give_old_hash(app, user_id: int) -> str:
    with app.app_context():
        user = db.session.get(User, user_id)
        user.password_hash = OLD_HASHER.hash(PASSWORD)
        db.session.commit()
        return user.password_hash


def test_check_password_rehashes_old_parameters(app, create_user):
    """A correct password checked against a hash with old parameters is rehashed with the current ones."""
    user = create_user()
    old = _give_old_hash(app, user.id)
    assert _params(old) == {"m": 256, "t": 2, "p": 2}
    with app.app_context():
        record = db.session.get(User, user.id)
        assert auth_ops.check_password(record, PASSWORD) is True
        new = record.password_hash
    assert new != old
    assert new.startswith("$argon2id$")
    assert _params(new) == {"m": app.config["ARGON2_MEMORY_COST"], "t": app.config["ARGON2_TIME_COST"],
                            "p": app.config["ARGON2_PARALLELISM"]}
    PasswordHasher().verify(new, PASSWORD)


def test_wrong_password_does_not_rehash(app, create_user):
    """Only a successful check rehashes: a wrong password leaves the stored hash alone."""
    user = create_user()
    old = _give_old_hash(app, user.id)
    with app.app_context():
        record = db.session.get(User, user.id)
        assert auth_ops.check_password(record, "not the right password at all") is False
        assert record.password_hash == old


def test_login_stores_the_rehash(app, client, create_user):
    """Logging in through /login with an old-parameter hash leaves a current-parameter hash in the database."""
    user = create_user()
    old = _give_old_hash(app, user.id)
    Browser(client).login(user.email)
    new = _stored_hash(app, user.id)
    assert new != old
    assert _params(new)["m"] == app.config["ARGON2_MEMORY_COST"]
    PasswordHasher().verify(new, PASSWORD)
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(new, PASSWORD + "x")
