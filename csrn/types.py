"""Column types every module uses: aware UTC datetimes, encrypted text (and keyed hashes to find it), random ids,
states."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import CheckConstraint, DateTime, String, Text
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Store aware datetimes as UTC and always return aware UTC datetimes, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def fernet_for(keys: str) -> MultiFernet:
    """Build the cipher from comma-separated keys; the first encrypts, all decrypt (rotation)."""
    return MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])


def current_fernet() -> MultiFernet:
    """Return the app's cipher, built once per app from CSRN_ENCRYPTION_KEY."""
    cipher = current_app.extensions.get("csrn_fernet")
    if cipher is None:
        cipher = fernet_for(current_app.config["CSRN_ENCRYPTION_KEY"])
        current_app.extensions["csrn_fernet"] = cipher
    return cipher


LOOKUP_KEY_INFO = b"csrn keyed lookup hash v1"


def derive_lookup_keys(keys: str) -> list[bytes]:
    """One HMAC key per Fernet key (HKDF-SHA256 of it), newest first: keyed hashes never use a key twice over."""
    return [HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LOOKUP_KEY_INFO)
            .derive(base64.urlsafe_b64decode(key.strip().encode())) for key in keys.split(",") if key.strip()]


def keyed_hashes(purpose: str, value: str) -> list[str]:
    """HMAC-SHA256 of the value under the key derived from each CSRN_ENCRYPTION_KEY, the current one first.

    How an encrypted value is found without storing it in clear (an applicant's e-mail): store `keyed_hash`, look up
    with `column.in_(keyed_hashes(...))`, so rows hashed before a key rotation are still found. Without the key, a
    dump cannot be searched or matched against a guessed address."""
    configured = current_app.config["CSRN_ENCRYPTION_KEY"]
    cached = current_app.extensions.get("csrn_lookup_keys")
    if cached is None or cached[0] != configured:  # derived once per app (and again if the keys change)
        cached = (configured, derive_lookup_keys(configured))
        current_app.extensions["csrn_lookup_keys"] = cached
    keys = cached[1]
    message = purpose.encode("utf-8") + b"\x00" + value.encode("utf-8")
    return [hmac.new(key, message, hashlib.sha256).hexdigest() for key in keys]


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of the value under the current key (see `keyed_hashes`)."""
    return keyed_hashes(purpose, value)[0]


class DecryptionError(RuntimeError):
    """A stored value could not be decrypted with any configured key."""


class EncryptedText(TypeDecorator):
    """Text encrypted with MultiFernet before it reaches the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect):
        if value is None:
            return None
        return current_fernet().encrypt(value.encode("utf-8")).decode("ascii")

    def process_result_value(self, value: str | None, dialect):
        if value is None:
            return None
        try:
            return current_fernet().decrypt(value.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise DecryptionError("no configured key decrypts this value") from exc


def new_uuid() -> str:
    """Return a random UUID as text (the HSDS id of a directory object)."""
    return str(uuid.uuid4())


def UUIDString() -> String:  # noqa: N802 - reads as a type in column definitions
    """A 36-character text column for a UUID."""
    return String(36)


def state_check(column: str, values: tuple[str, ...] | list[str], name: str | None = None):
    """CHECK that a string state column holds one of the known values (no native enums)."""
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


def json_list(value: str | None) -> list:
    """A list stored as JSON text (empty when unset)."""
    return json.loads(value) if value else []


# The tables a drill's clean-up deletes from (and the tables whose ids links and audit entries name): SQLite would
# give a new row the highest deleted id again (PostgreSQL's sequences never do), and a kept audit entry or an old
# link would then name a real record. AUTOINCREMENT makes SQLite keep its high-water mark.
NEVER_REUSED_IDS = {"sqlite_autoincrement": True}
