"""Pathways: named sequences of services for a population (DESIGN §4.5)."""

from flask import Blueprint

bp = Blueprint("pathways", __name__, url_prefix="/pathways")

from csrn.pathways import views  # noqa: E402,F401
