"""User management: list, invite, change roles, deactivate, reset a second factor.

The screens sit with `agencies` (an agency admin manages their agency's users, DESIGN §2), above `auth`, whose
operations (`invite_user`, `send_invitation`, role grants) they call: they need the agencies to choose from.
"""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from csrn.agencies.models import Agency
from csrn.auth import operations as ops
from csrn.auth.forms import InviteForm, RolesForm
from csrn.clock import utcnow
from csrn.extensions import db, limiter
from csrn.forms import EmptyForm, redirect_after_post, render_form
from csrn.notify.operations import mail_configured
from csrn.roles import ADMIN, AGENCY_ADMIN, CHAIR, ROLE_LABELS, ROLES
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
    return render_template(template, page=page, search=search)


def _agency_choices(actor) -> list[tuple[int, str]]:
    if actor.has_role(ADMIN, CHAIR):
        agencies = db.session.scalars(db.select(Agency).order_by(Agency.name)).all()
        choices = [(a.id, a.name) for a in agencies]
        if actor.has_role(ADMIN):
            choices.insert(0, (0, "— no agency (administrators only) —"))
        return choices
    return [(actor.agency_id, actor.agency.name)] if actor.agency else []


@bp.route("/invite", methods=["GET", "POST"])
@roles_required(*MANAGERS)
@limiter.limit("30 per hour", methods=["POST"], key_func=lambda: f"invite:{current_user.get_id()}")
def invite():
    """Invite a person by e-mail; without SMTP the inviter is shown the link once."""
    actor = _me()
    form = InviteForm()
    form.agency_id.choices = _agency_choices(actor)
    if request.method == "GET" and actor.agency_id:
        form.agency_id.data = actor.agency_id
    agency_id = form.agency_id.data or None
    grantable = ops.grantable_roles(actor, agency_id) if request.method == "POST" else (
        ops.grantable_roles(actor, actor.agency_id) | (set(ROLES) if actor.has_role(ADMIN) else set())
    )
    form.roles.choices = _role_choices(grantable or ops.GRANTABLE_BY_AGENCY_ADMIN)
    if form.validate_on_submit():
        try:
            user, link = ops.invite_user(actor, form.email.data, form.name.data, agency_id, form.roles.data, utcnow())
        except ops.NotAllowed as exc:
            db.session.rollback()
            form.roles.errors = [str(exc)]
        except ValueError as exc:
            db.session.rollback()
            form.email.errors = [str(exc)]
        else:
            return render_template("users/invited.html", invited=user,
                                   link=None if mail_configured() else link)
    return render_form("users/invite.html", form)


@bp.get("/<int:user_id>")
@roles_required(*MANAGERS)
def show(user_id: int):
    """Show a user with the changes the actor may make."""
    actor = _me()
    target = ops.get_user_for_management_or_404(user_id, actor)
    grantable = ops.grantable_roles(actor, target.agency_id)
    form = RolesForm()
    form.roles.choices = _role_choices(grantable)
    form.roles.data = [role for role in target.roles if role in grantable]
    return render_template(
        "users/show.html", target=target, form=form, can_change=ops.can_change(actor, target),
        fixed_roles=[ROLE_LABELS[r] for r in ROLES if r in target.roles - grantable],
        empty=EmptyForm(), is_admin=actor.has_role(ADMIN),
    )


@bp.post("/<int:user_id>/roles")
@roles_required(*MANAGERS)
def change_roles(user_id: int):
    """Save a user's roles (only roles the actor may grant can change)."""
    actor = _me()
    target = ops.get_user_for_management_or_404(user_id, actor)
    form = RolesForm()
    form.roles.choices = _role_choices(ops.grantable_roles(actor, target.agency_id))
    if form.validate_on_submit():
        try:
            ops.set_roles(actor, target, form.roles.data, utcnow())
        except (ops.NotAllowed, ValueError) as exc:
            db.session.rollback()
            form.roles.errors = [str(exc)]
        else:
            flash("Roles saved.", "success")
            return redirect_after_post(url_for("users.show", user_id=target.id))
    return render_form("users/show.html", form, target=target, can_change=ops.can_change(actor, target),
                       fixed_roles=[], empty=EmptyForm(), is_admin=actor.has_role(ADMIN))


ACTIONS = {
    "deactivate": ("Deactivate this account?", "They are logged out everywhere at once and cannot log in.",
                   "Deactivate", ops.deactivate, "Account deactivated."),
    "reactivate": ("Reactivate this account?", "They will be able to log in again.",
                   "Reactivate", ops.reactivate, "Account reactivated."),
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
                if not ops.can_change(actor, target):
                    raise ops.NotAllowed("You may not invite this person.")
                link = ops.resend_invitation(actor, target, utcnow())
                return render_template("users/invited.html", invited=target,
                                       link=None if mail_configured() else link)
            operation(actor, target, utcnow())
        except ops.NotAllowed as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("users.show", user_id=target.id)), 303
        flash(done, "success")
        return redirect_after_post(url_for("users.show", user_id=target.id))
    return render_template("account/confirm.html", form=form, title=title, text=text, button=button,
                           action=url_for("users.act", user_id=target.id, action=action), subject=target)
