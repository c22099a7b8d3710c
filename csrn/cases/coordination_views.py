"""Coordination pages: a case's appointments and their support checklist, the appointment feed, a referral's
messages and concerns, the concern list.

Appointment routes answer 404 outside the case's holders (as every case route); the coordination page of a
referral and its concerns answer 404 outside the referral's involved agencies (chairs read a concern's outline).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from icalendar import Calendar, Event

from csrn.audit import operations as audit
from csrn.auth import tokens
from csrn.cases import bp, coordination
from csrn.cases import operations as ops
from csrn.cases.forms import AppointmentForm, ConcernForm, MessageForm, ResolveForm, SupportForm
from csrn.cases.models import APPOINTMENT_KINDS, CONCERN_KINDS, SUPPORT_ITEMS, SUPPORT_STATUSES
from csrn.clock import utcnow
from csrn.extensions import db, limiter
from csrn.forms import EmptyForm, redirect_after_post, render_form
from csrn.links import external_url
from csrn.routing import requested_page
from csrn.settings.operations import task_force_zone

FEED = "appointments-mine"


def _me():
    return current_user._get_current_object()


def _back(case, anchor: str = "appointments"):
    return redirect(url_for("cases.show", case_id=case.id) + f"#{anchor}", code=303)


# ----- appointments ------------------------------------------------------------------------------

def _appointment_form(case, appointment=None) -> AppointmentForm:
    zone = task_force_zone()
    if request.method == "GET":
        if appointment is not None:
            local = appointment.starts_at.astimezone(zone)
            form = AppointmentForm(data={
                "kind": appointment.kind, "provider_agency_id": appointment.provider_agency_id,
                "day": local.date(), "start": local.time().replace(second=0, microsecond=0),
                "duration_minutes": appointment.duration_minutes, "place": appointment.place,
                "accompaniment_needed": appointment.accompaniment_needed,
                "interpreter_needed": appointment.interpreter_needed})
        else:  # a checklist's "add a counselling session" prefills the kind and the provider
            form = AppointmentForm(data={"kind": request.args.get("kind", ""),
                                         "provider_agency_id": request.args.get("provider", type=int)})
    else:
        form = AppointmentForm()
    form.provider_agency_id.choices = [("", "Elsewhere (say where in the place)")] + [
        (a.id, a.name) for a in coordination.provider_choices(case)]
    return form


def _values(form: AppointmentForm) -> dict:
    local = datetime.combine(form.day.data, form.start.data).replace(tzinfo=task_force_zone())
    return {"kind": form.kind.data, "provider_agency_id": form.provider_agency_id.data,
            "starts_at": local.astimezone(UTC), "duration_minutes": form.duration_minutes.data,
            "place": form.place.data or "", "accompaniment_needed": form.accompaniment_needed.data,
            "interpreter_needed": form.interpreter_needed.data}


@bp.route("/<int:case_id>/appointments/new", methods=["GET", "POST"])
@login_required
def new_appointment(case_id: int):
    """Add an appointment of the person."""
    case = ops.get_case_or_404(case_id, _me())
    if case.state not in ops.OPEN:
        flash("This case is closed. Reopen it first.", "info")
        return _back(case)
    form = _appointment_form(case)
    if form.validate_on_submit():
        try:
            appointment = coordination.save_appointment(_me(), case, None, _values(form), utcnow())
        except coordination.Refused as exc:
            form.form_errors.append(str(exc))
        else:
            flash("Appointment added." + (" Its support checklist is below." if appointment.kind in
                                          ("legal", "immigration", "court") else ""), "success")
            return _back(case, f"appointment-{appointment.id}")
    return render_form("cases/appointment.html", form, case=case, appointment=None)


@bp.route("/<int:case_id>/appointments/<int:appointment_id>/edit", methods=["GET", "POST"])
@login_required
def edit_appointment(case_id: int, appointment_id: int):
    """Change an appointment (the place is shown here, and its view audited)."""
    case = ops.get_case_or_404(case_id, _me())
    appointment = coordination.get_appointment_or_404(case, appointment_id)
    if case.state not in ops.OPEN:
        flash("This case is closed. Reopen it first.", "info")
        return _back(case)
    form = _appointment_form(case, appointment)
    if request.method == "GET" and appointment.place:
        audit.record(_me(), "case.appointment_viewed", appointment, fields=["place"], now=utcnow())
        db.session.commit()
    if form.validate_on_submit():
        try:
            coordination.save_appointment(_me(), case, appointment, _values(form), utcnow())
        except coordination.Refused as exc:
            form.form_errors.append(str(exc))
        else:
            flash("Appointment changed.", "success")
            return _back(case, f"appointment-{appointment.id}")
    return render_form("cases/appointment.html", form, case=case, appointment=appointment)


@bp.route("/<int:case_id>/appointments/<int:appointment_id>/delete", methods=["GET", "POST"])
@login_required
def delete_appointment(case_id: int, appointment_id: int):
    """Remove an appointment (GET asks for confirmation)."""
    case = ops.get_case_or_404(case_id, _me())
    appointment = coordination.get_appointment_or_404(case, appointment_id)
    if case.state not in ops.OPEN:
        flash("This case is closed. Reopen it first.", "info")
        return _back(case)
    form = EmptyForm()
    if form.validate_on_submit():
        coordination.delete_appointment(_me(), case, appointment, utcnow())
        flash("Appointment removed.", "success")
        return _back(case)
    return render_template("cases/delete_appointment.html", case=case, appointment=appointment, form=form,
                           kinds=APPOINTMENT_KINDS)


@bp.post("/<int:case_id>/support/<int:support_id>")
@login_required
def record_support(case_id: int, support_id: int):
    """Record one checklist item of a legal appointment."""
    case = ops.get_case_or_404(case_id, _me())
    support = coordination.get_support_or_404(case, support_id)
    form = SupportForm()
    form.accompanist_id.choices = [("", "Nobody")] + [(u.id, u.name) for u in coordination.accompanists(case)]
    if form.validate_on_submit():
        try:
            coordination.set_support(_me(), case, support, form.status.data,
                                     form.accompanist_id.data if support.item == "accompaniment" else None,
                                     utcnow())
        except coordination.Refused as exc:
            flash(str(exc), "error")
        else:
            flash(f"{SUPPORT_ITEMS[support.item]}: {SUPPORT_STATUSES[form.status.data].lower()}.", "success")
    else:
        flash("Choose a status from the list.", "error")
    return _back(case, f"appointment-{support.appointment_id}")


# ----- the appointment feed ----------------------------------------------------------------------

@bp.post("/feed")
@login_required
def make_feed():
    """Make (or renew) my appointment feed; its address is shown this once."""
    now = utcnow()
    raw = tokens.issue_access(FEED, _me(), now)
    audit.record(_me(), "cases.feed_made", _me(), fields=[FEED], now=now)
    db.session.commit()
    flash("Your appointment feed is ready. Copy its address now: it is shown only once.", "success")
    return render_template("cases/feed.html", url=external_url("cases.feed", token=raw), live=True)


@bp.post("/feed/revoke")
@login_required
def revoke_feed():
    if tokens.revoke_access(FEED, _me(), utcnow()):
        audit.record(_me(), "cases.feed_revoked", _me(), fields=[FEED], now=utcnow())
        db.session.commit()
        flash("The appointment feed is stopped.", "success")
    return redirect_after_post(url_for("cases.index"))


@bp.get("/feed/<token>.ics")
@limiter.limit("60 per minute", key_func=lambda: "feed:" + (request.view_args or {}).get("token", "")[:64])
def feed(token: str):
    """My appointments as iCalendar, by secret token: kind, time, duration and a link — never the place, the
    person or anything else identifying (outside calendar services read feeds)."""
    now = utcnow()
    found = tokens.find_access(FEED, token, now)
    if found is None:
        return "Not found", 404
    db.session.commit()
    zone = task_force_zone()
    cal = Calendar()
    cal.add("prodid", "-//CSRN//Appointments//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "CSRN: my appointments")
    host = current_app.config["CSRN_BASE_URL"].split("//", 1)[-1].split("/", 1)[0] or "csrn"
    for appointment in coordination.feed_appointments(found.user, now - timedelta(days=7), now + timedelta(weeks=8)):
        event = Event()
        event.add("uid", f"csrn-appointment-{appointment.id}@{host}")
        event.add("dtstamp", appointment.updated_at)
        event.add("dtstart", appointment.starts_at.astimezone(zone))
        event.add("duration", timedelta(minutes=appointment.duration_minutes))
        event.add("summary", f"{APPOINTMENT_KINDS[appointment.kind]} appointment — case #{appointment.referral_id}")
        event.add("url", external_url("cases.show", case_id=appointment.referral_id)
                  + f"#appointment-{appointment.id}")
        cal.add_component(event)
    cal.add_missing_timezones()
    response = current_app.response_class(cal.to_ical(), mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="appointments.ics"'
    return response


# ----- a referral's coordination: messages, concerns, appointments with you ----------------------

@bp.get("/referrals/<int:referral_id>", endpoint="coordination")
@login_required
def coordination_page(referral_id: int):
    """A referral's coordination: its message thread, its concerns, and an onward receiver's appointments."""
    return _coordination(referral_id)


def _coordination(referral_id: int, message_form=None, concern_form=None, status: int = 200):
    referral, rel = coordination.get_involved_or_404(referral_id, _me())
    now = utcnow()
    in_thread = coordination.in_thread(referral, _me())
    may_message = in_thread and coordination.consent_allows_messages(referral, now)
    messages = coordination.read_thread(_me(), referral, now) if may_message else []
    concerns = [c for c in coordination.concerns_on(referral) if coordination.concern_access(c, _me()) == "involved"]
    with_you = coordination.appointments_with(referral, _me())
    places = bool(with_you) and coordination.shares_place(referral, _me(), now)
    if places and any(a.place for a in with_you):
        audit.record(_me(), "case.appointment_viewed", referral, fields=["place"], now=now)
        db.session.commit()
    return render_template(
        "cases/coordination.html", referral=referral, rel=rel, may_message=may_message, in_thread=in_thread,
        messages=messages,
        concerns=concerns, with_you=with_you, places=places, kinds=APPOINTMENT_KINDS, concern_kinds=CONCERN_KINDS,
        message_form=message_form or MessageForm(formdata=None),
        concern_form=concern_form or ConcernForm(formdata=None), now=now), status


@bp.post("/referrals/<int:referral_id>/messages")
@login_required
def post_message(referral_id: int):
    referral, _ = coordination.get_involved_or_404(referral_id, _me())
    form = MessageForm()
    if form.validate_on_submit():
        try:
            coordination.post_message(_me(), referral, form.body.data, utcnow())
        except coordination.Refused as exc:
            form.body.errors = [str(exc)]
        else:
            flash("Message sent. They are told there is a new message, never what it says.", "success")
            return redirect(url_for("cases.coordination", referral_id=referral.id) + "#messages", code=303)
    return _coordination(referral_id, message_form=form, status=422)


@bp.post("/referrals/<int:referral_id>/concerns")
@login_required
def raise_concern(referral_id: int):
    referral, _ = coordination.get_involved_or_404(referral_id, _me())
    form = ConcernForm()
    if form.validate_on_submit():
        try:
            concern = coordination.raise_concern(_me(), referral, form.kind.data, form.text.data, utcnow())
        except coordination.Refused as exc:
            form.text.errors = [str(exc)]
        else:
            flash("Concern raised. The other agency's admins and the chairs are told.", "success")
            return redirect(url_for("cases.concern", concern_id=concern.id), code=303)
    return _coordination(referral_id, concern_form=form, status=422)


@bp.get("/concerns/")
@login_required
def concerns():
    """Concerns: open first. Chairs see every one's outline; agency admins their agency's; others their own."""
    open_only = request.args.get("state") != "all"
    page = db.paginate(coordination.concerns_query(_me(), open_only), page=requested_page(),
                       per_page=current_app.config["PER_PAGE"], error_out=False)
    return render_template("cases/concerns.html", page=page, open_only=open_only, kinds=CONCERN_KINDS, now=utcnow())


@bp.get("/concerns/<int:concern_id>")
@login_required
def concern(concern_id: int):
    """A concern: its text for the involved users of its two agencies; its outline for chairs."""
    return _concern(concern_id)


def _concern(concern_id: int, form=None, status: int = 200):
    found, access = coordination.get_concern_or_404(concern_id, _me())
    if access == "involved":
        audit.record(_me(), "concern.viewed", found, fields=["text", "resolution"], now=utcnow())
        db.session.commit()
    return render_template("cases/concern.html", concern=found, access=access, kinds=CONCERN_KINDS,
                           may_resolve=coordination.may_resolve(found, _me()),
                           form=form or ResolveForm(formdata=None), now=utcnow()), status


@bp.post("/concerns/<int:concern_id>/resolve")
@login_required
def resolve_concern(concern_id: int):
    found, _ = coordination.get_concern_or_404(concern_id, _me())
    form = ResolveForm()
    if form.validate_on_submit():
        try:
            coordination.resolve_concern(_me(), found, form.note.data, utcnow())
        except coordination.Refused as exc:
            form.note.errors = [str(exc)]
        else:
            flash("Concern resolved.", "success")
            return redirect(url_for("cases.concern", concern_id=concern_id), code=303)
    return _concern(concern_id, form, 422)
