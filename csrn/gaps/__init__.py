"""Gap analysis: the resource map of what the network can receive for whom, and where it cannot."""

from flask import Blueprint

bp = Blueprint("gaps", __name__, url_prefix="/gaps")

from csrn.gaps import views  # noqa: E402,F401
