"""Drills: the whole response tested at a simulated hour — matching, offers, the person on call, escalation — on
the drill's own clock, kept out of every statistic, with a report kept for the committee."""

from flask import Blueprint

bp = Blueprint("drills", __name__, url_prefix="/drills")

from csrn.drills import views  # noqa: E402,F401
