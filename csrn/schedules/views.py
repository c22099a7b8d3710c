"""The task force's holiday list (chairs and administrators)."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length

from csrn.clock import utcnow
from csrn.forms import BaseForm, EmptyForm, render_form
from csrn.roles import ADMIN, CHAIR
from csrn.schedules import bp
from csrn.schedules import operations as ops
from csrn.security import roles_required


class HolidayForm(BaseForm):
    """A holiday: the date and its name."""

    day = DateField("Date", validators=[DataRequired()])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])


@bp.route("/holidays", methods=["GET", "POST"])
@roles_required(CHAIR, ADMIN)
def holidays():
    """List and add holidays; services closed on holidays and routine deadlines use them."""
    form = HolidayForm()
    if form.validate_on_submit():
        try:
            ops.add_holiday(current_user, form.day.data, form.name.data, utcnow())
        except ValueError as exc:
            form.day.errors = [str(exc)]
        else:
            flash("Holiday added.", "success")
            return redirect(url_for("schedules.holidays"), code=303)
    return render_form("schedules/holidays.html", form, items=ops.holidays(), delete_form=EmptyForm())


@bp.route("/holidays/<int:holiday_id>/delete", methods=["GET", "POST"])
@roles_required(CHAIR, ADMIN)
def delete_holiday(holiday_id: int):
    """Remove a holiday, after confirming."""
    holiday = ops.get_holiday_or_404(holiday_id)
    form = EmptyForm()
    if form.validate_on_submit():
        ops.remove_holiday(current_user, holiday, utcnow())
        flash("Holiday removed.", "success")
        return redirect(url_for("schedules.holidays"), code=303)
    return render_template("schedules/confirm_delete.html", form=form, holiday=holiday)
