"""`/account`: password, e-mail, two-factor, recovery codes and active sessions."""


from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user

from csrn.audit import operations as audit
from csrn.auth import operations as ops
from csrn.auth import sessions, tokens, twofactor
from csrn.auth.forms import ChangeEmailForm, ChangePasswordForm, CodeForm, ReauthForm
from csrn.auth.models import UserSession
from csrn.auth.sessions import fresh_login_required
from csrn.clock import utcnow
from csrn.extensions import db, limiter
from csrn.forms import EmptyForm, redirect_after_post, render_form
from csrn.security import safe_next

bp = Blueprint("account", __name__, url_prefix="/account")


def _me():
    return current_user._get_current_object()


@bp.get("/")
@login_required
def index():
    """Show the account: details, two-factor, recovery codes and active sessions."""
    now = utcnow()
    return render_template(
        "account/index.html",
        active_sessions=sessions.active_for(_me(), now),
        this_session=g.get("user_session"),
        recovery_left=twofactor.remaining_recovery_codes(_me()) if current_user.has_two_factor else 0,
        form=EmptyForm(),
    )


@bp.route("/reauthenticate", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"])
def reauthenticate():
    """Ask for the password (and code) again before a sensitive change."""
    form = ReauthForm()
    if form.validate_on_submit():
        now = utcnow()
        user = _me()
        ok = ops.check_password(user, form.password.data)
        if ok and user.has_two_factor:
            ok = twofactor.verify_second_factor(user, form.code.data or "", now)
        if ok:
            sessions.mark_fresh(g.user_session, now)
            audit.record(user, "auth.reauthenticated", user, now=now)
            db.session.commit()
            return redirect(safe_next(request.args.get("next"), url_for("account.index")))
        audit.record(user, "auth.reauthentication_failed", user, now=now)
        db.session.commit()
        form.form_errors.append("That password or code is not right.")
    return render_form("account/reauthenticate.html", form)


@bp.route("/password", methods=["GET", "POST"])
@fresh_login_required
def change_password():
    """Change the password; every other session ends."""
    form = ChangePasswordForm()
    form.user_inputs = ops.password_inputs(_me())
    if form.validate_on_submit():
        user = _me()
        if not ops.check_password(user, form.current_password.data):
            form.current_password.errors = ["Your current password is not right."]
        else:
            ops.change_password(user, form.password.data, utcnow(), keep=g.user_session)
            login_user(user)  # this session carries on with the new session version
            flash("Your password has been changed. Your other sessions have been ended.", "success")
            return redirect_after_post(url_for("account.index"))
    return render_form("account/password.html", form)


@bp.route("/email", methods=["GET", "POST"])
@fresh_login_required
def change_email():
    """Change the login e-mail address."""
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            ops.change_email(_me(), form.email.data, utcnow())
        except ValueError as exc:
            db.session.rollback()
            form.email.errors = [str(exc)]
        else:
            flash("Your e-mail address has been changed.", "success")
            return redirect_after_post(url_for("account.index"))
    return render_form("account/email.html", form)


@bp.route("/two-factor", methods=["GET", "POST"])
@fresh_login_required  # a first enrolment too: whoever holds a stale session must not bind their own phone (A8)
def two_factor_setup():
    """Enrol an authenticator app: scan the QR code or type the secret, then confirm a code."""
    user = _me()
    now = utcnow()
    if user.totp_pending_secret is None:
        user.totp_pending_secret = twofactor.new_secret()  # session bookkeeping for this enrolment
        db.session.commit()
    form = CodeForm()
    if form.validate_on_submit():
        if twofactor.verify_totp(user, form.code.data, now, secret=user.totp_pending_secret):
            replacing = user.has_two_factor
            twofactor.enable(user, now)
            codes = twofactor.new_recovery_codes(user, now)
            if replacing:
                sessions.end_all(user, now, keep=g.user_session)
            sessions.keep_codes_to_show(g.user_session, codes)
            audit.record(user, "account.second_factor_enrolled", user, fields=["totp_secret"], now=now)
            db.session.commit()
            login_user(user)
            return redirect(url_for("account.recovery_codes_shown"))
        form.code.errors = ["That code is not right. Check the time on your phone and try the newest code."]
    secret = user.totp_pending_secret
    return render_form(
        "account/two_factor_setup.html",
        form,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        required=bool(current_app.config["CSRN_REQUIRE_2FA"]) and not user.has_two_factor,
    )


@bp.get("/two-factor/qr.svg")
@fresh_login_required  # it shows the pending secret, as the set-up page does
def two_factor_qr():
    """The pending enrolment's QR code, drawn on the server."""
    user = _me()
    if user.totp_pending_secret is None:
        abort(404)
    svg = twofactor.qr_svg(twofactor.provisioning_uri(user, user.totp_pending_secret))
    response = make_response(svg)
    response.headers["Content-Type"] = "image/svg+xml"
    return response


@bp.get("/two-factor/recovery-codes")
@login_required
def recovery_codes_shown():
    """Show freshly made recovery codes once."""
    codes = sessions.take_codes_to_show(g.get("user_session"))
    if not codes:
        return redirect(url_for("account.index"))
    db.session.commit()  # gone from the server before the page leaves it
    return render_template("account/recovery_codes.html", codes=codes)


@bp.route("/two-factor/recovery-codes/new", methods=["GET", "POST"])
@fresh_login_required
def regenerate_recovery_codes():
    """Replace the recovery codes (the old ones stop working); GET asks for confirmation."""
    form = EmptyForm()
    if not current_user.has_two_factor:
        return redirect(url_for("account.two_factor_setup"))
    if form.validate_on_submit():
        now = utcnow()
        codes = twofactor.new_recovery_codes(_me(), now)
        sessions.keep_codes_to_show(g.user_session, codes)
        audit.record(_me(), "account.recovery_codes_regenerated", _me(), now=now)
        db.session.commit()
        return redirect(url_for("account.recovery_codes_shown"))
    return render_template("account/confirm.html", form=form,
                           title="Make new recovery codes?",
                           text="Your current recovery codes will stop working.",
                           action=url_for("account.regenerate_recovery_codes"), button="Make new codes")


def _own_session_or_404(session_id: int) -> UserSession:
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != current_user.id:
        abort(404)
    return row


@bp.route("/sessions/<int:session_id>/end", methods=["GET", "POST"])
@login_required
def end_session(session_id: int):
    """End one of your own sessions (another browser or device); GET asks for confirmation."""
    row = _own_session_or_404(session_id)
    form = EmptyForm()
    if form.validate_on_submit():
        now = utcnow()
        sessions.end_one(row, now)
        audit.record(_me(), "account.session_ended", row, now=now)
        db.session.commit()
        flash("That session has been ended.", "success")
        return redirect_after_post(url_for("account.index"))
    return render_template("account/confirm.html", form=form, title="End this session?",
                           text=f"The browser last seen from {row.ip or 'an unknown address'} will be logged out.",
                           action=url_for("account.end_session", session_id=row.id), button="End session")


@bp.route("/sessions/end-others", methods=["GET", "POST"])
@login_required
def end_other_sessions():
    """End every session but this one."""
    form = EmptyForm()
    if form.validate_on_submit():
        now = utcnow()
        user = _me()
        sessions.end_all(user, now, keep=g.user_session)
        tokens.revoke_all_access(user, now)  # calendar feeds too: another device may hold their addresses
        audit.record(user, "account.other_sessions_ended", user, now=now)
        db.session.commit()
        login_user(user)
        flash("Your other sessions have been ended.", "success")
        return redirect_after_post(url_for("account.index"))
    return render_template("account/confirm.html", form=form, title="Log out everywhere else?",
                           text="Every other browser and device logged in as you will be logged out, and your "
                                "calendar feeds stop.",
                           action=url_for("account.end_other_sessions"), button="End other sessions")
