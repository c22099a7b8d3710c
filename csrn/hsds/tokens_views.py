"""The admin page of the HSDS API at /admin/api-tokens/ (administrators only): the API tokens of outside systems —
listed (name, who made it, when, last use, revoked), issued (the token shown once, on the answer to the POST, and
never again: only its hash is kept) and revoked after a confirmation step — and the setting that opens the API to
everyone. Issuing, revoking and the setting are audited. API tokens are not agency-scoped: they read the public
directory only (SECURITY AC1)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from csrn.auth import tokens
from csrn.auth.models import API_PURPOSE, AccessToken
from csrn.clock import utcnow
from csrn.concurrency import StaleEdit
from csrn.extensions import db
from csrn.forms import BaseForm, EmptyForm, VersionedForm, redirect_after_post
from csrn.hsds.access import issue_token, revoke_token
from csrn.links import external_url
from csrn.roles import ADMIN
from csrn.security import roles_required
from csrn.settings.operations import get_settings, update_settings

bp = Blueprint("api_tokens", __name__, url_prefix="/admin/api-tokens")


class IssueForm(BaseForm):
    """The name of the outside system a new token is for."""

    name = StringField("Name of the outside system", validators=[DataRequired(message="Enter a name."),
                                                                  Length(max=tokens.API_NAME_LENGTH)],
                       description="Who will hold the token, e.g. \u201c211 Central region\u201d. It names the token "
                                   "in this list, in the audit log and for revoking it.")


class PublicForm(VersionedForm):
    """Whether the API is open to everyone."""

    public = BooleanField("Open the HSDS API to everyone, without a token",
                          description="It serves the public directory only (as the export does). Tokens keep "
                                      "working, each with its own rate limit.")


def _page(form: IssueForm, public_form: PublicForm, new_token: str | None = None, status: int = 200):
    settings = get_settings()
    if public_form.version.data is None:
        public_form.version.data = settings.version
        public_form.public.data = settings.hsds_api_public
    return render_template("hsds/api_tokens.html", tokens=tokens.api_tokens(), form=form, public_form=public_form,
                           new_token=new_token, settings=settings, revoke_form=EmptyForm(),
                           openapi_url=external_url("hsds_api.openapi"),
                           services_url=external_url("hsds_api.services")), status


@bp.route("/", methods=["GET", "POST"])
@roles_required(ADMIN)
def index():
    """The API tokens, the form to issue one and the public setting; a POST issues a token, which the answer
    shows this once."""
    if request.method == "GET":
        return _page(IssueForm(formdata=None), PublicForm(formdata=None))
    form = IssueForm()
    if form.validate_on_submit():
        try:
            raw, _ = issue_token(current_user, form.name.data, utcnow())
        except ValueError as error:  # a live token has the name already
            db.session.rollback()
            form.name.errors = [*form.name.errors, str(error)]
        else:
            return _page(IssueForm(formdata=None), PublicForm(formdata=None), new_token=raw)
    return _page(form, PublicForm(formdata=None), status=422)


def _api_token_or_404(token_id: int) -> AccessToken:
    token = db.session.scalar(select(AccessToken).where(AccessToken.id == token_id,
                                                        AccessToken.purpose == API_PURPOSE))
    if token is None:
        abort(404)
    return token


@bp.route("/<int:token_id>/revoke", methods=["GET", "POST"])
@roles_required(ADMIN)
def revoke(token_id: int):
    """Revoke a token, after a confirmation page: its holder gets 401 from then on."""
    token = _api_token_or_404(token_id)
    form = EmptyForm()
    if form.validate_on_submit():
        if token.revoked_at is None and revoke_token(current_user, token.name, utcnow()):
            flash(f"The API token \u201c{token.name}\u201d is revoked: its holder gets 401 from now on.", "success")
        else:
            flash("That token was already revoked.", "info")
        return redirect_after_post(url_for("api_tokens.index"))
    return render_template("hsds/api_token_revoke.html", token=token, form=form)


@bp.post("/public")
@roles_required(ADMIN)
def set_public():
    """Open the API to everyone, or close it to all but token holders (audited as a settings change)."""
    form = PublicForm()
    if form.validate_on_submit():
        try:
            update_settings(current_user, {"hsds_api_public": bool(form.public.data)}, form.version.data, utcnow())
        except StaleEdit as error:
            db.session.rollback()
            form.version.errors = [str(error)]
        else:
            flash("The HSDS API is now open to everyone." if form.public.data
                  else "The HSDS API now needs an API token.", "success")
            return redirect_after_post(url_for("api_tokens.index"))
    return _page(IssueForm(formdata=None), form, status=422)
