"""The provider directory: services, taxonomy, eligibility, capacity, locations, search and print."""

from flask import Blueprint

bp = Blueprint("directory", __name__, url_prefix="/directory")

from csrn.directory import views  # noqa: E402,F401
