"""Agency list, profile, create and edit."""

from flask import current_app, flash, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from csrn.agencies import bp
from csrn.agencies import operations as ops
from csrn.agencies.forms import CHAIR_FIELDS, PROFILE_FIELDS, AgencyForm, AgencyProfileForm
from csrn.agencies.models import AGENCY_TYPES, MEMBERSHIP_STATUSES
from csrn.auth.models import CHAIR
from csrn.clock import utcnow
from csrn.concurrency import StaleEdit
from csrn.extensions import db
from csrn.forms import redirect_after_post, render_form
from csrn.security import roles_required
from csrn.settings.operations import get_settings


@bp.get("/")
@login_required
def index():
    """List agencies, searchable by name and filterable by status and type."""
    search = request.args.get("q", "", type=str)[:200]
    status = request.args.get("status", "", type=str)
    agency_type = request.args.get("type", "", type=str)
    status = status if status in MEMBERSHIP_STATUSES else ""
    agency_type = agency_type if agency_type in AGENCY_TYPES else ""
    page = db.paginate(
        ops.agency_list_query(search.replace("\x00", ""), status, agency_type),
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PER_PAGE"],
        error_out=False,
    )
    template = "agencies/_list.html" if request.htmx else "agencies/index.html"
    return render_template(
        template,
        page=page,
        search=search,
        status=status,
        agency_type=agency_type,
        statuses=MEMBERSHIP_STATUSES,
        types=AGENCY_TYPES,
    )


@bp.get("/<int:agency_id>")
@login_required
def show(agency_id: int):
    """Show an agency's profile."""
    agency = ops.get_agency_or_404(agency_id)
    return render_template(
        "agencies/show.html",
        agency=agency,
        can_edit=ops.can_edit_profile(current_user, agency),
        show_notes=ops.can_see_internal_notes(current_user, agency),
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(CHAIR)
def create():
    """Create an agency (chairs only)."""
    form = AgencyForm()
    form.set_counties(get_settings().counties)
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in CHAIR_FIELDS}
        agency = ops.create_agency(current_user, values, utcnow())
        flash(f"Agency “{agency.name}” created.", "success")
        return redirect_after_post(url_for("agencies.show", agency_id=agency.id))
    return render_form("agencies/form.html", form, agency=None)


@bp.route("/<int:agency_id>/edit", methods=["GET", "POST"])
@login_required
def edit(agency_id: int):
    """Edit an agency: chairs every field, an agency admin their own agency's profile."""
    agency = ops.get_agency_for_edit_or_404(agency_id, current_user)
    full = ops.can_edit_everything(current_user)
    form_class, fields = (AgencyForm, CHAIR_FIELDS) if full else (AgencyProfileForm, PROFILE_FIELDS)
    form = form_class(obj=agency) if request.method == "GET" else form_class()
    form.set_counties(get_settings().counties)
    if request.method == "POST" and form.validate_on_submit():
        values = {name: getattr(form, name).data for name in fields}
        try:
            ops.update_agency(current_user, agency, values, form.version.data, utcnow())
        except (StaleEdit, StaleDataError):
            db.session.rollback()
            form.form_errors.append(StaleEdit.message)
            return render_form("agencies/form.html", form, agency=agency, stale=True)
        flash("Agency saved.", "success")
        return redirect_after_post(url_for("agencies.show", agency_id=agency.id))
    return render_form("agencies/form.html", form, agency=agency)
