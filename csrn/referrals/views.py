"""Referral pages: the referral as the viewer may see it, its timeline, actions, the inbox and the queue."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import lazyload, selectinload

from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.clock import utcnow
from csrn.dimensions import AGE_GROUPS, CITIZENSHIP, CONSIDERATIONS, TRAFFICKING, URGENCIES
from csrn.directory import operations as directory_ops
from csrn.directory import receiving
from csrn.extensions import db
from csrn.forms import EmptyForm, render_form
from csrn.oncall import operations as oncall_ops
from csrn.referrals import bp
from csrn.referrals import consent as consent_ops
from csrn.referrals import operations as ops
from csrn.referrals.forms import CloseForm, DeclineForm, OfferByHandForm
from csrn.referrals.models import DECLINE_REASONS, OUTCOMES, REFERRAL_STATES, Referral, ReferralEvent
from csrn.roles import CHAIR, RECEIVER_ROLES
from csrn.routing import requested_page
from csrn.security import roles_required
from csrn.settings.operations import get_settings


def _me():
    return current_user._get_current_object()


def _identifying(referral, rel: str, now) -> set[str]:
    """Which identifying categories this viewer sees (DESIGN §5), immigration details narrowed for users of
    law-enforcement agencies (SECURITY P6)."""
    if rel == "author":
        shown = {"identity", "contact", "immigration", "health", "narrative"}
    elif rel == "receiver":
        shown = consent_ops.shared_categories(referral, current_user.agency_id, False, now)
    elif rel == "chair":
        shown = consent_ops.shared_categories(referral, None, True, now)
    else:
        return set()
    if "immigration" in shown and not consent_ops.immigration_allowed(referral, current_user, now):
        shown = shown - {"immigration"}
    return shown


def _labels() -> dict:
    return {"urgency": URGENCIES, "age_group": AGE_GROUPS, "citizenship": CITIZENSHIP,
            "trafficking_type": TRAFFICKING, "considerations": CONSIDERATIONS,
            "needs": {t.code: t.name for t in directory_ops.service_types(active_only=False)},
            "genders": {g.code: g.label for g in directory_ops.genders()}, "reasons": DECLINE_REASONS,
            "outcomes": OUTCOMES}


@bp.get("/")
@login_required
def index():
    """The referrals the user may see, newest emergency first, filterable by state."""
    state = request.args.get("state", "")
    state = state if state in REFERRAL_STATES else ""
    me = _me()
    page = db.paginate(ops.list_query(me, state), page=requested_page(),
                       per_page=current_app.config["PER_PAGE"], error_out=False)
    # A provider whose offer was declined or expired sees its own offer, not the referral's state since (§5).
    former = {r.id: ops.own_offers(r, me)[-1] for r in page.items if ops.relation(r, me) == "former"}
    return render_template("referrals/index.html", page=page, state=state, states=REFERRAL_STATES, now=utcnow(),
                           labels=_labels(), former=former, clock=ops.clock)


@bp.get("/inbox")
@roles_required(*RECEIVER_ROLES)
def inbox():
    """Pending offers to my agency with time left; htmx polls the fragment (as a background request)."""
    now = utcnow()
    offers = db.session.scalars(ops.inbox_query(_me())).all()
    template = "referrals/_inbox.html" if request.htmx else "referrals/inbox.html"
    return render_template(template, offers=offers, now=now, labels=_labels(), clock=ops.clock)


@bp.get("/queue")
@roles_required(CHAIR)
def queue():
    """The committee queue: unassigned referrals, then escalated ones still on offer, as summaries, a page at a
    time."""
    # The rows show no intake, and their type and sender are loaded for the page only: joined to every referral in
    # the queue, they cost more than the page itself.
    query = ops.queue_query().options(lazyload(Referral.intake), selectinload(Referral.service_type),
                                      selectinload(Referral.sending_agency))
    page = db.paginate(query, page=requested_page(), per_page=current_app.config["PER_PAGE"],
                       error_out=False)
    return render_template("referrals/queue.html", page=page, now=utcnow(), labels=_labels(), clock=ops.clock)


@bp.get("/<int:referral_id>")
@login_required
def show(referral_id: int):
    """The referral as the viewer may see it, with its timeline and the viewer's actions."""
    referral, rel = ops.get_referral_or_404(referral_id, _me())
    real_now = utcnow()
    now = ops.clock(referral, real_now)  # a drill's deadlines and times are on its own clock
    shown = _identifying(referral, rel, real_now)
    if shown:
        audit.record(_me(), "referral.viewed_identifying", referral, fields=sorted(shown), now=real_now)
        db.session.commit()
    events = db.session.scalars(select(ReferralEvent).where(ReferralEvent.referral_id == referral.id)
                                .order_by(ReferralEvent.at, ReferralEvent.id)).all()
    own_offers = ops.own_offers(referral, _me())
    return render_template(
        "referrals/show.html", referral=referral, rel=rel, shown=shown, events=events, now=now,
        own_offers=own_offers, labels=_labels(), form=EmptyForm(), decline_form=DeclineForm(),
        consent=consent_ops.consent_of(referral.intake) if rel in ("author", "sender") else None,
    )


@bp.get("/<int:referral_id>/sent")
@login_required
def sent(referral_id: int):
    """After sending: who to phone right now (the receiver's line; for emergencies, its 24/7 number)."""
    referral, rel = ops.get_referral_or_404(referral_id, _me())
    if rel not in ("author", "sender"):
        return redirect(url_for("referrals.show", referral_id=referral.id))
    pending, now = referral.pending_offer, ops.clock(referral, utcnow())
    kinds = oncall_ops.kinds_for_service_type(referral.service_type_id)
    return render_template("referrals/sent.html", referral=referral, offer=pending, now=now,
                           oncall=oncall_ops.who_is_on_call(now, kinds) if kinds else [],
                           fallback_phone=get_settings().fallback_phone)


def _not_yours(referral, message: str):
    """A form page for an action the viewer cannot take: back to the referral, saying why."""
    flash(message, "info")
    return redirect(url_for("referrals.show", referral_id=referral.id), code=303)


@bp.post("/<int:referral_id>/accept")
@login_required
def accept(referral_id: int):
    """Accept the offer to my agency (exactly one acceptance ever wins)."""
    referral, rel = ops.get_referral_or_404(referral_id, _me())
    try:
        ops.accept(_me(), referral, ops.clock(referral, utcnow()))
    except ops.RefusedTransition as exc:
        flash(str(exc), "error")
    else:
        flash("Accepted. The sender has been told; the person's details are below as the consent allows.", "success")
    return redirect(url_for("referrals.show", referral_id=referral_id), code=303)


@bp.route("/<int:referral_id>/decline", methods=["GET", "POST"])
@login_required
def decline(referral_id: int):
    """Decline the offer to my agency with a reason; it goes to the next candidate at once."""
    referral, rel = ops.get_referral_or_404(referral_id, _me())
    if request.method == "GET" and rel != "offered":
        return _not_yours(referral, "Only the agency this referral is offered to can decline it.")
    form = DeclineForm()
    if form.validate_on_submit():
        try:
            ops.decline(_me(), referral, form.reason.data, form.text.data, ops.clock(referral, utcnow()))
        except ops.RefusedTransition as exc:
            flash(str(exc), "error")
        else:
            flash("Declined. The referral has gone to the next provider.", "success")
            return redirect(url_for("referrals.inbox") if current_user.has_role(*RECEIVER_ROLES)
                            else url_for("referrals.index"), code=303)
        return redirect(url_for("referrals.show", referral_id=referral_id), code=303)
    return render_form("referrals/decline.html", form, referral=referral)


@bp.route("/<int:referral_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(referral_id: int):
    """The sender withdraws the referral (GET asks for confirmation)."""
    referral, rel = ops.get_referral_or_404(referral_id, _me())
    if request.method == "GET" and (rel not in ("author", "sender") or referral.state not in ("offered", "unassigned")):
        return _not_yours(referral, "Only the sending agency can withdraw a referral, and only before it is accepted.")
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            ops.withdraw(_me(), referral, ops.clock(referral, utcnow()))
        except ops.RefusedTransition as exc:
            flash(str(exc), "error")
        else:
            flash("Referral withdrawn.", "success")
        return redirect(url_for("referrals.show", referral_id=referral_id), code=303)
    return render_template("referrals/withdraw.html", referral=referral, form=form)


@bp.route("/<int:referral_id>/offer", methods=["GET", "POST"])
@roles_required(CHAIR)
def offer_by_hand(referral_id: int):
    """A chair offers a queued referral to any provider that can receive it."""
    referral, rel = ops.get_referral_or_404(referral_id, _me())
    now = ops.clock(referral, utcnow())
    receivable = db.session.scalars(select(Agency).where(
        receiving.receivable_condition(referral.service_type_id, now)).order_by(Agency.name)).all()
    form = OfferByHandForm()
    form.agency_id.choices = [(a.id, a.name) for a in receivable]
    if form.validate_on_submit():
        try:
            ops.offer_by_hand(_me(), referral, db.session.get(Agency, form.agency_id.data), now)
        except ops.RefusedTransition as exc:
            form.agency_id.errors = [str(exc)]
        else:
            flash("Offered.", "success")
            return redirect(url_for("referrals.show", referral_id=referral_id), code=303)
    return render_form("referrals/offer.html", form, referral=referral)


@bp.route("/<int:referral_id>/close", methods=["GET", "POST"])
@login_required
def close(referral_id: int):
    """The accepting agency closes the referral with an outcome."""
    referral, rel = ops.get_referral_or_404(referral_id, _me())
    if request.method == "GET" and (rel != "receiver" or referral.state not in ("accepted", "in_progress")):
        return _not_yours(referral, "Only the accepting agency can close this referral, once accepted.")
    form = CloseForm()
    if form.validate_on_submit():
        try:
            ops.close(_me(), referral, form.outcome.data, ops.clock(referral, utcnow()))
        except ops.RefusedTransition as exc:
            form.outcome.errors = [str(exc)]
        else:
            flash("Referral closed. The sender has been told.", "success")
            return redirect(url_for("referrals.show", referral_id=referral_id), code=303)
    return render_form("referrals/close.html", form, referral=referral)


@bp.route("/<int:referral_id>/consent/revoke", methods=["GET", "POST"])
@login_required
def revoke_consent(referral_id: int):
    """The sending agency records that the person revoked consent: identifying details vanish at once."""
    referral, rel = ops.get_referral_or_404(referral_id, _me())
    if rel not in ("author", "sender"):
        abort(404)
    form = EmptyForm()
    if form.validate_on_submit():
        consent_ops.revoke_consent(_me(), referral.intake, utcnow())
        flash("Consent revoked. No identifying information is shared any more.", "success")
        return redirect(url_for("referrals.show", referral_id=referral_id), code=303)
    return render_template("referrals/revoke.html", referral=referral, form=form)


@bp.get("/<int:referral_id>/contact")
@login_required
def contact(referral_id: int):
    """Unfold the person's contact details (audited); the safe-contact plan always comes first."""
    referral, rel = ops.get_referral_or_404(referral_id, _me())
    now = utcnow()
    shown = _identifying(referral, rel, now)
    if "contact" not in shown or referral.intake.purged_at is not None:
        abort(404)
    audit.record(_me(), "referral.contact_opened", referral, fields=["contact_phone", "contact_other"], now=now)
    db.session.commit()
    template = "referrals/_contact.html" if request.htmx else "referrals/contact.html"
    return render_template(template, referral=referral, intake=referral.intake)
