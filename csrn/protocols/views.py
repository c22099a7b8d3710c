"""Protocol pages: list, read, acknowledge; chairs write, preview, publish, compare and restore."""

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.routing import BaseConverter, ValidationError

from csrn.clock import utcnow
from csrn.concurrency import StaleEdit
from csrn.extensions import db
from csrn.forms import EmptyForm, redirect_after_post, render_form
from csrn.protocols import bp
from csrn.protocols import operations as ops
from csrn.protocols.forms import (
    BODY_MAX,
    NewProtocolForm,
    PreviewForm,
    ProtocolForm,
    PublishForm,
    VersionNumberForm,
)
from csrn.protocols.render import render_protocol
from csrn.roles import CHAIR
from csrn.routing import id_arg_or_404
from csrn.security import roles_required


class ProtocolSlugConverter(BaseConverter):
    """A page slug in a URL: lower-case words joined by hyphens, never a route word like `new`."""

    regex = r"[a-z0-9]+(?:-[a-z0-9]+)*"

    def to_python(self, value: str) -> str:
        if value in ops.RESERVED_SLUGS:
            raise ValidationError()
        return value


# Registered before the routes below are added to the app's URL map.
bp.record_once(lambda state: state.app.url_map.converters.setdefault("protocol_slug", ProtocolSlugConverter))

FORM_FIELDS = ("title", "body", "change_note", "audience", "owner_id", "review_due_on")


@bp.get("/")
@login_required
def index():
    """List the protocols the user may read, with what waits for their acknowledgement."""
    rows = db.session.execute(ops.pages_query(current_user)).all()
    pending = ops.pending_acknowledgements(current_user)
    return render_template(
        "protocols/index.html",
        rows=rows,
        pending=pending,
        pending_ids={page.id for page, _ in pending},
        meant=set(ops.meant_audiences(current_user)),
        can_edit=ops.can_edit(current_user),
        today=ops.local_date(utcnow()),
    )


@bp.get("/<protocol_slug:slug>")
@login_required
def show(slug: str):
    """Show a protocol: its published version (chairs: the draft before the first publication)."""
    page = ops.get_page_or_404(slug, current_user)
    version = ops.shown_version(current_user, page)
    now = utcnow()
    today = ops.local_date(now)
    return render_template(
        "protocols/show.html",
        page=page,
        version=version,
        html=render_protocol(version.body, now),
        latest=ops.latest_version(page) if ops.can_edit(current_user) else None,
        acknowledgement=ops.acknowledgement_of(current_user, ops.published_version(page)),
        meant=ops.is_meant_for(current_user, page),
        can_edit=ops.can_edit(current_user),
        form=VersionNumberForm(),
        publish_form=_publish_form(page, today) if ops.can_edit(current_user) else None,
        now=now,
        today=today,
    )


def _publish_form(page, today):
    """The publish button's form, with the next review date it suggests (a year on, once the review is due)."""
    return PublishForm(formdata=None, data={"review_due_on": ops.suggested_review_date(page, today)})


def _refuse_past_review(form: NewProtocolForm, action: str, today) -> bool:
    """Publishing is a read-through, so it asks for a next review after today; say so beside the date."""
    if action != "publish" or not form.review_due_on.data or form.review_due_on.data > today:
        return False
    form.review_due_on.errors = [*form.review_due_on.errors,
                                 "Publishing starts a new review period: set the next review to a date after today."]
    return True


def _page_form_response(form: NewProtocolForm, page=None, status: int | None = None, **context):
    """The create/edit page with a preview of the text as it stands."""
    body = form.body.data or ""
    preview = None
    if len(body) <= BODY_MAX and "\x00" not in body:
        preview = render_protocol(body, utcnow()) if body.strip() else None
    if status is not None:
        return render_template("protocols/form.html", form=form, page=page, preview=preview, **context), status
    return render_form("protocols/form.html", form, page=page, preview=preview, **context)


def _values(form: NewProtocolForm) -> dict:
    return {name: getattr(form, name).data for name in FORM_FIELDS}


@bp.route("/new", methods=["GET", "POST"])
@roles_required(CHAIR)
def create():
    """Write a new protocol (chairs): save it as a draft or publish it at once."""
    form = NewProtocolForm()
    form.set_owners(db.session.scalars(ops.chairs_query()))
    if request.method == "GET":
        form.owner_id.data = current_user.id
        form.audience.data = "members"
        form.review_due_on.data = ops.suggested_review_date(None, ops.local_date(utcnow()))
    action = request.form.get("action", "save")
    if request.method == "POST" and action == "preview":
        return _page_form_response(form, status=200)
    if form.validate_on_submit():
        if _refuse_past_review(form, action, ops.local_date(utcnow())):
            return _page_form_response(form)
        try:
            page = ops.create_page(current_user, _values(form), utcnow(), publish=action == "publish")
        except ops.ProtocolError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
            return _page_form_response(form)
        flash("Protocol published." if action == "publish" else "Protocol saved as a draft (version 1).", "success")
        return redirect_after_post(url_for("protocols.show", slug=page.slug))
    return _page_form_response(form)


@bp.route("/<protocol_slug:slug>/edit", methods=["GET", "POST"])
@roles_required(CHAIR)
def edit(slug: str):
    """Edit a protocol (chairs): a changed text becomes a new version; refuses to overwrite a newer save."""
    page = ops.get_page_or_404(slug, current_user)
    latest = ops.latest_version(page)
    if request.method == "GET":
        form = ProtocolForm(data={
            "title": latest.title, "body": latest.body, "change_note": "", "audience": page.audience,
            "owner_id": page.owner_id, "review_due_on": page.review_due_on, "version": page.version,
        })
    else:
        form = ProtocolForm()
    form.set_owners(db.session.scalars(ops.chairs_query()))
    if page.owner_id not in {choice for choice, _ in form.owner_id.choices}:
        form.owner_id.choices.append((page.owner_id, f"{page.owner.name} (no longer an active chair)"))
    action = request.form.get("action", "save")
    if request.method == "POST" and action == "preview":
        return _page_form_response(form, page, status=200, latest=latest)
    if request.method == "POST" and form.validate_on_submit():
        text_changed = form.title.data != latest.title or form.body.data != latest.body
        if text_changed and not form.change_note.data:
            form.change_note.errors = [*form.change_note.errors, "Say in a line what changed."]
        if _refuse_past_review(form, action, ops.local_date(utcnow())) or form.change_note.errors:
            return _page_form_response(form, page, latest=latest)
        try:
            version = ops.save_page(current_user, page, _values(form), form.version.data, utcnow(),
                                    publish=action == "publish")
        except (StaleEdit, StaleDataError):
            db.session.rollback()
            form.form_errors.append(StaleEdit.message)
            return _page_form_response(form, page, status=422, latest=latest, stale=True)
        except ops.ProtocolError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
            return _page_form_response(form, page, status=422, latest=latest)
        if action == "publish":
            flash(f"Version {page.published_number} published. Readers are asked to acknowledge it.", "success")
            return redirect_after_post(url_for("protocols.show", slug=page.slug))
        if version is None:
            flash("Settings saved; the text is unchanged, so there is no new version.", "success")
            return redirect_after_post(url_for("protocols.show", slug=page.slug))
        flash(f"Saved as version {version.number}, a draft. Publish it when it is ready.", "success")
        return redirect_after_post(url_for("protocols.version", slug=page.slug, number=version.number))
    return _page_form_response(form, page, latest=latest)


@bp.post("/preview")
@roles_required(CHAIR)
def preview():
    """Render Markdown as it would be shown, for the live preview beside the editor (nothing is saved)."""
    form = PreviewForm()
    if not form.validate():
        return render_template("protocols/_preview.html", html=None, errors=form.body.errors), 422
    body = form.body.data or ""
    html = render_protocol(body, utcnow()) if body.strip() else None
    return render_template("protocols/_preview.html", html=html, errors=[])


@bp.post("/<protocol_slug:slug>/publish")
@roles_required(CHAIR)
def publish(slug: str):
    """Publish the newest version with the date of its next review (chairs); everyone it is meant for is asked to
    acknowledge it."""
    page = ops.get_page_or_404(slug, current_user)
    form = PublishForm()
    if not form.validate_on_submit():
        if form.number.errors or form.csrf_token.errors:
            abort(400)
        flash("Enter the date of the next review (after today) to publish.", "warning")
        return redirect_after_post(url_for("protocols.show", slug=page.slug))
    try:
        ops.publish(current_user, page, form.number.data, utcnow(), review_due_on=form.review_due_on.data)
    except ops.ProtocolError as error:
        db.session.rollback()
        flash(str(error), "warning")
        return redirect_after_post(url_for("protocols.show", slug=page.slug))
    flash(f"Version {form.number.data} published. Readers are asked to acknowledge it.", "success")
    return redirect_after_post(url_for("protocols.show", slug=page.slug))


@bp.post("/<protocol_slug:slug>/acknowledge")
@login_required
def acknowledge(slug: str):
    """Acknowledge having read the published version the user was shown."""
    page = ops.get_page_or_404(slug, current_user)
    form = VersionNumberForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        ops.acknowledge(current_user, page, form.number.data, utcnow())
    except ops.ProtocolError as error:
        db.session.rollback()
        flash(str(error), "warning")
    else:
        flash(f"Thank you: you acknowledged version {form.number.data}.", "success")
    return redirect_after_post(url_for("protocols.show", slug=page.slug))


@bp.get("/<protocol_slug:slug>/acknowledgements")
@roles_required(CHAIR)
def acknowledgements(slug: str):
    """Per agency, who has and who has not acknowledged the published version (chairs)."""
    page = ops.get_page_or_404(slug, current_user)
    report = ops.acknowledgement_report(page)
    return render_template(
        "protocols/acknowledgements.html",
        page=page,
        version=ops.published_version(page),
        report=report,
        total=sum(group.total for group in report),
        done=sum(len(group.acknowledged) for group in report),
    )


@bp.get("/<protocol_slug:slug>/versions")
@login_required
def history(slug: str):
    """List a page's versions (published ones; chairs see drafts too) with compare and restore."""
    page = ops.get_page_or_404(slug, current_user)
    versions = db.session.scalars(ops.versions_query(current_user, page)).all()
    return render_template(
        "protocols/history.html", page=page, versions=versions, can_edit=ops.can_edit(current_user),
        title=ops.shown_version(current_user, page).title,
    )


@bp.get("/<protocol_slug:slug>/versions/<int:number>")
@login_required
def version(slug: str, number: int):
    """Show one version of a page as it reads (drafts to chairs only)."""
    page = ops.get_page_or_404(slug, current_user)
    shown = ops.get_version_or_404(page, number, current_user)
    now = utcnow()
    return render_template(
        "protocols/version.html",
        page=page,
        version=shown,
        html=render_protocol(shown.body, now),
        previous=ops.get_version(page, number - 1),
        can_edit=ops.can_edit(current_user),
        form=VersionNumberForm(),
        publish_form=_publish_form(page, ops.local_date(now)) if ops.can_edit(current_user) else None,
        now=now,
    )


@bp.get("/<protocol_slug:slug>/compare")
@login_required
def compare(slug: str):
    """Compare two versions line by line (`old` and `new`; by default the two newest the user may read)."""
    page = ops.get_page_or_404(slug, current_user)
    choices = db.session.scalars(ops.versions_query(current_user, page)).all()
    new_number = id_arg_or_404("new") or (choices[0].number if choices else None)
    old_number = id_arg_or_404("old") or (choices[1].number if len(choices) > 1 else new_number)
    if new_number is None:
        abort(404)
    old = ops.get_version_or_404(page, old_number, current_user)
    new = ops.get_version_or_404(page, new_number, current_user)
    return render_template(
        "protocols/compare.html", page=page, comparison=ops.compare(old, new), old=old, new=new, choices=choices,
        title=ops.shown_version(current_user, page).title,
    )


@bp.route("/<protocol_slug:slug>/versions/<int:number>/restore", methods=["GET", "POST"])
@roles_required(CHAIR)
def restore(slug: str, number: int):
    """Restore an old version as a new draft (chairs); GET asks for confirmation."""
    page = ops.get_page_or_404(slug, current_user)
    old = ops.get_version_or_404(page, number, current_user)
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            restored = ops.restore(current_user, page, number, utcnow())
        except (ops.ProtocolError, StaleDataError) as error:
            db.session.rollback()
            message = str(error) if isinstance(error, ops.ProtocolError) else StaleEdit.message
            flash(message, "warning")
            return redirect_after_post(url_for("protocols.history", slug=page.slug))
        flash(f"Version {number} restored as version {restored.number}, a draft. Publish it when ready.", "success")
        return redirect_after_post(url_for("protocols.version", slug=page.slug, number=restored.number))
    return render_template("protocols/restore.html", page=page, old=old, form=form,
                           new_number=page.latest_number + 1)
