"""Column types every module uses: aware UTC datetimes, encrypted text, random ids, states."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
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
