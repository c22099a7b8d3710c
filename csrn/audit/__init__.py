from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

from csrn.audit import views  # noqa: E402,F401
