"""GET /healthz: is the app up, and can it reach its database?"""

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from csrn.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Answer 200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except DBAPIError:
        try:
            db.session.rollback()
        except DBAPIError:
            pass
        return jsonify(status="unavailable", database="unavailable"), 503
    return jsonify(status="ok", database="ok")
