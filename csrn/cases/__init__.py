"""Case work after acceptance: needs assessment, service plans, onward referrals, closing, reopening, transfer."""

from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases")

from csrn.cases import coordination_views, views  # noqa: E402,F401
