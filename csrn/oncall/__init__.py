"""The on-call roster: kinds of response, shifts, who to call now, coverage, the card and calendar feeds."""

from flask import Blueprint

bp = Blueprint("oncall", __name__, url_prefix="/oncall")

from csrn.oncall import views  # noqa: E402,F401
