from flask import Blueprint

bp = Blueprint("agencies", __name__, url_prefix="/agencies")

from csrn.agencies import views  # noqa: E402,F401
