"""Referral pages."""

from csrn.referrals import bp  # noqa: F401
