"""Volunteer pages: the public application and status link, and the chairs' vetting board."""

from __future__ import annotations

import secrets
import time

from flask import abort, current_app, flash, render_template, request, session, url_for
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from csrn.agencies.models import TrainingCourse
from csrn.clock import utcnow
from csrn.concurrency import StaleEdit
from csrn.directory import operations as directory_ops
from csrn.directory.languages import LANGUAGES
from csrn.extensions import db, limiter
from csrn.forms import EmptyForm, redirect_after_post, render_form
from csrn.notify.operations import links_on_screen
from csrn.roles import CHAIR
from csrn.security import roles_required
from csrn.uploads import UploadRefused, save_upload, send_stored, upload_folder
from csrn.volunteers import bp
from csrn.volunteers import operations as ops
from csrn.volunteers.forms import ApplicationForm, ItemForm, LinkRequestForm, StatusForm
from csrn.volunteers.models import BOARD_COLUMNS, PROFESSIONS, STATUSES

SESSION_KEY = "volunteer_link"  # [application uuid, raw token] of the last application sent from this browser


# ----- the public side: no account -----------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="volunteer-form")


def _stamp() -> str:
    """A signed stamp for the form: when it was served, and a random nonce that makes it good for one submission."""
    return _serializer().dumps([int(time.time()), secrets.token_urlsafe(16)])


STAMP_MAX_AGE = int(ops.STAMP_LIFETIME.total_seconds())  # a bot cannot fetch one and reuse it for ever


def _stamp_refused(stamp: str) -> bool:
    """Whether the form's stamp is missing, forged, older than a day, used already, or came back sooner than
    CSRN_FORM_MIN_SECONDS after the form was served; otherwise use it up (in this request's transaction)."""
    try:
        served, nonce = _serializer().loads(stamp or "", max_age=STAMP_MAX_AGE)
    except (BadSignature, TypeError, ValueError):  # SignatureExpired is a BadSignature; old stamps were one number
        return True
    if not isinstance(served, int) or not isinstance(nonce, str):
        return True
    if time.time() - served < current_app.config.get("CSRN_FORM_MIN_SECONDS", 0):
        return True
    return not ops.claim_form_stamp(nonce, utcnow())


@bp.route("/volunteer/apply", methods=["GET", "POST"])
@limiter.limit("10 per minute; 60 per hour", methods=["POST"])  # every POST counts, valid or not
def apply():
    """The public application form for pro bono professionals."""
    form = ApplicationForm()
    if request.method == "POST" and form.website.data:
        # The honeypot was filled: a bot. Answer like a success and keep nothing.
        return render_template("volunteers/received.html", duplicate=False)
    if form.validate_on_submit():
        if _stamp_refused(form.started.data):
            db.session.rollback()
            form.form_errors.append("We could not accept the form as sent (it came back quicker than a person "
                                    "fills it in, the page was open for more than a day, or this page was sent "
                                    "already). Check your answers, then send the form again.")
            form.started.data = _stamp()
            return render_template("volunteers/apply.html", form=form), 422
        values = {name: getattr(form, name).data for name in ops.APPLICANT_FIELDS}
        submitted = ops.submit_application(values, utcnow())
        remembered = session.get(SESSION_KEY)
        if submitted.created:
            session[SESSION_KEY] = [submitted.application.uuid, submitted.raw_token]
            flash("Thank you: your application was received. This page is your private status link — bookmark "
                  "it. We have also e-mailed it to you.", "success")
            return redirect_after_post(url_for("volunteers.status", token=submitted.raw_token))
        if remembered and remembered[0] == submitted.application.uuid:
            flash("Your application was already received; here it is.", "info")
            return redirect_after_post(url_for("volunteers.status", token=remembered[1]))
        return render_template("volunteers/received.html", duplicate=True)
    form.started.data = _stamp()
    return render_form("volunteers/apply.html", form)


@bp.get("/volunteer/status/<token>")
@limiter.limit("30 per minute")
def status(token: str):
    """The applicant's private status page: the stage and what is still needed, never the committee's notes."""
    now = utcnow()
    application = ops.get_by_token_or_404(token, now)
    today = ops.local_date(now)
    return render_template("volunteers/status.html", application=application, token=token,
                           checklist=ops.applicant_view(application, today), form=EmptyForm(),
                           can_withdraw=application.status in ops.WITHDRAWABLE)


@bp.route("/volunteer/status/<token>/withdraw", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def withdraw(token: str):
    """Confirm, then withdraw the application."""
    application = ops.get_by_token_or_404(token, utcnow())
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            ops.withdraw(application, utcnow())
        except ops.VettingError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash("Your application is withdrawn. Thank you for offering your time.", "success")
        return redirect_after_post(url_for("volunteers.status", token=token))
    return render_template("volunteers/withdraw.html", application=application, token=token, form=form)


@bp.route("/volunteer/status", methods=["GET", "POST"])
@limiter.limit("5 per minute; 20 per hour", methods=["POST"])
def request_link():
    """Ask for the status link again; the answer is the same whether or not the address is known."""
    form = LinkRequestForm()
    if form.validate_on_submit():
        ops.request_status_link(form.email.data, utcnow())
        return render_template("volunteers/link_sent.html")
    return render_form("volunteers/link_request.html", form)


# ----- the chairs' side ----------------------------------------------------------------------------

@bp.get("/volunteers")
@roles_required(CHAIR)
def board():
    """The vetting board: columns by status with counts, filtered by profession and language."""
    profession = request.args.get("profession", "")
    language = request.args.get("language", "")
    if profession not in PROFESSIONS:
        profession = ""
    if language not in LANGUAGES:
        language = ""
    return render_template("volunteers/board.html", board=ops.board(profession, language), columns=BOARD_COLUMNS,
                           statuses=STATUSES, professions=PROFESSIONS, languages=LANGUAGES,
                           profession=profession, language=language, now=utcnow(), days_since=ops.days_since)


def _active_courses() -> list[TrainingCourse]:
    return db.session.scalars(db.select(TrainingCourse).where(TrainingCourse.active.is_(True))
                              .order_by(TrainingCourse.name)).all()


def _course_choices(item, courses) -> list[tuple[int, str]]:
    """The courses a training item may be recorded with (a core item: core courses only)."""
    if not item.course_kind:
        return []
    return [(0, "— choose the course —")] + [
        (c.id, c.name) for c in courses if item.course_kind != "core" or c.is_core]


def _item_forms(application) -> dict:
    courses = _active_courses()
    forms = {}
    for item in application.items:
        form = ItemForm(prefix=f"item{item.id}", formdata=None)
        form.course_id.choices = _course_choices(item, courses)
        forms[item.id] = form
    return forms


def _status_form(application, form: StatusForm | None = None) -> StatusForm:
    form = form or StatusForm(formdata=None, obj=application)
    moves = ops.allowed_moves(application)
    if ops.missing_items(application, ops.local_date(utcnow())):
        moves = tuple(code for code in moves if code != "approved")  # approval waits for every required item
    form.to_status.choices = [("", "Choose…")] + [(code, STATUSES[code]) for code in moves] if moves else []
    default_code = PROFESSIONS[application.profession][2]
    types = directory_ops.service_types()
    form.service_type_id.choices = [(t.id, t.name) for t in types]
    if form.service_type_id.data in (None, 0):
        form.service_type_id.data = next((t.id for t in types if t.code == default_code), 0)
    return form


def _render_application(application, status: int = 200, item_forms: dict | None = None,
                        status_form: StatusForm | None = None):
    now = utcnow()
    forms = _item_forms(application)
    forms.update(item_forms or {})
    template = "volunteers/_application.html" if request.htmx else "volunteers/application.html"
    return render_template(template, application=application, item_forms=forms,
                           status_form=_status_form(application, status_form), statuses_labels=STATUSES,
                           missing=ops.missing_items(application, ops.local_date(now)),
                           today=ops.local_date(now), days=ops.days_since(application, now)), status


@bp.get("/volunteers/<int:application_id>")
@roles_required(CHAIR)
def show(application_id: int):
    """One application: the answers, the checklist, the status and the history."""
    return _render_application(ops.get_application_or_404(application_id))


def _back(application):
    """After a change: the panel in place for htmx, the page otherwise."""
    if request.htmx:
        return _render_application(application)
    return redirect_after_post(url_for("volunteers.show", application_id=application.id))


@bp.post("/volunteers/<int:application_id>/items/<int:item_id>")
@roles_required(CHAIR)
def record_item(application_id: int, item_id: int):
    """Record a checklist item as done (who: the chair; when; notes; document; expiry)."""
    application = ops.get_application_or_404(application_id)
    item = ops.get_item_or_404(application, item_id)
    form = ItemForm(prefix=f"item{item.id}")
    form.course_id.choices = _course_choices(item, _active_courses())
    if form.validate_on_submit():
        stored = None
        try:
            upload = form.document.data
            if upload and getattr(upload, "filename", ""):
                stored = save_upload(upload)
            ops.record_item(current_user, application, item, {
                "done_on": form.done_on.data, "notes": form.notes.data, "expires_on": form.expires_on.data,
                "course_id": form.course_id.data,
            }, stored, utcnow())
        except (UploadRefused, ops.VettingError) as exc:
            db.session.rollback()
            if stored is not None:  # refused after the upload was kept: no file without its record
                (upload_folder() / stored.name).unlink(missing_ok=True)
            form.form_errors.append(str(exc))
        else:
            flash(f"“{item.label}” recorded.", "success")
            return _back(application)
    db.session.refresh(application)
    return _render_application(application, 422, item_forms={item.id: form})


@bp.post("/volunteers/<int:application_id>/items/<int:item_id>/clear")
@roles_required(CHAIR)
def clear_item(application_id: int, item_id: int):
    """Mark a checklist item as not done again."""
    application = ops.get_application_or_404(application_id)
    item = ops.get_item_or_404(application, item_id)
    if EmptyForm().validate_on_submit():
        ops.clear_item(current_user, application, item, utcnow())
        flash(f"“{item.label}” is to do again.", "info")
    return _back(application)


@bp.get("/volunteers/<int:application_id>/items/<int:item_id>/document")
@roles_required(CHAIR)
def item_document(application_id: int, item_id: int):
    """The document attached to a checklist item, as an attachment."""
    application = ops.get_application_or_404(application_id)
    item = ops.get_item_or_404(application, item_id)
    try:
        return send_stored(item.file_name, item.file_original_name, item.file_mime)
    except FileNotFoundError:
        abort(404)


@bp.post("/volunteers/<int:application_id>/status")
@roles_required(CHAIR)
def change_status(application_id: int):
    """Move the application: review, approve (every required item done), hold or decline (with a reason)."""
    application = ops.get_application_or_404(application_id)
    form = _status_form(application, StatusForm())
    if form.validate_on_submit():
        try:
            link = ops.change_status(current_user, application, form.to_status.data, form.reason.data or "",
                                     form.version.data, utcnow(), service_type_id=form.service_type_id.data or None)
        except (ops.VettingError, StaleEdit) as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            if link and links_on_screen():
                # As with every invitation: outside production, with no mail server, the inviter sees the link once.
                response = current_app.make_response(
                    render_template("users/invited.html", invited=application.user, link=link,
                                    back_url=url_for("volunteers.show", application_id=application.id),
                                    back_label="Back to the application"))
                response.headers.update({"HX-Retarget": "main", "HX-Reswap": "outerHTML", "HX-Reselect": "main"})
                return response
            flash(f"The application is now {application.status_label.lower()}.", "success")
            return _back(application)
    db.session.refresh(application)
    return _render_application(application, 422, status_form=form)
