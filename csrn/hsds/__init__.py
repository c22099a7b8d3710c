"""Open Referral HSDS 3.0: the directory exported as a standard data package (`flask --app app csrn export-hsds`),
and packages imported into it (`flask --app app csrn import-hsds`, or the chairs' upload page under /hsds/).
The official files it follows are in `spec/` (CC BY-SA 4.0, with their attribution)."""

from flask import Blueprint

bp = Blueprint("hsds", __name__, url_prefix="/hsds")

from csrn.hsds import views  # noqa: E402,F401
