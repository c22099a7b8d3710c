from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/admin/settings")

from csrn.settings import views  # noqa: E402,F401
