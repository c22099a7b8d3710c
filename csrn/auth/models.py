"""Users and their roles."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from csrn.extensions import db
from csrn.roles import ROLE_LABELS, ROLES
from csrn.types import EncryptedText, UTCDateTime, state_check


class UserRole(db.Model):
    """One role a user holds; roles are cumulative."""

    __tablename__ = "user_role"
    __table_args__ = (state_check("role", ROLES),)

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class User(UserMixin, db.Model):
    """A person who logs in; belongs to one agency (administrators may belong to none)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Two-factor: the TOTP secret is encrypted; the last accepted time step makes each code single-use.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_pending_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Who invited the person, and — when the inviter was outside the agency — which of its agency admins approved.
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))

    agency = relationship("Agency", lazy="joined")
    invited_by = relationship("User", foreign_keys=[invited_by_id], remote_side=[id])
    approved_by = relationship("User", foreign_keys=[approved_by_id], remote_side=[id])
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by=UserRole.role
    )

    @property
    def roles(self) -> set[str]:
        """The set of role names this user holds."""
        return {row.role for row in self.role_rows}

    def has_role(self, *roles: str) -> bool:
        """Whether the user holds any of the given roles."""
        return bool(self.roles.intersection(roles))

    def set_roles(self, roles) -> None:
        """Replace the user's roles with the given ones."""
        wanted = set(roles)
        unknown = wanted.difference(ROLES)
        if unknown:
            raise ValueError(f"unknown roles: {sorted(unknown)}")
        self.role_rows = [row for row in self.role_rows if row.role in wanted] + [
            UserRole(role=role) for role in sorted(wanted - self.roles)
        ]

    @property
    def has_two_factor(self) -> bool:
        """Whether the user has enrolled a second factor."""
        return self.totp_secret is not None and self.totp_enabled_at is not None

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.active

    def get_id(self) -> str:
        """Identify the user together with the session version, so a bump ends every session."""
        return f"{self.id}:{self.session_version}"

    @property
    def role_labels(self) -> list[str]:
        """Human names of the user's roles, in the canonical order."""
        return [ROLE_LABELS[role] for role in ROLES if role in self.roles]

    @staticmethod
    def by_email(email: str):
        """A query for the user with this e-mail, compared case-insensitively."""
        return select(User).where(User.email == email.strip().lower())


class UserSession(db.Model):
    """One logged-in browser: listed on /account, ended one by one or all at once."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    # The cookie carries a random id; only its SHA-256 is stored.
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reauthenticated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    # New recovery codes wait here, encrypted, until shown once (the session cookie is signed, not encrypted).
    recovery_codes_to_show: Mapped[str | None] = mapped_column(EncryptedText)


TOKEN_PURPOSES = ("invite", "reset", "capacity")


class AuthToken(db.Model):
    """A token sent in a link: 32 random bytes, stored hashed, with expiry and single use."""

    __tablename__ = "auth_token"
    __table_args__ = (state_check("purpose", TOKEN_PURPOSES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # A token belongs to a user (invitation, reset) or to an agency (capacity confirmation).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user = relationship("User", foreign_keys=[user_id])
    agency = relationship("Agency")


ACCESS_PURPOSES = ("oncall-mine", "oncall-agency", "appointments-mine", "hsds-api")
API_PURPOSE = "hsds-api"  # an outside system's token for the HSDS API: named, held by no user, not agency-scoped


class AccessToken(db.Model):
    """A long-lived bearer secret for a machine that cannot log in (a calendar service polling a feed; later the
    appointment feed and the HSDS API): 32 random bytes, stored hashed, one per user and purpose, until renewed
    or revoked. Only its hash is kept, so its URL is shown once, when it is made."""

    __tablename__ = "access_token"
    __table_args__ = (
        state_check("purpose", ACCESS_PURPOSES),
        CheckConstraint(f"(purpose = '{API_PURPOSE}' AND name IS NOT NULL AND user_id IS NULL)"
                        f" OR (purpose <> '{API_PURPOSE}' AND user_id IS NOT NULL)", name="holder"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The user whose feed it is; none for an API token, which belongs to an outside system (its `name`).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(80))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    # The agency whose data the token reads (the user's agency when it was made), for agency-wide purposes.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user = relationship("User", lazy="joined", foreign_keys=[user_id])
    created_by = relationship("User", foreign_keys=[created_by_id])


class ResetRequest(db.Model):
    """A reset link asked for at /reset, waiting for `tick`: the request itself never looks the address up,
    so it does the same work whether or not an account has it (SECURITY A5)."""

    __tablename__ = "reset_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Whatever was typed, perhaps a stranger's address: encrypted, and deleted once `tick` has answered it.
    email: Mapped[str] = mapped_column(EncryptedText)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RecoveryCode(db.Model):
    """A one-time recovery code for a lost authenticator, stored hashed."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


ACCESS_REQUEST_KINDS = ("invite", "roles", "reactivate")
ACCESS_REQUEST_STATES = ("pending", "approved", "refused")


class AccessRequest(db.Model):
    """An invitation, role grant or reactivation into an agency by someone outside it (a chair, an administrator):
    it has no effect until one of the agency's agency admins approves it (DESIGN §2, SECURITY A6)."""

    __tablename__ = "access_request"
    __table_args__ = (state_check("kind", ACCESS_REQUEST_KINDS), state_check("state", ACCESS_REQUEST_STATES))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    # The account concerned: the user whose roles or reactivation are asked for; for an invitation, the account
    # its approval creates (none exists before: nobody can use it, and no link is sent).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), default="")  # an invitation's address and name
    name: Mapped[str] = mapped_column(String(120), default="")
    roles: Mapped[str] = mapped_column(String(200), default="")  # the roles to grant, space-separated
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    agency = relationship("Agency")
    user = relationship("User", foreign_keys=[user_id])
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    @property
    def role_set(self) -> set[str]:
        return set(self.roles.split())

    @property
    def role_labels(self) -> list[str]:
        return [ROLE_LABELS[role] for role in ROLES if role in self.role_set]

    @property
    def subject_name(self) -> str:
        return self.user.name if self.user is not None else self.name

    @property
    def subject_email(self) -> str:
        return self.user.email if self.user is not None else self.email
