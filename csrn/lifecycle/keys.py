"""Encryption key rotation (SECURITY P8): every encrypted column — found by walking the models for the encrypted
type — re-encrypted under the first key of CSRN_ENCRYPTION_KEY while the older keys still decrypt; and the keyed
hashes that find an encrypted value (a volunteer's e-mail) made again under the first key.

In batches, one transaction each, in primary-key order. A value the first key already decrypts is left as it is,
so a run that was interrupted is simply run again: it carries on with what is left.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy import Text, bindparam, select, type_coerce, update

from csrn.extensions import db
from csrn.lifecycle.retention import encrypted_columns, models_with_encrypted_columns
from csrn.types import current_fernet
from csrn.volunteers.models import VolunteerApplication
from csrn.volunteers.operations import email_hashes

BATCH = 500


@dataclass
class RotationReport:
    rotated: int = 0
    current: int = 0  # already under the first key
    rehashed: int = 0
    unreadable: int = 0

    def __str__(self) -> str:
        unreadable = (f"; {self.unreadable} value(s) no configured key reads, left as they are"
                      if self.unreadable else "")
        return (f"{self.rotated} value(s) re-encrypted under the first key, {self.current} already under it; "
                f"{self.rehashed} e-mail lookup hash(es) made again{unreadable}")


def _first_key() -> Fernet:
    keys = [key.strip() for key in current_app.config["CSRN_ENCRYPTION_KEY"].split(",") if key.strip()]
    return Fernet(keys[0].encode())


def _under(first: Fernet, token: str) -> bool:
    try:
        first.decrypt(token.encode("ascii"))
    except InvalidToken:
        return False
    return True


def _batches(table, column) -> Iterator[list[tuple]]:
    """(primary key, ciphertext as stored) of every non-NULL value, a batch at a time."""
    [key] = table.primary_key.columns
    last = None
    while True:
        query = select(key, type_coerce(column, Text)).where(column.is_not(None)).order_by(key).limit(BATCH)
        if last is not None:
            query = query.where(key > last)
        rows = db.session.execute(query).tuples().all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def rotate(log=lambda line: None) -> RotationReport:
    """Re-encrypt every encrypted value under the first key; then the e-mail lookup hashes."""
    first, cipher = _first_key(), current_fernet()
    report = RotationReport()
    for model in models_with_encrypted_columns():
        table = model.__table__
        [key] = table.primary_key.columns
        for name in encrypted_columns(model):
            column = table.columns[model.__mapper__.column_attrs[name].columns[0].name]
            done = 0
            for rows in _batches(table, column):
                stale = [(pk, token) for pk, token in rows if not _under(first, token)]
                report.current += len(rows) - len(stale)
                fresh = []
                for pk, token in stale:
                    try:
                        fresh.append({"pk": pk, "old": token,
                                      "token": cipher.rotate(token.encode("ascii")).decode("ascii")})
                    except InvalidToken:  # no configured key reads it: left as it is, and said
                        report.unreadable += 1
                        log(f"{table.name}.{column.name} id {pk}: no configured key reads it")
                if fresh:
                    # Only where the value is still the one read: an edit saved meanwhile is not overwritten.
                    unchanged = type_coerce(column, Text) == bindparam("old")
                    statement = (update(table).where(key == bindparam("pk"), unchanged)
                                 .values({column.name: bindparam("token", type_=Text)}))
                    db.session.execute(statement, fresh, execution_options={"synchronize_session": False})
                    db.session.commit()
                    done += len(fresh)
            report.rotated += done
            if done:
                log(f"{table.name}.{column.name}: {done} re-encrypted")
    for application in db.session.scalars(select(VolunteerApplication).where(VolunteerApplication.email_hash != "")):
        fresh = email_hashes(application.email)[0]
        if application.email_hash != fresh:
            application.email_hash = fresh
            report.rehashed += 1
    db.session.commit()
    return report
