"""Drill pages: the list of running and past drills, starting one, its page (clock, report), and the chair's
actions — jump to the next deadline, stop, clean up. Chairs only (everyone else: 403)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from csrn.clock import utcnow
from csrn.directory import operations as directory_ops
from csrn.drills import bp
from csrn.drills import operations as ops
from csrn.drills.forms import DrillForm
from csrn.drills.models import END_REASONS
from csrn.extensions import db
from csrn.forms import EmptyForm, render_form
from csrn.intake.operations import CASE_MANAGEMENT
from csrn.roles import CHAIR
from csrn.routing import requested_page
from csrn.schedules import operations as schedule_ops
from csrn.security import roles_required
from csrn.settings.operations import get_settings, task_force_zone


def _me():
    return current_user._get_current_object()


def _back(drill):
    return redirect(url_for("drills.show", drill_id=drill.id), code=303)


def _carry_out(drill, operation, success, refused: str = "info"):
    """A chair's action on the drill (`operation(actor, drill, now)`): its refusal, or `success(result)`, as the
    message; back to the drill."""
    try:
        result = operation(_me(), drill, utcnow())
    except ops.DrillRefused as exc:
        flash(str(exc), refused)
    else:
        flash(success(result), "success")
    return _back(drill)


def next_sunday_night(now: datetime) -> tuple[date, time]:
    """The default simulated hour: next Sunday 02:00 in the task force's zone (the hour a protocol is tested)."""
    today = now.astimezone(task_force_zone()).date()
    return today + timedelta(days=(6 - today.weekday()) % 7 or 7), time(2, 0)


@bp.get("/")
@roles_required(CHAIR)
def index():
    """Running drills, then past ones with their reports, a page at a time."""
    now = utcnow()
    running = db.session.scalars(ops.drills_query(running=True)).all()
    past = db.paginate(ops.drills_query(running=False), page=requested_page(),
                       per_page=current_app.config["PER_PAGE"], error_out=False)
    return render_template("drills/index.html", running=running, past=past, now=now, reasons=END_REASONS,
                           drill_now=ops.drill_now, ending=ops.ending)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(CHAIR)
def new():
    """Start a drill: a test intake for a fictional person at a simulated hour, through the real submit."""
    now = utcnow()
    form = DrillForm()
    form.sending_agency_id.choices = [(a.id, a.name) for a in ops.sending_agencies()]
    form.needs.choices = [(t.code, t.name) for t in directory_ops.service_types() if t.code != CASE_MANAGEMENT]
    form.county.choices = [("", "Unknown")] + [(c, c) for c in get_settings().counties]
    if request.method == "GET":
        form.simulated_date.data, form.simulated_time.data = next_sunday_night(now)
    if form.validate_on_submit():
        zone = task_force_zone()
        simulated = datetime.combine(form.simulated_date.data, form.simulated_time.data, tzinfo=zone)
        values = {"sending_agency_id": form.sending_agency_id.data, "urgency": form.urgency.data,
                  "needs": form.needs.data or [], "county": form.county.data, "note": form.note.data,
                  "age_group": form.age_group.data, "citizenship": form.citizenship.data,
                  "trafficking_type": form.trafficking_type.data, "simulated_start": simulated}
        try:
            drill = ops.start_drill(_me(), values, now)
        except ops.DrillRefused as exc:
            form.form_errors.append(str(exc))
        else:
            flash(f"Drill #{drill.id} started at {simulated.strftime('%a %d %b %H:%M')} (drill time).", "success")
            return _back(drill)
    return render_form("drills/new.html", form, holidays=_coming_holidays(now))


def _coming_holidays(now: datetime):
    today = now.astimezone(task_force_zone()).date()
    return [h for h in schedule_ops.holidays() if h.day >= today][:6]


@bp.get("/<int:drill_id>")
@roles_required(CHAIR)
def show(drill_id: int):
    """The drill: its clock, the next deadline, and the report (so far, or as kept when it ended). Printable."""
    drill = ops.get_drill_or_404(drill_id)
    now = utcnow()
    # A GET changes nothing (SECURITY AC5): a drill whose referral was just accepted shows why it ends, and `tick`
    # (or the chair's next action) ends it and keeps its report.
    return render_template("drills/show.html", drill=drill, now=now, report=ops.current_report(drill, now),
                           drill_time=ops.drill_now(drill, now) if drill.state == "running" else None,
                           next_deadline=ops.next_deadline(drill), form=EmptyForm(), reasons=END_REASONS,
                           ending=ops.ending(drill))


@bp.route("/<int:drill_id>/jump", methods=["POST"])
@roles_required(CHAIR)
def jump(drill_id: int):
    """Move the drill's clock to its next deadline and run its escalation there."""
    drill = ops.get_drill_or_404(drill_id)
    if EmptyForm().validate_on_submit():
        return _carry_out(drill, ops.jump_to_next_deadline, lambda _: "The drill's clock moved to the next "
                          "deadline; what happens when nobody answers has happened.", refused="error")
    return _back(drill)


@bp.route("/<int:drill_id>/stop", methods=["GET", "POST"])
@roles_required(CHAIR)
def stop(drill_id: int):
    """Stop a running drill (confirmation first): what still waits is withdrawn, and the report is kept."""
    drill = ops.get_drill_or_404(drill_id)
    form = EmptyForm()
    if form.validate_on_submit():
        return _carry_out(drill, ops.stop, lambda _: f"Drill #{drill.id} stopped. Its report is kept below.")
    if drill.state != "running":
        flash("This drill has already ended.", "info")
        return _back(drill)
    return render_template("drills/confirm.html", drill=drill, form=form, action="stop")


@bp.route("/<int:drill_id>/clean-up", methods=["GET", "POST"])
@roles_required(CHAIR)
def clean_up(drill_id: int):
    """Remove an ended drill's records (confirmation first); its report and the audit entries stay."""
    drill = ops.get_drill_or_404(drill_id)
    form = EmptyForm()
    if form.validate_on_submit():
        return _carry_out(drill, ops.clean_up, lambda counts: f"Drill #{drill.id} cleaned up: {sum(counts.values())} "
                          "record(s) removed. The report is kept.")
    if drill.state != "ended":
        flash("Only an ended drill can be cleaned up." if drill.state == "running"
              else "This drill was already cleaned up.", "info")
        return _back(drill)
    return render_template("drills/confirm.html", drill=drill, form=form, action="clean-up")
