"""One schedule engine: weekly recurrences, date ranges, exceptions and holidays in the task force's zone."""

from flask import Blueprint

bp = Blueprint("schedules", __name__, url_prefix="/schedules")

from csrn.schedules import views  # noqa: E402,F401
