"""The intake: six steps, each a plain form (htmx makes it faster), saved as a draft as the user goes."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from csrn.clock import utcnow
from csrn.dimensions import AGE_GROUPS, CITIZENSHIP, CONSIDERATIONS, TRAFFICKING, URGENCIES
from csrn.directory import operations as directory_ops
from csrn.extensions import db, limiter
from csrn.forms import EmptyForm, redirect_after_post, render_form
from csrn.intake import bp
from csrn.intake import operations as ops
from csrn.intake.forms import ConsentForm, MatchForm, NeedsForm, PersonForm, UrgencyForm
from csrn.intake.models import IntakeDraft
from csrn.referrals.models import CONSENT_CATEGORIES
from csrn.settings.operations import get_settings

STEPS = {1: "Urgency and place", 2: "The person", 3: "Needs", 4: "Match", 5: "Consent and safe contact",
         6: "Preview"}
FIELDS = {
    1: ("urgency", "county"),
    2: ("alias", "age_group", "gender", "citizenship", "trafficking_type", "languages", "interpreter_needed",
        "considerations"),
    3: ("needs",),
    4: ("receiver", "backups"),
    5: ("consent", "consent_how", "consent_with", "consent_agencies", "consent_categories", "consent_date",
        "consent_expires", "safe_channel", "safe_times", "do_not_text", "phone_may_be_controlled", "code_word",
        "contact_phone", "contact_other", "narrative", "immigration_notes", "health_notes"),
}


def _step_template() -> str:
    """The whole page, or only the step's form when htmx validates it in place."""
    return "intake/_step_form.html" if request.htmx else "intake/step.html"


def _require_can_start():
    if not ops.can_start_intake(current_user):
        abort(403)


def _form_for(step: int, answers: dict, now):
    """Build the step's form with its choices (and, on GET, the saved answers)."""
    form_class = {1: UrgencyForm, 2: PersonForm, 3: NeedsForm, 4: MatchForm, 5: ConsentForm}[step]
    form = form_class() if request.method == "POST" else form_class(data=_form_data(step, answers))
    context: dict = {}
    if step == 1:
        form.county.choices = [("", "Unknown")] + [(c, c) for c in get_settings().counties]
    elif step == 2:
        form.gender.choices = [("unknown", "Unknown")] + [(g.code, g.label) for g in directory_ops.genders()]
    elif step == 3:
        types = directory_ops.service_types()
        # Case management first: it is always requested, so it is shown ticked and cannot be unticked.
        form.needs.choices = sorted(((t.code, t.name) for t in types), key=lambda c: c[0] != ops.CASE_MANAGEMENT)
    elif step == 4:
        matches = ops.match_case_management(answers, now)
        choices = [(m.candidate.agency_id, m.candidate.agency_name) for m in matches]
        form.receiver.choices = choices
        form.backups.choices = choices
        if not matches:
            form.receiver.validate_choice = False  # nobody to choose: sending puts it in the committee queue
        if request.method == "GET" and form.receiver.data is None and matches:
            form.receiver.data = matches[0].candidate.agency_id  # the top candidate is preselected
        context.update(matches=matches, unmet=ops.unmet_needs(answers, now), pathways=ops.fitting_pathways(answers))
    elif step == 5:
        form.consent_agencies.choices = ops.nameable_agencies()
    return form, context


def _form_data(step: int, answers: dict) -> dict:
    data = {name: answers.get(name) for name in FIELDS.get(step, ()) if answers.get(name) is not None}
    for name in ("consent_date", "consent_expires"):
        if data.get(name):
            data[name] = date.fromisoformat(data[name])
    return data


def _answers_from(step: int, form) -> dict:
    values = {}
    for name in FIELDS[step]:
        value = getattr(form, name).data
        values[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return values


@bp.route("/new", methods=["GET", "POST"])
@login_required
@limiter.limit("60 per minute", methods=["POST"])
def new():
    """Step 1 of a new intake; saving it creates the draft."""
    _require_can_start()
    now = utcnow()
    form, context = _form_for(1, {}, now)
    if form.validate_on_submit():
        draft = ops.start_draft(current_user, _answers_from(1, form), now)
        return redirect_after_post(url_for("intake.step", draft_id=draft.id, number=2))
    return render_form(_step_template(), form, step=1, steps=STEPS, draft=None, answers={}, **context)


@bp.route("/<int:draft_id>/<int:number>", methods=["GET", "POST"])
@login_required
def step(draft_id: int, number: int):
    """Any step of a draft: answers are kept on error and saved on success."""
    _require_can_start()
    if number not in STEPS:
        abort(404)
    draft = ops.get_draft_or_404(draft_id, current_user)
    answers, now = draft.answers, utcnow()
    if number == 6:
        return _preview(draft, answers, now)
    form, context = _form_for(number, answers, now)
    if form.validate_on_submit():
        ops.save_draft(draft, _answers_from(number, form), number, now)
        if number == 4 and request.form.get("send_now") and answers.get("urgency") == "emergency":
            return _send(draft)
        return redirect_after_post(url_for("intake.step", draft_id=draft.id, number=number + 1))
    return render_form(_step_template(), form, step=number, steps=STEPS, draft=draft, answers=answers, **context)


@bp.get("/<int:draft_id>/unmet")
@login_required
def unmet(draft_id: int):
    """The needs no provider could receive for this person, as the needs change (an htmx fragment)."""
    draft = ops.get_draft_or_404(draft_id, current_user)
    answers = {**draft.answers, "needs": request.args.getlist("needs")}
    return render_template("intake/_unmet.html", unmet=ops.unmet_needs(answers, utcnow()))


def _preview(draft, answers, now):
    matches = {m.candidate.agency_id: m for m in ops.match_case_management(answers, now)}
    receiver = matches.get(answers.get("receiver"))
    backups = [matches[b] for b in answers.get("backups") or [] if b in matches]
    consent_yes = answers.get("consent") == "yes"
    categories = set(answers.get("consent_categories") or []) if consent_yes else set()
    covers_receiver = consent_yes and "receiver" in (answers.get("consent_with") or [])
    return render_template(
        "intake/preview.html", draft=draft, answers=answers, step=6, steps=STEPS, receiver=receiver,
        backups=backups, after_categories=categories if covers_receiver else set(), form=EmptyForm(),
        labels=_labels(),
    )


def _labels() -> dict:
    return {"urgency": URGENCIES, "age_group": AGE_GROUPS, "citizenship": CITIZENSHIP,
            "trafficking_type": TRAFFICKING, "considerations": CONSIDERATIONS, "categories": CONSENT_CATEGORIES,
            "needs": {t.code: t.name for t in directory_ops.service_types(active_only=False)},
            "genders": {g.code: g.label for g in directory_ops.genders()}}


@bp.post("/<int:draft_id>/send")
@login_required
@limiter.limit("30 per minute")
def send(draft_id: int):
    """Send the intake: the referral is created and offered (a repeat of the same form sends nothing new)."""
    _require_can_start()

    draft = db.session.get(IntakeDraft, draft_id)
    if draft is not None and draft.user_id != current_user.id:
        abort(404)
    return _send(draft)


def _send(draft):
    key = request.form.get("submission_key", "") or (draft.submission_key if draft else "")
    if draft is not None and key != draft.submission_key:
        abort(400)
    try:
        referral = ops.submit(current_user._get_current_object(), draft, key, utcnow())
    except ops.CannotStartIntake as exc:
        flash(str(exc), "error")
        return redirect(url_for("intake.drafts"), code=303)
    if referral is None:
        abort(404)
    return redirect_after_post(url_for("referrals.sent", referral_id=referral.id))


@bp.get("/drafts")
@login_required
def drafts():
    """The user's unfinished intakes, resumable where they were left."""
    return render_template("intake/drafts.html", drafts=ops.drafts_of(current_user), steps=STEPS,
                           labels=_labels(), can_start=ops.can_start_intake(current_user))


@bp.route("/<int:draft_id>/discard", methods=["GET", "POST"])
@login_required
def discard(draft_id: int):
    """Delete a draft, after confirming."""
    draft = ops.get_draft_or_404(draft_id, current_user)
    form = EmptyForm()
    if form.validate_on_submit():
        ops.discard_draft(current_user, draft)
        flash("Draft discarded.", "success")
        return redirect(url_for("intake.drafts"), code=303)
    return render_template("intake/discard.html", draft=draft, form=form)
