"""Login (with the second factor), logout, invitations and password resets."""

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from csrn.audit import operations as audit
from csrn.auth import bp, devices, lockout, sessions, tokens, twofactor
from csrn.auth import operations as ops
from csrn.auth.forms import CodeForm, LoginForm, NewPasswordForm, ResetRequestForm
from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.extensions import db, limiter
from csrn.forms import render_form
from csrn.security import safe_next

LOCKED_MESSAGE = (
    "Too many failed attempts for this account from this address. Wait 15 minutes and try again, "
    "or reset your password."
)
PENDING_KEY = "pending_2fa"


def _address() -> str:
    return request.remote_addr or "unknown"


def complete_login(user: User, next_url: str | None):
    """Start a brand-new session for the user and send them on."""
    now = utcnow()
    session.clear()  # a new session at login: nothing carried over from before
    login_user(user)
    sessions.start(user, now)
    user.last_login_at = now
    audit.record(user, "auth.login", user, now=now)
    db.session.commit()
    response = redirect(safe_next(next_url))
    devices.remember(response, user.id)  # this browser is now known to the account (SECURITY A4)
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def login():
    """Show the login form and check the password; the second factor follows when enrolled."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    status_override = None
    if form.validate_on_submit():
        email, address, now = form.email.data, _address(), utcnow()
        # A browser that logged in to this account before counts against its own limit only (OWASP device cookies).
        device = devices.device_for(email)
        locked = lockout.is_device_locked("login", device) if device else lockout.is_locked("login", email, address)
        if locked:
            form.form_errors.append(LOCKED_MESSAGE)
            status_override = 429
        else:
            user = ops.authenticate(email, form.password.data, now)
            if user is None:
                if device:
                    lockout.record_device_failure("login", device)
                else:
                    lockout.record_failure("login", email, address)
                form.form_errors.append("The e-mail address or password is not right.")
            elif user.has_two_factor:
                session.clear()
                session[PENDING_KEY] = {"user": user.id, "version": user.session_version,
                                        "at": now.timestamp()}
                return redirect(url_for("auth.login_code", next=safe_next(request.args.get("next"))))
            else:
                return complete_login(user, request.args.get("next"))
        form.password.data = ""
    body, status = render_form(
        "auth/login.html", form, demo_mode=not current_app.config["CSRN_REQUIRE_2FA"]
    )
    return body, status_override or status


def _pending_user(now) -> User | None:
    pending = session.get(PENDING_KEY)
    if not pending or now.timestamp() - pending.get("at", 0) > 300:
        return None
    user = db.session.get(User, pending.get("user"))
    if user is None or not user.active or user.session_version != pending.get("version"):
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def login_code():
    """Ask for the second factor after a correct password."""
    now = utcnow()
    user = _pending_user(now)
    if user is None:
        session.pop(PENDING_KEY, None)
        flash("Please log in again.", "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    status_override = None
    if form.validate_on_submit():
        if lockout.is_locked("code", user.email, _address()):
            form.form_errors.append(LOCKED_MESSAGE)
            status_override = 429
        elif twofactor.verify_second_factor(user, form.code.data, now):
            return complete_login(user, request.args.get("next"))
        else:
            lockout.record_failure("code", user.email, _address())
            audit.record(user, "auth.second_factor_failed", user, now=now)
            db.session.commit()
            form.form_errors.append("That code is not right, or it has been used already.")
        form.code.data = ""
    body, status = render_form("auth/login_code.html", form)
    return body, status_override or status


@bp.post("/logout")
@login_required
def logout():
    """Log out, ending every session of this user, and clear the browser's data for the site.

    Clear-Site-Data names no "cookies": that would also erase the device cookie (SECURITY A4, HD1); the session
    cookie is expired explicitly instead (and is dead on the server already)."""
    ops.logout(current_user._get_current_object(), utcnow())
    logout_user()
    session.clear()
    response = redirect(url_for("auth.login"))
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    config = current_app.config
    session.modified = False  # the expiry below is the one Set-Cookie for the session cookie, not a second
    response.delete_cookie(config["SESSION_COOKIE_NAME"], path=config.get("SESSION_COOKIE_PATH") or "/",
                           domain=config.get("SESSION_COOKIE_DOMAIN"), secure=config["SESSION_COOKIE_SECURE"],
                           httponly=True, samesite=config["SESSION_COOKIE_SAMESITE"])
    return response


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def accept_invitation(token: str):
    """Let an invited person choose their password (the link works once)."""
    now = utcnow()
    found = tokens.find_valid("invite", token, now)
    if found is None:
        return render_template("auth/link_invalid.html", what="invitation"), 404
    form = NewPasswordForm()
    form.user_inputs = ops.password_inputs(found.user)
    if form.validate_on_submit():
        try:
            user = ops.accept_invitation(found, form.password.data, now)
        except ops.NotAllowed as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            flash("Your password is set. Welcome to CSRN.", "success")
            return complete_login(user, url_for("dashboard.index"))
    return render_form("auth/accept_invitation.html", form, invited=found.user)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def reset_request():
    """Ask for a reset link; the answer never says whether the e-mail is known."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        email = form.email.data
        if not lockout.is_locked("reset", email, _address()):
            lockout.record_failure("reset", email, _address())  # every request counts
            ops.request_password_reset(email, utcnow())
        return render_template("auth/reset_sent.html")
    return render_form("auth/reset_request.html", form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def reset_password(token: str):
    """Choose a new password from a reset link; then log in again, second factor included."""
    now = utcnow()
    found = tokens.find_valid("reset", token, now)
    if found is None:
        return render_template("auth/link_invalid.html", what="reset"), 404
    form = NewPasswordForm()
    form.user_inputs = ops.password_inputs(found.user)
    if form.validate_on_submit():
        try:
            ops.reset_password(found, form.password.data, now)
        except ops.NotAllowed as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            session.clear()
            flash("Your password has been changed. Log in with it now.", "success")
            return redirect(url_for("auth.login"))
    return render_form("auth/reset_password.html", form)


@bp.before_app_request
def require_enrolment():
    """When two-factor is required, a user without it reaches nothing but enrolment and logout."""
    if not current_app.config.get("CSRN_REQUIRE_2FA"):
        return None
    if request.endpoint in ENROLMENT_ENDPOINTS or not current_user.is_authenticated:
        return None
    if current_user.has_two_factor:
        return None
    g.enrolment_required = True
    if getattr(request, "htmx", False):  # a full page load, never the enrolment page swapped into a fragment
        response = current_app.response_class("", status=401)
        response.headers["HX-Redirect"] = url_for("account.two_factor_setup")
        return response
    return redirect(url_for("account.two_factor_setup"))


ENROLMENT_ENDPOINTS = {
    "static", "health.healthz", "auth.logout", "account.two_factor_setup", "account.two_factor_qr",
    "account.recovery_codes_shown",
    "account.reauthenticate",  # enrolment from a stale session asks for the password first (A8)
}
