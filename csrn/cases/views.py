"""Case pages: the case record of the accepting agency, its assessment, plan, onward referrals, transfer, reopening.

Every route looks the case up first and answers 404 to anyone outside the accepting agency's case managers (DESIGN
§5: the receiving agency's own case records), whatever the method.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from csrn.audit import operations as audit
from csrn.auth import tokens
from csrn.cases import bp, coordination
from csrn.cases import operations as ops
from csrn.cases.forms import (
    AssessmentForm,
    OnwardForm,
    PlanStartForm,
    ReopenForm,
    StepForm,
    SupportForm,
    TransferForm,
)
from csrn.cases.models import APPOINTMENT_KINDS, NEED_STATUSES, SUPPORT_ITEMS, SUPPORT_STATUSES
from csrn.clock import utcnow
from csrn.concurrency import StaleEdit
from csrn.directory import operations as directory_ops
from csrn.extensions import db
from csrn.forms import EmptyForm, render_form
from csrn.intake import operations as intake_ops
from csrn.pathways.models import Pathway
from csrn.referrals.models import OUTCOMES
from csrn.roles import RECEIVER_ROLES
from csrn.routing import id_arg_or_404, requested_page
from csrn.security import roles_required


def _me():
    return current_user._get_current_object()


def _type_choices(empty: str) -> list[tuple]:
    return [("", empty)] + [(t.id, t.name) for t in directory_ops.service_types()]


def _back(case, anchor: str = ""):
    return redirect(url_for("cases.show", case_id=case.id) + (f"#{anchor}" if anchor else ""), code=303)


@bp.get("/")
@roles_required(*RECEIVER_ROLES)
def index():
    """My agency's cases, open or closed, all or mine, a page at a time, each with its next step."""
    mine = request.args.get("who") != "all"
    closed = request.args.get("state") == "closed"
    page = db.paginate(ops.agency_cases_query(_me(), mine=mine, closed=closed), page=requested_page(),
                       per_page=current_app.config["PER_PAGE"], error_out=False)
    return render_template("cases/index.html", page=page, lines=ops.case_lines(page.items), mine=mine,
                           closed=closed, outcomes=OUTCOMES, form=EmptyForm(),
                           feed_live="appointments-mine" in tokens.access_tokens_of(_me()))


@bp.get("/<int:case_id>")
@login_required
def show(case_id: int):
    """The case record: next step, assessment, plan, onward referrals, transfers and the case's timeline."""
    return _render_case(ops.get_case_or_404(case_id, _me()))


def _render_case(case, step_form: StepForm | None = None):
    """The case page; with a submitted add-step form that failed, its errors and answers, answered 422."""
    now = utcnow()
    file, needs, steps = ops.case_file(case), ops.needs_of(case), ops.steps_of(case)
    onward, events = ops.onward_referrals(case), ops.events_of(case)
    context = appointment_context(case, now)
    shown = sorted(({"goals"} if file and file.goals else set())
                   | ({"appointments.place"} if any(a.place for a in context["appointments"]) else set())
                   | ({"needs.notes"} if any(n.notes for n in needs) else set())
                   | ({"plan.notes"} if any(s.note for s in steps) else set())
                   | ({"events.text"} if any(e.text for e in events) else set()))
    if shown:  # every view of what the agency recorded about the person is audited (field names only)
        audit.record(_me(), "case.viewed", case, fields=shown, now=now)
        db.session.commit()
    plan_form = PlanStartForm()
    pathways = ops.fitting_pathways(case) if file is not None and file.plan_started_at is None else []
    plan_form.pathway_id.choices = [(p.id, f"The pathway “{p.name}”") for p in pathways] + [("", "From scratch")]
    if step_form is None:
        step_form = StepForm(formdata=None)
    step_form.service_type_id.choices = _type_choices("Choose a service")
    return render_template(
        "cases/show.html", case=case, file=file, needs=needs, steps=steps, onward=onward, events=events,
        transfers=ops.transfers_of(case), open_transfer=ops.open_transfer(case),
        next_step=ops.next_step(case, file, steps, onward), progress=ops.referral_progress,
        step_states=ops.STEP_STATES, statuses=NEED_STATUSES, outcomes=OUTCOMES, pathways=pathways,
        plan_form=plan_form, step_form=step_form, form=EmptyForm(), now=now, **context,
    ), 422 if step_form.errors else 200


def appointment_context(case, now) -> dict:
    """What the case page shows of appointments: each with its checklist, conflicts, the interpreters who speak
    the person's languages, the counselling provider."""
    appointments = coordination.appointments_of(case)
    supports = coordination.supports_by_appointment([a.id for a in appointments])
    checklists = {a.id: [(support, coordination.support_status(support, a, appointments)) for support in supports[a.id]]
                  for a in appointments}
    needs_interpreters = any(s.item == "interpreter" for items in checklists.values() for s, _ in items)
    support_form = SupportForm(formdata=None)
    support_form.accompanist_id.choices = [("", "Nobody (none needed)")] + [
        (u.id, u.name) for u in coordination.accompanists(case)]
    return {
        "appointments": appointments, "checklists": checklists, "conflicts": coordination.conflicts(appointments),
        "interpreters": coordination.interpreters_for(case, now) if needs_interpreters else [],
        "counsellor": coordination.counselling_provider(case), "support_form": support_form,
        "kinds": APPOINTMENT_KINDS, "items": SUPPORT_ITEMS, "support_statuses": SUPPORT_STATUSES,
        "interpretation_type": intake_ops.service_type_by_code(coordination.INTERPRETATION),
        "counselling_type": intake_ops.service_type_by_code(coordination.COUNSELLING),
    }


@bp.post("/<int:case_id>/assessment/start")
@login_required
def start_assessment(case_id: int):
    """Start the needs assessment (the case moves to in progress)."""
    case = ops.get_case_or_404(case_id, _me())
    if EmptyForm().validate_on_submit():
        try:
            ops.start_assessment(_me(), case, utcnow())
        except ops.CaseRefused as exc:
            flash(str(exc), "error")
            return _back(case)
        return redirect(url_for("cases.assessment", case_id=case.id), code=303)
    return _back(case)


@bp.route("/<int:case_id>/assessment", methods=["GET", "POST"])
@login_required
def assessment(case_id: int):
    """The needs assessment: each need's status and notes, a need found later, the person's goals."""
    case = ops.get_case_or_404(case_id, _me())
    file = ops.case_file(case)
    if file is None or case.state not in ops.OPEN:
        flash("Start the needs assessment first." if file is None else "This case is closed. Reopen it first.",
              "info")
        return _back(case)
    needs = {need.id: need for need in ops.needs_of(case)}
    if request.method == "GET":
        form = AssessmentForm(data={"version": file.version, "goals": file.goals,
                                    "needs": [{"need_id": n.id, "status": n.status, "notes": n.notes}
                                              for n in needs.values()]})
        audit.record(_me(), "case.viewed", case, fields=["goals", "needs.notes"], now=utcnow())
        db.session.commit()
    else:
        form = AssessmentForm()
    taken = {n.service_type_id for n in needs.values()}
    form.new_type.choices = [("", "None")] + [(t.id, t.name) for t in directory_ops.service_types()
                                              if t.id not in taken]
    if form.validate_on_submit():
        answers = [ops.NeedAnswer(entry.need_id.data, entry.status.data, entry.notes.data or "")
                   for entry in form.needs]
        try:
            changed = ops.save_assessment(_me(), case, answers, form.goals.data or "", form.new_type.data,
                                          form.version.data, utcnow())
        except StaleEdit as exc:
            form.form_errors.append(str(exc))
        except ops.CaseRefused as exc:
            form.form_errors.append(str(exc))
        else:
            flash("Assessment saved." if changed else "Nothing changed.", "success")
            return _back(case, "assessment")
    labels = {need.id: need for need in needs.values()}
    return render_form("cases/assessment.html", form, case=case, file=file, needs=labels)


@bp.post("/<int:case_id>/plan")
@login_required
def start_plan(case_id: int):
    """Start the service plan from a fitting pathway, or from scratch."""
    case = ops.get_case_or_404(case_id, _me())
    form = PlanStartForm()
    form.pathway_id.choices = [(p.id, p.name) for p in ops.fitting_pathways(case)] + [("", "From scratch")]
    if form.validate_on_submit():
        pathway = db.session.get(Pathway, form.pathway_id.data) if form.pathway_id.data else None
        try:
            ops.start_plan(_me(), case, pathway, utcnow())
        except ops.CaseRefused as exc:
            flash(str(exc), "error")
        else:
            flash("Service plan started." + (" Its steps are planned: send each when ready." if pathway else ""),
                  "success")
    else:
        flash("Choose a pathway from the list, or start from scratch.", "error")
    return _back(case, "plan")


@bp.post("/<int:case_id>/plan/steps")
@login_required
def add_step(case_id: int):
    """Add a step at the end of the plan."""
    case = ops.get_case_or_404(case_id, _me())
    form = StepForm()
    form.service_type_id.choices = _type_choices("Choose a service")
    if form.validate_on_submit():
        try:
            ops.add_step(_me(), case, form.service_type_id.data, form.note.data or "", utcnow())
        except ops.CaseRefused as exc:
            form.service_type_id.errors = [*form.service_type_id.errors, str(exc)]
        else:
            flash("Step added.", "success")
            return _back(case, "plan")
    return _render_case(case, form)


@bp.post("/<int:case_id>/plan/steps/<int:step_id>/move/<any(up, down):direction>")
@login_required
def move_step(case_id: int, step_id: int, direction: str):
    """Move a step one place up or down."""
    case = ops.get_case_or_404(case_id, _me())
    step = ops.get_step_or_404(case, step_id)
    if EmptyForm().validate_on_submit():
        try:
            ops.move_step(_me(), case, step, -1 if direction == "up" else 1, utcnow())
        except ops.CaseRefused as exc:
            flash(str(exc), "error")
    return _back(case, "plan")


@bp.route("/<int:case_id>/plan/steps/<int:step_id>/remove", methods=["GET", "POST"])
@login_required
def remove_step(case_id: int, step_id: int):
    """Remove a planned step (GET asks for confirmation)."""
    case = ops.get_case_or_404(case_id, _me())
    step = ops.get_step_or_404(case, step_id)
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            ops.remove_step(_me(), case, step, utcnow())
        except ops.CaseRefused as exc:
            flash(str(exc), "error")
        else:
            flash("Step removed.", "success")
        return _back(case, "plan")
    return render_template("cases/remove_step.html", case=case, step=step, form=form)


@bp.route("/<int:case_id>/onward", methods=["GET", "POST"])
@login_required
def onward(case_id: int):
    """Refer the person onward: choose the service (and urgency), see the ranked providers, send."""
    case = ops.get_case_or_404(case_id, _me())
    if case.state not in ops.OPEN:
        flash("This case is closed. Reopen it first.", "info")
        return _back(case)
    now = utcnow()
    step = support = None
    if request.method == "GET":
        step_id, support_id = id_arg_or_404("step"), id_arg_or_404("support")
        step = ops.get_step_or_404(case, step_id) if step_id is not None else None
        support = coordination.get_support_or_404(case, support_id) if support_id is not None else None
        form = OnwardForm(formdata=request.args if "service_type_id" in request.args else None,
                          data={"service_type_id": step.service_type_id if step else None,
                                "step_id": step.id if step else None, "urgency": case.urgency,
                                "support_id": support.id if support else None})
    else:
        form = OnwardForm()
        if form.step_id.data is not None:
            step = ops.get_step_or_404(case, form.step_id.data)
        if form.support_id.data is not None:
            support = coordination.get_support_or_404(case, form.support_id.data)
    form.service_type_id.choices = _type_choices("Choose a service")
    chosen = ops.service_type(form.service_type_id.data)
    urgency = form.urgency.data if form.urgency.data in ops.URGENCIES else case.urgency
    matches = ops.matches_for(case, chosen, urgency, now) if chosen is not None else []
    if request.method == "GET" and matches and form.receiver.data not in {m.candidate.agency_id for m in matches}:
        form.receiver.data = matches[0].candidate.agency_id
    if request.method == "POST" and form.validate_on_submit() and chosen is not None:
        if matches and form.receiver.data not in {m.candidate.agency_id for m in matches}:
            form.receiver.errors = ["Choose a provider from the list."]
        else:
            try:
                sent = ops.send_onward(_me(), case, chosen, form.receiver.data, form.backups.data or [], urgency,
                                       now, step=step, submission_key=form.submission_key.data or None)
            except ops.CaseRefused as exc:
                form.form_errors.append(str(exc))
            else:
                if support is not None:  # started from a legal appointment's checklist: the item follows it
                    coordination.link_support(support, case, sent)
                    db.session.commit()
                flash(f"Onward referral #{sent.id} sent." + (f" Offered to {sent.pending_offer.agency.name}."
                                                              if sent.pending_offer else
                                                              " No provider matched: it is in the committee queue."),
                      "success")
                return _back(case, "onward")
    status = 422 if request.method == "POST" else 200
    return render_template("cases/onward.html", case=case, form=form, matches=matches, chosen=chosen,
                           step=step, support=support), status


@bp.route("/<int:case_id>/transfer", methods=["GET", "POST"])
@login_required
def transfer(case_id: int):
    """Transfer the case to another case-management provider (it closes here when that one accepts)."""
    case = ops.get_case_or_404(case_id, _me())
    if case.state not in ops.OPEN:
        flash("This case is closed. Reopen it first.", "info")
        return _back(case)
    pending = ops.open_transfer(case)
    if pending is not None:
        flash(f"A transfer of this case (referral #{pending.id}) is already waiting for an answer.", "info")
        return _back(case)
    now = utcnow()
    form = TransferForm()
    matches = ops.matches_for(case, ops.case_management(), case.urgency, now)
    if request.method == "GET" and matches:
        form.receiver.data = matches[0].candidate.agency_id
    if form.validate_on_submit():
        if matches and form.receiver.data not in {m.candidate.agency_id for m in matches}:
            form.receiver.errors = ["Choose a provider from the list."]
        else:
            try:
                moved = ops.transfer(_me(), case, form.receiver.data, form.backups.data or [], form.reason.data,
                                     now, submission_key=form.submission_key.data or None)
            except ops.CaseRefused as exc:
                form.form_errors.append(str(exc))
            else:
                flash(f"Transfer sent as referral #{moved.id}. The case stays yours until it is accepted.", "success")
                return _back(case)
    status = 422 if request.method == "POST" else 200
    return render_template("cases/transfer.html", case=case, form=form, matches=matches), status


@bp.route("/<int:case_id>/reopen", methods=["GET", "POST"])
@login_required
def reopen(case_id: int):
    """Reopen a closed case, saying why."""
    case = ops.get_case_or_404(case_id, _me())
    if case.state != "closed":
        flash("This case is open.", "info")
        return _back(case)
    form = ReopenForm()
    if form.validate_on_submit():
        try:
            ops.reopen(_me(), case, form.reason.data, utcnow())
        except ops.CaseRefused as exc:
            form.form_errors.append(str(exc))
        else:
            flash("Case reopened. The sender has been told.", "success")
            return _back(case)
    return render_form("cases/reopen.html", form, case=case)
