"""The admin settings page."""

from flask import flash, request, url_for
from flask_login import current_user

from csrn.clock import utcnow
from csrn.concurrency import StaleEdit
from csrn.forms import redirect_after_post, render_form
from csrn.roles import ADMIN
from csrn.security import roles_required
from csrn.settings import bp
from csrn.settings.forms import SettingsForm
from csrn.settings.operations import get_settings, update_settings

FIELDS = ("name", "timezone", "fallback_phone", "emergency_minutes", "urgent_hours",
          "routine_business_hours", "retention_days")


@bp.route("/", methods=["GET", "POST"])
@roles_required(ADMIN)
def edit():
    """Show and save the run-time settings."""
    settings = get_settings()
    form = SettingsForm()
    if request.method == "GET":
        form.process(obj=settings)
        form.counties.data = "\n".join(settings.counties)
    elif form.validate_on_submit():
        values = {name: getattr(form, name).data for name in FIELDS}
        values["counties"] = form.county_list()
        try:
            update_settings(current_user, values, form.version.data, utcnow())
        except StaleEdit as exc:
            form.version.errors = [str(exc)]
            return render_form("settings/edit.html", form)
        flash("Settings saved.", "success")
        return redirect_after_post(url_for("settings.edit"))
    return render_form("settings/edit.html", form)
