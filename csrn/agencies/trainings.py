"""Training courses and certificates at /trainings."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from csrn.agencies import operations as ops
from csrn.agencies.forms import CertificateForm, CourseForm, RejectForm
from csrn.agencies.models import CERTIFICATE_STATES, TrainingCourse
from csrn.auth.models import User
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.forms import EmptyForm, redirect_after_post, render_form
from csrn.roles import AGENCY_ADMIN, CHAIR
from csrn.routing import requested_page
from csrn.security import roles_required
from csrn.uploads import UploadRefused, save_upload, send_stored

bp = Blueprint("trainings", __name__, url_prefix="/trainings")
COURSE_FIELDS = ("name", "description", "hours", "valid_months", "is_core", "active")


@bp.get("/")
@login_required
def index():
    """List the courses; chairs and agency admins also reach certificates from here."""
    courses = db.session.scalars(select(TrainingCourse).order_by(TrainingCourse.is_core.desc(),
                                                                 TrainingCourse.name)).all()
    pending = None
    if current_user.has_role(CHAIR):
        pending = len(db.session.scalars(ops.certificates_query(current_user, "pending")).all())
    return render_template("trainings/index.html", courses=courses, pending=pending)


def _get_course_or_404(course_id: int) -> TrainingCourse:
    course = db.session.get(TrainingCourse, course_id)
    if course is None:
        abort(404)
    return course


@bp.route("/courses/new", methods=["GET", "POST"], defaults={"course_id": None})
@bp.route("/courses/<int:course_id>/edit", methods=["GET", "POST"])
@roles_required(CHAIR)
def edit_course(course_id: int | None):
    """Create or edit a course (chairs)."""
    course = _get_course_or_404(course_id) if course_id else None
    form = CourseForm(obj=course) if request.method == "GET" and course else CourseForm()
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in COURSE_FIELDS}
        existing = db.session.scalar(select(TrainingCourse).where(TrainingCourse.name == values["name"]))
        if existing is not None and existing is not course:
            form.name.errors = ["A course with this name already exists."]
        else:
            ops.save_course(current_user, course, values, utcnow())
            flash("Course saved.", "success")
            return redirect_after_post(url_for("trainings.index"))
    return render_form("trainings/course_form.html", form, course=course)


@bp.get("/certificates")
@roles_required(AGENCY_ADMIN, CHAIR)
def certificates():
    """Certificates in the viewer's scope; chairs filter for the pending ones to verify."""
    status = request.args.get("status", "")
    status = status if status in CERTIFICATE_STATES else ""
    page = db.paginate(ops.certificates_query(current_user, status), page=requested_page(),
                       per_page=25, error_out=False)
    return render_template("trainings/certificates.html", page=page, status=status, states=CERTIFICATE_STATES)


def _people_for(actor) -> list[User]:
    query = select(User).where(User.active.is_(True), User.agency_id.is_not(None)).order_by(User.name)
    if not actor.has_role(CHAIR):
        query = query.where(User.agency_id == actor.agency_id)
    return db.session.scalars(query).all()


@bp.route("/certificates/new", methods=["GET", "POST"])
@roles_required(AGENCY_ADMIN, CHAIR)
def record_certificate():
    """Record a completion for a person of the agency (pending until a chair verifies it)."""
    actor = current_user._get_current_object()
    people = {user.id: user for user in _people_for(actor)}
    courses = {course.id: course for course in db.session.scalars(
        select(TrainingCourse).where(TrainingCourse.active.is_(True)).order_by(TrainingCourse.name))}
    form = CertificateForm()
    form.user_id.choices = [(uid, f"{u.name} ({u.agency.name if u.agency else '—'})") for uid, u in people.items()]
    form.course_id.choices = [(cid, c.name + (" — core" if c.is_core else "")) for cid, c in courses.items()]
    if form.validate_on_submit():
        if form.completed_on.data > ops.local_date(utcnow()):
            form.completed_on.errors = ["The completion date cannot be in the future."]
        else:
            stored = None
            upload = form.document.data
            try:
                if upload and upload.filename:
                    stored = save_upload(upload)
            except UploadRefused as exc:
                form.document.errors = [str(exc)]
            else:
                ops.record_certificate(actor, people[form.user_id.data], courses[form.course_id.data],
                                       form.completed_on.data, form.certificate_number.data, stored, utcnow())
                flash("Certificate recorded. A chair will verify it.", "success")
                return redirect_after_post(url_for("trainings.certificates"))
    return render_form("trainings/certificate_form.html", form)


@bp.get("/certificates/<int:certificate_id>")
@login_required
def certificate(certificate_id: int):
    """One certificate, with the chair's verify and reject actions (404 outside its scope, SECURITY AC1)."""
    item = ops.get_certificate_or_404(certificate_id, current_user)
    return render_template("trainings/certificate.html", certificate=item, form=EmptyForm(),
                           is_chair=current_user.has_role(CHAIR))


@bp.post("/certificates/<int:certificate_id>/verify")
@roles_required(CHAIR)
def verify_certificate(certificate_id: int):
    """Verify a pending certificate (chairs)."""
    item = ops.get_certificate_or_404(certificate_id, current_user)
    try:
        ops.decide_certificate(current_user, item, True, "", utcnow())
    except ops.TransitionRefused as exc:
        flash(str(exc), "error")
    else:
        flash("Certificate verified.", "success")
    return redirect(url_for("trainings.certificate", certificate_id=item.id), code=303)


@bp.route("/certificates/<int:certificate_id>/reject", methods=["GET", "POST"])
@roles_required(CHAIR)
def reject_certificate(certificate_id: int):
    """Reject a pending certificate with a reason (chairs)."""
    item = ops.get_certificate_or_404(certificate_id, current_user)
    form = RejectForm()
    if form.validate_on_submit():
        try:
            ops.decide_certificate(current_user, item, False, form.reason.data, utcnow())
        except ops.TransitionRefused as exc:
            form.reason.errors = [str(exc)]
        else:
            flash("Certificate rejected.", "success")
            return redirect_after_post(url_for("trainings.certificate", certificate_id=item.id))
    return render_form("trainings/reject.html", form, certificate=item)


@bp.get("/certificates/<int:certificate_id>/file")
@login_required
def certificate_file(certificate_id: int):
    """Download a certificate's file (an attachment), for those who may see the certificate."""
    item = ops.get_certificate_or_404(certificate_id, current_user)
    if not item.file_name:
        abort(404)
    try:
        return send_stored(item.file_name, item.file_original_name, item.file_mime)
    except FileNotFoundError:
        abort(404)
