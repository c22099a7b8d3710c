"""User management: list, invite, change roles, deactivate, reset a second factor, and the requests from outside
an agency that wait for its agency admins' approval.

The screens sit with `agencies` (an agency admin manages their agency's users, DESIGN §2), above `auth`, whose
operations (`invite_user`, `send_invitation`, role grants, approvals) they call: they need the agencies to choose
from.
"""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from csrn.agencies.models import Agency
from csrn.auth import operations as ops
from csrn.auth.forms import InviteForm, RolesForm
from csrn.clock import utcnow
from csrn.extensions import db, limiter
from csrn.forms import EmptyForm, redirect_after_post, render_form
from csrn.notify.operations import links_on_screen
from csrn.roles import ADMIN, AGENCY_ADMIN, CHAIR, ROLE_LABELS, ROLES, VOLUNTEER
from csrn.routing import requested_page
from csrn.security import roles_required

bp = Blueprint("users", __name__, url_prefix="/users")
MANAGERS = (AGENCY_ADMIN, CHAIR, ADMIN)


def _me():
    return current_user._get_current_object()


def _role_choices(roles) -> list[tuple[str, str]]:
    return [(role, ROLE_LABELS[role]) for role in ROLES if role in roles]


@bp.get("/")
@roles_required(*MANAGERS)
def index():
    """List the users the actor may manage."""
    search = request.args.get("q", "", type=str)[:120].replace("\x00", "")
    page = db.paginate(
        ops.users_query(_me(), search),
        page=requested_page(),
        per_page=current_app.config["PER_PAGE"],
        error_out=False,
    )
    template = "users/_list.html" if request.htmx else "users/index.html"
    waiting = db.session.scalar(db.select(db.func.count()).select_from(
        ops.pending_requests_query(_me()).order_by(None).subquery()))
    return render_template(template, page=page, search=search, waiting=waiting)


def _agency_choices(actor) -> list[tuple[int, str]]:
    if actor.has_role(ADMIN, CHAIR):
        volunteers = ops.volunteer_provider_ids()  # a volunteer's one-person provider has no other users
        agencies = db.session.scalars(db.select(Agency).order_by(Agency.name)).all()
        choices = [(a.id, a.name) for a in agencies if a.id not in volunteers]
        if actor.has_role(ADMIN):
            choices.insert(0, (0, "— no agency (administrators only) —"))
        return choices
    return [(actor.agency_id, actor.agency.name)] if actor.agency else []


def _invitable_roles(actor, agency_id) -> set[str]:
    """What the invitation form offers for that agency: roles granted at once or asked for."""
    roles = ops.manageable_roles(actor, agency_id)
    if actor.has_role(ADMIN, CHAIR) and agency_id is not None:
        roles |= ops.AGENCY_ROLES  # the first agency admin of an agency that has none (or a request)
    return roles


def _invited_page(invitation):
    """After an invitation: the account made (its link shown only outside production, without mail), or the
    request waiting for the agency's admins."""
    if invitation.request is not None:
        return render_template("users/requested.html", request_=invitation.request)
    return render_template("users/invited.html", invited=invitation.user,
                           link=invitation.link if links_on_screen() else None,
                           first_agency_admin=invitation.first_agency_admin)


@bp.route("/invite", methods=["GET", "POST"])
@roles_required(*MANAGERS)
@limiter.limit("30 per hour", methods=["POST"], key_func=lambda: f"invite:{current_user.get_id()}")
def invite():
    """Invite a person by e-mail: at once into one's own agency; from outside an agency, for its admins to approve."""
    actor = _me()
    form = InviteForm()
    form.agency_id.choices = _agency_choices(actor)
    if request.method == "GET" and actor.agency_id:
        form.agency_id.data = actor.agency_id
    agency_id = form.agency_id.data or None
    offered = _invitable_roles(actor, agency_id) if request.method == "POST" else (
        _invitable_roles(actor, actor.agency_id) | (set(ROLES) - {VOLUNTEER} if actor.has_role(ADMIN) else set()))
    form.roles.choices = _role_choices(offered or ops.GRANTABLE_BY_AGENCY_ADMIN)
    if form.validate_on_submit():
        try:
            invitation = ops.invite_user(actor, form.email.data, form.name.data, agency_id, form.roles.data, utcnow())
        except ops.NotAllowed as exc:
            db.session.rollback()
            form.roles.errors = [str(exc)]
        except ValueError as exc:
            db.session.rollback()
            form.email.errors = [str(exc)]
        else:
            return _invited_page(invitation)
    return render_form("users/invite.html", form, is_outsider=actor.has_role(ADMIN, CHAIR))


def _show_context(actor, target) -> dict:
    return dict(target=target, can_change=ops.can_change(actor, target), empty=EmptyForm(),
                is_admin=actor.has_role(ADMIN), can_resend=ops.can_resend_invitation(actor, target),
                asks=bool(ops.requestable_roles(actor, target.agency_id)), requests=ops.requests_about(target))


@bp.get("/<int:user_id>")
@roles_required(*MANAGERS)
def show(user_id: int):
    """Show a user with the changes the actor may make, who invited them and the requests about them."""
    actor = _me()
    target = ops.get_user_for_management_or_404(user_id, actor)
    manageable = ops.manageable_roles(actor, target.agency_id)
    form = RolesForm()
    form.roles.choices = _role_choices(manageable)
    form.roles.data = [role for role in target.roles if role in manageable]
    return render_template("users/show.html", form=form,
                           fixed_roles=[ROLE_LABELS[r] for r in ROLES if r in target.roles - manageable],
                           **_show_context(actor, target))


@bp.post("/<int:user_id>/roles")
@roles_required(*MANAGERS)
def change_roles(user_id: int):
    """Save a user's roles: at once within one's own agency; additions from outside wait for its admins."""
    actor = _me()
    target = ops.get_user_for_management_or_404(user_id, actor)
    form = RolesForm()
    form.roles.choices = _role_choices(ops.manageable_roles(actor, target.agency_id))
    if form.validate_on_submit():
        try:
            request_ = ops.set_roles(actor, target, form.roles.data, utcnow())
        except (ops.NotAllowed, ValueError) as exc:
            db.session.rollback()
            form.roles.errors = [str(exc)]
        else:
            if request_ is not None:
                flash(f"Adding {', '.join(request_.role_labels).lower()} waits for the approval of an agency admin "
                      f"of {request_.agency.name}; they have been told. Nothing else was granted.", "info")
            else:
                flash("Roles saved.", "success")
            return redirect_after_post(url_for("users.show", user_id=target.id))
    return render_form("users/show.html", form, fixed_roles=[], **_show_context(actor, target))


ACTIONS = {
    "deactivate": ("Deactivate this account?", "They are logged out everywhere at once and cannot log in.",
                   "Deactivate", ops.deactivate, "Account deactivated."),
    "reactivate": ("Reactivate this account?", "They will be able to log in again (from outside their agency: once "
                   "one of its agency admins approves).", "Reactivate", ops.reactivate, "Account reactivated."),
    "reset-second-factor": ("Reset this person's two-factor?",
                            "Their authenticator and recovery codes stop working; they enrol again at next login.",
                            "Reset two-factor", ops.reset_second_factor, "Two-factor has been reset."),
    "resend-invitation": ("Send a new invitation?", "The earlier invitation link stops working.",
                          "Send invitation", None, ""),
}


@bp.route("/<int:user_id>/<any(deactivate, reactivate, 'reset-second-factor', 'resend-invitation'):action>",
          methods=["GET", "POST"])
@roles_required(*MANAGERS)
def act(user_id: int, action: str):
    """Confirm (GET) and carry out (POST) a change to an account."""
    actor = _me()
    target = ops.get_user_for_management_or_404(user_id, actor)
    title, text, button, operation, done = ACTIONS[action]
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            if action == "resend-invitation":
                link = ops.resend_invitation(actor, target, utcnow())
                return render_template("users/invited.html", invited=target,
                                       link=link if links_on_screen() else None)
            request_ = operation(actor, target, utcnow())
        except ops.NotAllowed as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("users.show", user_id=target.id)), 303
        if request_ is not None:
            flash(f"The reactivation waits for the approval of an agency admin of {request_.agency.name}; they have "
                  "been told.", "info")
        else:
            flash(done, "success")
        return redirect_after_post(url_for("users.show", user_id=target.id))
    return render_template("account/confirm.html", form=form, title=title, text=text, button=button,
                           action=url_for("users.act", user_id=target.id, action=action), subject=target)


# ----- requests from outside an agency, decided by its agency admins ------------------------------

@bp.get("/requests")
@roles_required(*MANAGERS)
def requests():
    """The requests waiting for my approval (as an agency admin), and those I made into other agencies."""
    actor = _me()
    return render_template("users/requests.html", pending=db.session.scalars(ops.pending_requests_query(actor)).all(),
                           mine=db.session.scalars(ops.requests_made_query(actor)).all())


DECISIONS = {
    "approve": ("Approve this request?", "Approve", ops.approve_request),
    "refuse": ("Refuse this request?", "Refuse", ops.refuse_request),
}


@bp.route("/requests/<int:request_id>/<any(approve, refuse):decision>", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def decide(request_id: int, decision: str):
    """Confirm (GET) and carry out (POST) an agency admin's approval or refusal of a request into their agency."""
    actor = _me()
    request_ = ops.get_request_for_decision_or_404(request_id, actor)
    title, button, operation = DECISIONS[decision]
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            link = operation(actor, request_, utcnow())
        except ops.NotAllowed as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("users.requests")), 303
        except ValueError as exc:  # the address got an account meanwhile
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("users.requests")), 303
        if decision == "approve" and request_.kind == "invite":
            return render_template("users/invited.html", invited=request_.user,
                                   link=link if links_on_screen() else None,
                                   back_url=url_for("users.requests"), back_label="Back to the requests")
        flash("Approved." if decision == "approve" else "Refused. Nothing was changed.", "success")
        return redirect_after_post(url_for("users.requests"))
    return render_template("users/decide.html", form=form, title=title, button=button, request_=request_,
                           action=url_for("users.decide", request_id=request_.id, decision=decision))
