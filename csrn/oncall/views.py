"""On-call pages: who to call now, the roster and its shifts, coverage, the printable card, calendar feeds."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, render_template, request, url_for
from flask_login import current_user, login_required

from csrn.audit import operations as audit
from csrn.auth import tokens
from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.concurrency import StaleEdit
from csrn.directory import operations as directory_ops
from csrn.extensions import db, limiter
from csrn.forms import EmptyForm, redirect_after_post, render_form
from csrn.links import external_url
from csrn.oncall import bp, feeds
from csrn.oncall import operations as ops
from csrn.oncall.forms import ExceptionForm, KindForm, ShiftForm
from csrn.oncall.models import ResponseKind
from csrn.roles import AGENCY_ADMIN, CHAIR
from csrn.security import roles_required
from csrn.settings.operations import get_settings

CARD_WEEKS = 4
COVERAGE_DAYS = 14


def _me():
    return current_user._get_current_object()


def _id_arg(name: str) -> int:
    """An id from the query string: 0 when missing, not a number, or beyond any row's id."""
    value = request.args.get(name, 0, type=int)
    return value if 0 < value < 2**63 else 0


@bp.get("/now")
@login_required
def now():
    """Who to call now, for every kind: primary and backup with tap-to-call links, until when, who comes next."""
    at = utcnow()
    return render_template("oncall/now.html", answers=ops.who_is_on_call(at), now=at,
                           fallback_phone=get_settings().fallback_phone)


@bp.get("/")
@login_required
def index():
    """The roster: every shift by kind and agency, with warnings (overlapping primaries, shifts to look at)."""
    at = utcnow()
    kind_id = _id_arg("kind")
    agency_id = _id_arg("agency")
    shifts = ops.roster(kind_id or None, agency_id or None)
    # Warnings for what the viewer keeps: every agency's shifts for chairs, their own for an agency admin.
    own = None if _me().has_role(CHAIR) else _me().agency_id
    warnings = ops.coverage(at, at + timedelta(weeks=CARD_WEEKS), own) if ops.can_manage_any(_me()) else []
    return render_template(
        "oncall/index.html", shifts=shifts, kinds=ops.kinds(include_inactive=True), kind_id=kind_id,
        agency_id=agency_id, warnings=[w for w in warnings if w.overlapping_primaries or w.flagged],
        can_manage=lambda shift: ops.can_manage(_me(), shift.agency_id), can_add=ops.can_manage_any(_me()),
        is_chair=_me().has_role(CHAIR), describe=ops.describe_shift, flag=ops.shift_flag, now=at,
    )


# ----- kinds of response -------------------------------------------------------------------------------

def _kind_form(kind: ResponseKind | None) -> KindForm:
    form = KindForm(obj=kind) if request.method == "GET" and kind else KindForm()
    form.service_type_ids.choices = [(t.id, t.name) for t in directory_ops.service_types()]
    if request.method == "GET" and kind:
        form.service_type_ids.data = [t.id for t in kind.service_types]
    return form


@bp.route("/kinds/new", methods=["GET", "POST"])
@roles_required(CHAIR)
def new_kind():
    """Define a kind of response (chairs)."""
    return _save_kind(None)


@bp.route("/kinds/<int:kind_id>/edit", methods=["GET", "POST"])
@roles_required(CHAIR)
def edit_kind(kind_id: int):
    """Change a kind of response (chairs)."""
    return _save_kind(ops.get_kind_or_404(kind_id))


def _save_kind(kind: ResponseKind | None):
    form = _kind_form(kind)
    if form.validate_on_submit():
        try:
            ops.save_kind(_me(), kind, form.data, form.version.data, utcnow())
        except (ops.ShiftError, StaleEdit) as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            flash("Kind of response saved.", "success")
            return redirect_after_post(url_for("oncall.index"))
    return render_form("oncall/kind_form.html", form, kind=kind)


# ----- shifts ----------------------------------------------------------------------------------------

def _shift_form(shift=None) -> ShiftForm:
    form = ShiftForm(obj=shift) if request.method == "GET" and shift else ShiftForm()
    agencies = ops.manageable_agencies(_me())
    if shift is not None and shift.agency not in agencies:
        agencies = [shift.agency, *agencies]
    form.agency_id.choices = [(a.id, a.name) for a in agencies]
    form.kind_id.choices = [(k.id, k.name + (" (24/7)" if k.required_24_7 else "")) for k in ops.kinds()]
    # Every user of the agencies offered, named with their agency: the page works without JavaScript, so the list
    # cannot follow the agency chosen; saving checks the person belongs to it.
    names = {a.id: a.name for a in agencies}
    users = db.session.scalars(db.select(User).where(User.agency_id.in_(names)).order_by(User.name)).all()
    form.user_id.choices = [(0, "— none: give a name below —")] + [
        (u.id, f"{u.name}, {names[u.agency_id]}" + ("" if u.active else " (deactivated)")) for u in users]
    if request.method == "GET" and shift is not None:
        form.user_id.data = shift.user_id or 0
        form.weekdays.data = shift.days
        if shift.pattern == "once":
            zone = ops.task_force_zone()
            form.start_date.data, form.start_time.data = shift.starts_at.astimezone(zone).date(), \
                shift.starts_at.astimezone(zone).time()
            form.end_date.data, form.end_time.data = shift.ends_at.astimezone(zone).date(), \
                shift.ends_at.astimezone(zone).time()
    elif request.method == "GET" and request.args.get("agency", type=int) in {a.id for a in agencies}:
        form.agency_id.data = request.args.get("agency", type=int)
    return form


@bp.route("/shifts/new", methods=["GET", "POST"])
@roles_required(CHAIR, AGENCY_ADMIN)
def new_shift():
    """Add a shift (chairs for any agency, agency admins for their own)."""
    return _save_shift(None)


@bp.route("/shifts/<int:shift_id>/edit", methods=["GET", "POST"])
@login_required
def edit_shift(shift_id: int):
    """Change a shift; another agency's shift is a 404."""
    return _save_shift(ops.get_shift_for_edit_or_404(shift_id, _me()))


def _save_shift(shift):
    form = _shift_form(shift)
    if not form.agency_id.choices:
        abort(404)
    if form.validate_on_submit():
        values = dict(form.data, user_id=form.user_id.data or None)
        try:
            saved = ops.save_shift(_me(), shift, values, form.version.data, utcnow())
        except (ops.ShiftError, StaleEdit) as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            flash("Shift saved.", "success")
            return redirect_after_post(url_for("oncall.index", kind=saved.kind_id))
    return render_form("oncall/shift_form.html", form, shift=shift, exception_form=ExceptionForm(),
                       describe=ops.describe_shift)


@bp.route("/shifts/<int:shift_id>/delete", methods=["GET", "POST"])
@login_required
def delete_shift(shift_id: int):
    """Remove a shift, after a confirmation page."""
    shift = ops.get_shift_for_edit_or_404(shift_id, _me())
    form = EmptyForm()
    if form.validate_on_submit():
        kind_id = shift.kind_id
        ops.delete_shift(_me(), shift, utcnow())
        flash("Shift removed from the roster.", "success")
        return redirect_after_post(url_for("oncall.index", kind=kind_id))
    return render_template("oncall/delete.html", shift=shift, form=form, describe=ops.describe_shift)


@bp.post("/shifts/<int:shift_id>/exceptions")
@login_required
def add_exception(shift_id: int):
    """Add days a weekly shift does not run."""
    shift = ops.get_shift_for_edit_or_404(shift_id, _me())
    form = ExceptionForm()
    if form.validate_on_submit():
        try:
            ops.add_exception(_me(), shift, form.start_date.data, form.end_date.data, form.note.data, utcnow())
        except ops.ShiftError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            flash("Exception added.", "success")
            return redirect_after_post(url_for("oncall.edit_shift", shift_id=shift.id))
    edit = _shift_form(shift)
    return render_template("oncall/shift_form.html", form=edit, shift=shift, exception_form=form,
                           describe=ops.describe_shift), 422


@bp.post("/shifts/<int:shift_id>/exceptions/<int:exception_id>/delete")
@login_required
def remove_exception(shift_id: int, exception_id: int):
    """Let the shift run again on those days."""
    shift = ops.get_shift_for_edit_or_404(shift_id, _me())
    if EmptyForm().validate_on_submit():
        ops.remove_exception(_me(), shift, exception_id, utcnow())
        flash("Exception removed.", "success")
    return redirect_after_post(url_for("oncall.edit_shift", shift_id=shift.id))


# ----- coverage and the card ------------------------------------------------------------------------

@bp.get("/coverage")
@roles_required(CHAIR, AGENCY_ADMIN)
def coverage():
    """Every interval of the coming days a 24/7 kind has no primary, and no backup (agency admins: as their own
    agency's shifts cover it)."""
    at = utcnow()
    days = min(max(request.args.get("days", COVERAGE_DAYS, type=int), 1), 56)
    agency_id = None if _me().has_role(CHAIR) else _me().agency_id
    if agency_id is None and not _me().has_role(CHAIR):
        abort(404)
    return render_template("oncall/coverage.html", report=ops.coverage(at, at + timedelta(days=days), agency_id),
                           days=days, now=at, own_agency=agency_id is not None)


@bp.get("/card")
@login_required
def card():
    """The printable on-call card: the next four weeks by kind and day, with phone numbers."""
    at = utcnow()
    return render_template("oncall/card.html", weeks=ops.roster_by_day(ops.local_today(at), CARD_WEEKS * 7), now=at,
                           fallback_phone=get_settings().fallback_phone)


# ----- calendar feeds ----------------------------------------------------------------------------------

@bp.get("/feeds")
@login_required
def feed_list():
    """The user's calendar feeds: which exist, and a button to make (or renew) or revoke each."""
    return render_template("oncall/feeds.html", purposes=feeds.PURPOSES, live=tokens.access_tokens_of(_me()),
                           form=EmptyForm(), new_url=None, new_purpose=None)


@bp.post("/feeds/<any('oncall-mine', 'oncall-agency'):purpose>")
@login_required
def make_feed(purpose: str):
    """Make (or renew) a feed; its URL is shown this once, since only its hash is kept."""
    form = EmptyForm()
    if not form.validate_on_submit() or _me().agency_id is None:
        abort(400)
    raw = tokens.issue_access(purpose, _me(), utcnow())
    audit.record(_me(), "oncall.feed_made", _me(), fields=[purpose], now=utcnow())
    db.session.commit()
    url = external_url("oncall.feed", token=raw)
    return render_template("oncall/feeds.html", purposes=feeds.PURPOSES, live=tokens.access_tokens_of(_me()),
                           form=EmptyForm(), new_url=url, new_purpose=purpose)


@bp.post("/feeds/<any('oncall-mine', 'oncall-agency'):purpose>/revoke")
@login_required
def revoke_feed(purpose: str):
    """Stop a feed: its URL answers 404 from now on."""
    if EmptyForm().validate_on_submit():
        tokens.revoke_access(purpose, _me(), utcnow())
        audit.record(_me(), "oncall.feed_revoked", _me(), fields=[purpose], now=utcnow())
        db.session.commit()
        flash("The feed is stopped; calendars polling it get nothing more.", "success")
    return redirect_after_post(url_for("oncall.feed_list"))


@bp.get("/feeds/<token>.ics")
@limiter.limit("60 per minute", key_func=lambda: "feed:" + (request.view_args or {}).get("token", "")[:64])
def feed(token: str):
    """A calendar feed by its secret token (no session); 404 for an unknown or revoked one."""
    at = utcnow()
    found = next((t for purpose in feeds.PURPOSES if (t := tokens.find_access(purpose, token, at))), None)
    if found is None:
        abort(404)
    body = feeds.calendar(found, at)
    db.session.commit()  # last_used_at
    response = current_app.response_class(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="on-call.ics"'
    return response
