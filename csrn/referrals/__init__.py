"""Referrals and their offers, acceptance, escalation, the committee queue and the inbox."""

from flask import Blueprint

bp = Blueprint("referrals", __name__, url_prefix="/referrals")

from csrn.referrals import views  # noqa: E402,F401
