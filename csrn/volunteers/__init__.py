"""Pro bono volunteers: the public application, the private status link and the vetting board (DESIGN §4.8)."""

from flask import Blueprint

bp = Blueprint("volunteers", __name__)

from csrn.volunteers import views  # noqa: E402,F401
