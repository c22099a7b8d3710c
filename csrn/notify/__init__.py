from flask import Blueprint

bp = Blueprint("notify", __name__, url_prefix="/admin/outbox")

from csrn.notify import views  # noqa: E402,F401
