"""Login and logout."""

from flask import current_app, redirect, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from csrn.auth import bp
from csrn.auth import operations as ops
from csrn.auth.forms import LoginForm
from csrn.clock import utcnow
from csrn.extensions import limiter
from csrn.forms import EmptyForm, render_form
from csrn.security import safe_next


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    """Show the login form and log a user in."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = ops.authenticate(form.email.data, form.password.data, utcnow())
        if user is not None:
            session.clear()  # a new session at login: nothing carried over from before
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
        form.form_errors.append("The e-mail address or password is not right.")
        form.password.data = ""
    demo_mode = not current_app.config["CSRN_REQUIRE_2FA"]
    return render_form("auth/login.html", form, demo_mode=demo_mode)


@bp.post("/logout")
@login_required
def logout():
    """Log out, ending every session of this user, and clear the browser's data for the site."""
    EmptyForm().validate_on_submit()  # CSRFProtect has already checked the token
    ops.logout(current_user._get_current_object(), utcnow())
    logout_user()
    session.clear()
    response = redirect(url_for("auth.login"))
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response
