"""The no-wrong-door intake and the matching of a person's needs to providers."""

from flask import Blueprint

bp = Blueprint("intake", __name__, url_prefix="/intake")

from csrn.intake import views  # noqa: E402,F401
