"""Agency list, profile, create and edit."""

from flask import abort, current_app, flash, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from csrn.agencies import bp
from csrn.agencies import operations as ops
from csrn.agencies.forms import (
    AGREEMENT_FIELDS,
    CHAIR_FIELDS,
    PROFILE_FIELDS,
    AgencyCreateForm,
    AgencyForm,
    AgencyProfileForm,
    AgreementForm,
    MembershipForm,
)
from csrn.agencies.models import AGENCY_TYPES, MEMBERSHIP_STATUSES
from csrn.agencies.profile import profile_sections
from csrn.audit import operations as audit
from csrn.auth.sessions import fresh_login_required
from csrn.clock import utcnow
from csrn.concurrency import StaleEdit
from csrn.exports import csv_response
from csrn.extensions import db
from csrn.forms import redirect_after_post, render_form
from csrn.roles import CHAIR
from csrn.routing import requested_page
from csrn.security import roles_required
from csrn.settings.operations import get_settings
from csrn.uploads import UploadRefused, save_upload, send_stored


def _form_template() -> str:
    """The whole page, or only the form area when htmx swaps it in place."""
    return "agencies/_form.html" if request.htmx else "agencies/form.html"


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
        page=requested_page(),
        per_page=current_app.config["PER_PAGE"],
        error_out=False,
    )
    template = "agencies/_list.html" if request.htmx else "agencies/index.html"
    overview = ops.overview_rows(page.items, utcnow()) if current_user.has_role(CHAIR) else None
    return render_template(
        template,
        page=page,
        overview=overview,
        search=search,
        status=status,
        agency_type=agency_type,
        statuses=MEMBERSHIP_STATUSES,
        types=AGENCY_TYPES,
    )


@bp.get("/<int:agency_id>")
@login_required
def show(agency_id: int):
    """Show an agency's profile, with the sections other modules register (its services and locations)."""
    agency = ops.get_agency_or_404(agency_id)
    now = utcnow()
    certified, agreement_current = ops.standing(agency, now)
    return render_template(
        "agencies/show.html",
        agency=agency,
        now=now,
        sections=profile_sections(agency, current_user, now),
        certified=certified,
        agreement_current=agreement_current,
        history=ops.membership_history(agency),
        is_chair=current_user.has_role(CHAIR),
        can_see_agreement_file=ops.can_see_internal_notes(current_user, agency),
        can_edit=ops.can_edit_profile(current_user, agency),
        show_notes=ops.can_see_internal_notes(current_user, agency),
        show_reasons=ops.can_see_membership_reasons(current_user, agency),
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(CHAIR)
def create():
    """Create an agency (chairs only)."""
    form = AgencyCreateForm()
    form.set_counties(get_settings().counties)
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in (*CHAIR_FIELDS, "membership_status")}
        agency = ops.create_agency(current_user, values, utcnow())
        flash(f"Agency “{agency.name}” created.", "success")
        return redirect_after_post(url_for("agencies.show", agency_id=agency.id))
    return render_form(_form_template(), form, agency=None)


@bp.route("/<int:agency_id>/edit", methods=["GET", "POST"])
@login_required
def edit(agency_id: int):
    """Edit an agency: chairs every field, an agency admin their own agency's profile."""
    agency = ops.get_agency_for_edit_or_404(agency_id, current_user)
    full = ops.can_edit_everything(current_user)
    form_class, fields = (AgencyForm, CHAIR_FIELDS) if full else (AgencyProfileForm, PROFILE_FIELDS)
    form = form_class(obj=agency) if request.method == "GET" else form_class()
    form.set_counties(get_settings().counties, stored=agency.county)
    if request.method == "POST" and form.validate_on_submit():
        values = {name: getattr(form, name).data for name in fields}
        try:
            ops.update_agency(current_user, agency, values, form.version.data, utcnow())
        except (StaleEdit, StaleDataError):
            db.session.rollback()
            form.form_errors.append(StaleEdit.message)
            return render_form(_form_template(), form, agency=agency, stale=True)
        flash("Agency saved.", "success")
        return redirect_after_post(url_for("agencies.show", agency_id=agency.id))
    return render_form(_form_template(), form, agency=agency)


@bp.route("/<int:agency_id>/membership", methods=["GET", "POST"])
@roles_required(CHAIR)
def membership(agency_id: int):
    """Move an agency through the membership workflow, saying why (chairs)."""
    agency = ops.get_agency_or_404(agency_id)
    form = MembershipForm()
    form.to_status.choices = [(key, MEMBERSHIP_STATUSES[key]) for key in ops.TRANSITIONS[agency.membership_status]]
    if form.validate_on_submit():
        try:
            ops.change_membership(current_user, agency, form.to_status.data, form.reason.data, utcnow())
        except ops.TransitionRefused as exc:
            form.to_status.errors = [str(exc)]
        else:
            flash(f"{agency.name} is now {agency.status_label.lower()}.", "success")
            return redirect_after_post(url_for("agencies.show", agency_id=agency.id))
    return render_form("agencies/membership.html", form, agency=agency, history=ops.membership_history(agency))


@bp.route("/<int:agency_id>/agreement", methods=["GET", "POST"])
@roles_required(CHAIR)
def agreement(agency_id: int):
    """Record the agency's referral agreement with the task force (chairs)."""
    agency = ops.get_agency_or_404(agency_id)
    form = AgreementForm(obj=agency) if request.method == "GET" else AgreementForm()
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in AGREEMENT_FIELDS}
        upload = form.document.data
        try:
            if upload and upload.filename:
                stored = save_upload(upload)
                values.update(mou_file_name=stored.name, mou_file_original_name=stored.original_name,
                              mou_file_mime=stored.mime)
        except UploadRefused as exc:
            form.document.errors = [str(exc)]
        else:
            ops.update_agreement(current_user, agency, values, utcnow())
            flash("Referral agreement saved.", "success")
            return redirect_after_post(url_for("agencies.show", agency_id=agency.id))
    return render_form("agencies/agreement.html", form, agency=agency)


@bp.get("/<int:agency_id>/agreement/document")
@login_required
def agreement_document(agency_id: int):
    """Download the signed agreement: chairs, administrators and the agency's own admins."""
    agency = ops.get_agency_or_404(agency_id)
    if not ops.can_see_internal_notes(current_user, agency) or not agency.mou_file_name:
        abort(404)
    try:
        return send_stored(agency.mou_file_name, agency.mou_file_original_name, agency.mou_file_mime)
    except FileNotFoundError:
        abort(404)


@bp.get("/export.csv")
@roles_required(CHAIR)
@fresh_login_required
def export_csv():
    """Download the chair's overview as CSV (re-authentication first: a bulk export)."""
    now = utcnow()
    agencies = db.session.scalars(ops.agency_list_query()).all()
    rows = ops.overview_rows(agencies, now)
    header = ["name", "type", "county", "membership_status", "certified", "certified_users",
              "next_certificate_expiry", "agreement_signed", "agreement_renewal", "agreement_current",
              "losing_certification_within_30_days"]
    body = [
        [a.name, a.type_label, a.county, a.status_label, rows[a.id]["certified"], rows[a.id]["certified_users"],
         rows[a.id]["next_expiry"] or "", a.mou_signed_on or "", a.mou_renewal_on or "",
         rows[a.id]["agreement_current"], rows[a.id]["losing_certification"]]
        for a in agencies
    ]
    audit.record(current_user, "agency.export_csv", object_type="agency", fields=header, now=now)
    db.session.commit()
    return csv_response("agencies.csv", header, body)
