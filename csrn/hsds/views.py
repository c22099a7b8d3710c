"""The HSDS import page (chairs and administrators): upload a package, see what it created, updated and kept."""

from __future__ import annotations

from flask import current_app, render_template
from flask_login import current_user

from csrn.clock import utcnow
from csrn.forms import render_form
from csrn.hsds import bp
from csrn.hsds.forms import ImportForm
from csrn.hsds.importer import PackageRefused, import_package, max_bytes
from csrn.roles import ADMIN, CHAIR
from csrn.security import roles_required

TEMPLATE = "hsds/import.html"


@bp.route("/import", methods=["GET", "POST"])
@roles_required(CHAIR, ADMIN)
def upload():
    """Show the upload form; import the uploaded package whole or refuse it whole, and show the report."""
    form = ImportForm()
    limit = min(max_bytes(), current_app.config.get("MAX_CONTENT_LENGTH") or max_bytes())
    if not form.validate_on_submit():
        return render_form(TEMPLATE, form, limit=limit)
    upload_file = form.package.data
    name = (upload_file.filename or "package").rsplit("/", 1)[-1][:200]
    data = upload_file.read(limit + 1)
    if not name.lower().endswith((".zip", ".json")):
        form.package.errors = ["Choose a .zip of CSV files or a .json file."]
        return render_form(TEMPLATE, form, limit=limit)
    try:
        report = import_package(current_user, utcnow(), name=name, data=data)
    except PackageRefused as refused:
        return render_template(TEMPLATE, form=ImportForm(formdata=None), limit=limit, refused=refused.problems,
                               package=name), 422
    return render_template(TEMPLATE, form=ImportForm(formdata=None), limit=limit, report=report)
