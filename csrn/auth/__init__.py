from flask import Blueprint

bp = Blueprint("auth", __name__)

from csrn.auth import views  # noqa: E402,F401
