from flask import Blueprint

bp = Blueprint("protocols", __name__, url_prefix="/protocols")

from csrn.protocols import views  # noqa: E402,F401
