"""Membership pages: the workflow, agreements, certificates and uploads (SECURITY V5), the chair's overview and CSV.

The views read the wall clock, so dates here are relative to the task force's today.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from csrn.agencies import operations as ops
from csrn.agencies.models import Agency, Certificate, MembershipChange, TrainingCourse
from csrn.auth.models import User, UserSession
from csrn.clock import utcnow
from csrn.directory import receiving
from csrn.extensions import db
from csrn.uploads import MAX_UPLOAD_BYTES
from tests.conftest import NOW, stored_files, task_force_today

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
HEX_NAME = re.compile(r"^[0-9a-f]{32}$")


def longdate(day: date) -> str:
    return day.strftime("%-d %B %Y")


def make_course(app, valid_months=12, is_core=True, name=None) -> int:
    with app.app_context():
        course = TrainingCourse(name=name or f"Course {uuid.uuid4().hex[:8]}", hours=8, valid_months=valid_months,
                                is_core=is_core, active=True, created_at=NOW)
        db.session.add(course)
        db.session.commit()
        return course.id


def make_certificate(app, user_id, course_id, completed_on, status="verified", expires_on="computed",
                     file_name=None, file_original_name="", file_mime="") -> int:
    with app.app_context():
        holder = db.session.get(User, user_id)
        course = db.session.get(TrainingCourse, course_id)
        certificate = Certificate(
            user_id=user_id, agency_id=holder.agency_id, course_id=course_id, completed_on=completed_on,
            expires_on=ops.expiry_for(course, completed_on) if expires_on == "computed" else expires_on,
            status=status, recorded_at=NOW, file_name=file_name, file_original_name=file_original_name,
            file_mime=file_mime,
        )
        db.session.add(certificate)
        db.session.commit()
        return certificate.id


def rename(app, user_id, name) -> None:
    with app.app_context():
        db.session.get(User, user_id).name = name
        db.session.commit()


def load(app, model, object_id):
    with app.app_context():
        row = db.session.get(model, object_id)
        db.session.expunge(row)
        return row


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def status_of(app, agency_id) -> str:
    return load(app, Agency, agency_id).membership_status


@pytest.fixture
def chair(app, login_as):
    b = login_as(roles=("chair",), agency_id=None)
    rename(app, b.user.id, "Cordelia Chairwoman")
    return b


# ----- the membership workflow -------------------------------------------------------------------

def test_chair_changes_status_and_the_history_shows_who_and_why(app, chair, create_agency, browser):
    """A change through the page is recorded and shown on the agency's profile with the chair's name and reason."""
    agency_id = create_agency(name="Tidewater Counseling", membership_status="prospect")
    form = chair.get(f"/agencies/{agency_id}/membership")
    assert form.status_code == 200
    assert 'value="applicant"' in form.get_data(as_text=True)
    assert 'value="member"' not in form.get_data(as_text=True)  # only allowed steps are offered
    response = chair.post(f"/agencies/{agency_id}/membership",
                          {"to_status": "applicant", "reason": "Application received at the May meeting"})
    assert response.status_code == 303
    assert status_of(app, agency_id) == "applicant"
    with app.app_context():
        change = db.session.scalar(select(MembershipChange).where(MembershipChange.agency_id == agency_id))
        assert (change.from_status, change.to_status, change.changed_by_id) == ("prospect", "applicant", chair.user.id)
        assert change.reason == "Application received at the May meeting"
        assert abs((change.changed_at - utcnow()).total_seconds()) < 120
    page = chair.get(f"/agencies/{agency_id}").get_data(as_text=True)
    history = page[page.index("Membership history"):]
    assert "prospect → applicant" in history
    assert "Cordelia Chairwoman" in history
    assert "Application received at the May meeting" in history


@pytest.mark.parametrize(("who", "sees_why"), [
    ("chair", True), ("own_agency_admin", True), ("own_staff", False), ("own_case_manager", False),
    ("other_agency_admin", False), ("other_staff", False), ("admin", False)])
def test_why_a_membership_changed_is_for_chairs_and_the_agencys_own_admins(app, chair, create_agency, login_as,
                                                                            who, sees_why):
    """The history itself is shared (who changed the status, when); the reason (why it was suspended) is shown to
    chairs and the agency's own agency admins only — not its staff, other agencies or administrators."""
    agency_id = create_agency(membership_status="member")
    reason = "Suspended after a complaint about a client's file"
    response = chair.post(f"/agencies/{agency_id}/membership", {"to_status": "suspended", "reason": reason})
    assert response.status_code == 303
    viewer = {
        "chair": lambda: chair,
        "own_agency_admin": lambda: login_as(roles=("agency_admin",), agency_id=agency_id),
        "own_staff": lambda: login_as(roles=("staff",), agency_id=agency_id),
        "own_case_manager": lambda: login_as(roles=("case_manager",), agency_id=agency_id),
        "other_agency_admin": lambda: login_as(roles=("agency_admin",)),
        "other_staff": lambda: login_as(roles=("staff",)),
        "admin": lambda: login_as(roles=("admin",), agency_id=None),
    }[who]()
    page = viewer.get(f"/agencies/{agency_id}").get_data(as_text=True)
    history = page[page.index("Membership history"):]
    assert "member → suspended" in history and "Cordelia Chairwoman" in history
    assert (reason.replace("'", "&#39;") in history) is sees_why
    assert (">Why</th>" in history) is sees_why


@pytest.mark.parametrize(("source", "target"), [("prospect", "member"), ("prospect", "in_training"),
                                                ("applicant", "member"), ("listed", "member"),
                                                ("member", "in_training"), ("prospect", "suspended")])
def test_forbidden_transition_through_the_page_is_refused(app, chair, create_agency, source, target):
    """A skipped step posted by hand answers 422 and changes nothing."""
    agency_id = create_agency(membership_status=source)
    response = chair.post(f"/agencies/{agency_id}/membership", {"to_status": target, "reason": "Skipping ahead"})
    assert response.status_code == 422
    assert status_of(app, agency_id) == source
    assert count(app, MembershipChange, MembershipChange.agency_id == agency_id) == 0


def test_reason_required_on_the_page(app, chair, create_agency):
    """No reason: 422, no change."""
    agency_id = create_agency(membership_status="prospect")
    response = chair.post(f"/agencies/{agency_id}/membership", {"to_status": "applicant", "reason": "   "})
    assert response.status_code == 422
    assert status_of(app, agency_id) == "prospect"
    assert count(app, MembershipChange, MembershipChange.agency_id == agency_id) == 0


def test_in_training_to_member_needs_a_current_verified_core_certificate(app, chair, create_agency, create_user):
    """Refused with a message without one (a pending one does not count), allowed once one is verified."""
    agency_id = create_agency(membership_status="in_training")
    holder = create_user(roles=("staff",), agency_id=agency_id)
    course_id = make_course(app)
    three_days_ago = task_force_today(app) - timedelta(days=3)
    certificate_id = make_certificate(app, holder.id, course_id, three_days_ago, status="pending")
    url = f"/agencies/{agency_id}/membership"
    response = chair.post(url, {"to_status": "member", "reason": "Training done"})
    assert response.status_code == 422
    assert "verified, current core trafficking certificate" in response.get_data(as_text=True)
    assert status_of(app, agency_id) == "in_training"
    verify = chair.post(f"/trainings/certificates/{certificate_id}/verify", page="/")
    assert verify.status_code == 303
    response = chair.post(url, {"to_status": "member", "reason": "Training done"})
    assert response.status_code == 303
    assert status_of(app, agency_id) == "member"


@pytest.mark.parametrize("roles", [("staff",), ("case_manager",), ("agency_admin",), ("admin",)])
def test_non_chairs_get_403_on_membership_and_agreement(app, login_as, create_agency, roles):
    """Even the agency's own admin cannot change its status or agreement."""
    agency_id = create_agency(membership_status="prospect")
    b = login_as(roles=roles, agency_id=agency_id)
    for url, data in [
        (f"/agencies/{agency_id}/membership", {"to_status": "applicant", "reason": "Self-promotion"}),
        (f"/agencies/{agency_id}/agreement", {"mou_signed_on": "2025-01-01", "mou_signatory": "Me",
                                              "mou_renewal_on": "2030-01-01"}),
    ]:
        assert b.get(url).status_code == 403
        assert b.post(url, data, page="/").status_code == 403
    agency = load(app, Agency, agency_id)
    assert agency.membership_status == "prospect" and agency.mou_signed_on is None


# ----- referral agreements -----------------------------------------------------------------------

@pytest.fixture
def certified_member(app, create_agency, create_user):
    """A certified member with a current agreement (signed a year ago, renewal in the future)."""
    now = task_force_today(app)
    agency_id = create_agency(name="Lighthouse Legal", membership_status="member",
                              mou_signed_on=now - timedelta(days=365), mou_renewal_on=now + timedelta(days=200))
    holder = create_user(roles=("staff",), agency_id=agency_id)
    make_certificate(app, holder.id, make_course(app, valid_months=None), now - timedelta(days=100))
    return agency_id


def test_lapsed_agreement_says_so_and_stops_referrals(app, chair, login_as, certified_member):
    """The day after the renewal date: the profile says the agreement lapsed and no referrals are offered."""
    now = task_force_today(app)
    with app.app_context():
        assert receiving.can_receive_referrals(db.session.get(Agency, certified_member), None, utcnow())
    page = login_as(roles=("staff",)).get(f"/agencies/{certified_member}").get_data(as_text=True)
    assert "lapsed" not in page
    with app.app_context():
        db.session.get(Agency, certified_member).mou_renewal_on = now  # the last valid day
        db.session.commit()
        assert receiving.can_receive_referrals(db.session.get(Agency, certified_member), None, utcnow())
    assert "lapsed" not in login_as(roles=("staff",)).get(f"/agencies/{certified_member}").get_data(as_text=True)
    with app.app_context():
        db.session.get(Agency, certified_member).mou_renewal_on = now - timedelta(days=1)
        db.session.commit()
        assert ops.is_certified(db.session.get(Agency, certified_member), utcnow())
        assert not receiving.can_receive_referrals(db.session.get(Agency, certified_member), None, utcnow())
    page = login_as(roles=("staff",)).get(f"/agencies/{certified_member}").get_data(as_text=True)
    assert "The referral agreement with the task force lapsed" in page
    assert "receives no referrals until it is renewed" in page
    overview = chair.get("/agencies/").get_data(as_text=True)
    row = overview[overview.index("Lighthouse Legal"):].split("</tr>")[0]
    assert "(lapsed)" in row


def test_chair_records_an_agreement_with_its_document(app, chair, create_agency, upload_dir):
    """The chair saves signing date, signatory, renewal and a PDF; the profile shows them."""
    now = task_force_today(app)
    agency_id = create_agency(membership_status="applicant")
    response = chair.post(f"/agencies/{agency_id}/agreement", {
        "mou_signed_on": (now - timedelta(days=10)).isoformat(), "mou_signatory": "Dana Director, ED",
        "mou_renewal_on": (now + timedelta(days=355)).isoformat(),
        "document": (io.BytesIO(PDF), "Signed MOU 2025.pdf"),
    })
    assert response.status_code == 303
    agency = load(app, Agency, agency_id)
    assert agency.mou_signatory == "Dana Director, ED"
    assert HEX_NAME.match(agency.mou_file_name) and agency.mou_file_mime == "application/pdf"
    assert stored_files(upload_dir) == [agency.mou_file_name]
    page = chair.get(f"/agencies/{agency_id}").get_data(as_text=True)
    assert "Dana Director, ED" in page and longdate(now + timedelta(days=355)) in page
    assert f"/agencies/{agency_id}/agreement/document" in page


def test_agreement_refuses_a_renamed_html_document(app, chair, create_agency, upload_dir):
    """The agreement upload is checked by content too: 422, nothing saved."""
    agency_id = create_agency(membership_status="applicant")
    response = chair.post(f"/agencies/{agency_id}/agreement", {
        "mou_signed_on": "2025-01-01", "mou_signatory": "Dana Director", "mou_renewal_on": "2030-01-01",
        "document": (io.BytesIO(HTML), "agreement.pdf"),
    })
    assert response.status_code == 422
    assert "Upload a PDF, PNG or JPEG file." in response.get_data(as_text=True)
    assert stored_files(upload_dir) == []
    agency = load(app, Agency, agency_id)
    assert agency.mou_signed_on is None and agency.mou_file_name is None


@pytest.fixture
def agreement_document(app, chair, create_agency, upload_dir):
    """An agency with a signed agreement document uploaded by a chair."""
    agency_id = create_agency(membership_status="member")
    response = chair.post(f"/agencies/{agency_id}/agreement", {
        "mou_signed_on": "2025-01-01", "mou_signatory": "Dana Director", "mou_renewal_on": "2030-01-01",
        "document": (io.BytesIO(PDF), "mou.pdf"),
    })
    assert response.status_code == 303
    return agency_id


def assert_attachment(response, body: bytes, mime: str) -> None:
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == mime
    assert response.get_data() == body


@pytest.mark.parametrize("who", ["chair", "admin", "own_agency_admin"])
def test_agreement_document_downloads_for_the_entitled(app, login_as, chair, agreement_document, who):
    """Chairs, administrators and the agency's own agency admins download it as an attachment with nosniff."""
    b = {"chair": lambda: chair, "admin": lambda: login_as(roles=("admin",), agency_id=None),
         "own_agency_admin": lambda: login_as(roles=("agency_admin",), agency_id=agreement_document)}[who]()
    response = b.get(f"/agencies/{agreement_document}/agreement/document")
    assert_attachment(response, PDF, "application/pdf")
    assert "mou.pdf" in response.headers["Content-Disposition"]


@pytest.mark.parametrize("who", ["own_staff", "own_case_manager", "other_agency_admin", "other_staff"])
def test_agreement_document_is_404_to_everyone_else(app, login_as, create_agency, agreement_document, who):
    """The agency's own staff and any other agency's users get a 404, and no link on the profile."""
    agency_id = {"own_staff": agreement_document, "own_case_manager": agreement_document}.get(who) or create_agency()
    roles = {"own_staff": ("staff",), "own_case_manager": ("case_manager",), "other_agency_admin": ("agency_admin",),
             "other_staff": ("staff",)}[who]
    b = login_as(roles=roles, agency_id=agency_id)
    assert b.get(f"/agencies/{agreement_document}/agreement/document").status_code == 404
    assert "/agreement/document" not in b.get(f"/agencies/{agreement_document}").get_data(as_text=True)


def test_agreement_document_missing_is_404(app, chair, create_agency):
    """No document on file: 404, even for a chair."""
    agency_id = create_agency()
    assert chair.get(f"/agencies/{agency_id}/agreement/document").status_code == 404


# ----- certificates and uploads (SECURITY V5) ------------------------------------------------------

@pytest.fixture
def certificate_world(app, create_agency, create_user, login_as):
    """Two agencies; an agency admin of the first and a staff member of it who took the core course."""
    first = create_agency(name="First Agency", membership_status="in_training")
    second = create_agency(name="Second Agency", membership_status="member")
    admin = login_as(roles=("agency_admin",), agency_id=first)
    holder = create_user(roles=("staff",), agency_id=first)
    outsider = create_user(roles=("staff",), agency_id=second)
    course_id = make_course(app, valid_months=12, name=f"Core Trafficking {uuid.uuid4().hex[:6]}")
    return {"first": first, "second": second, "admin": admin, "holder": holder, "outsider": outsider,
            "course_id": course_id}


def record(world, completed_on, document=None, user_id=None, admin=None):
    data = {"user_id": str(user_id or world["holder"].id), "course_id": str(world["course_id"]),
            "completed_on": completed_on.isoformat(), "certificate_number": "TX-2025-0042"}
    if document is not None:
        data["document"] = document
    return (admin or world["admin"]).post("/trainings/certificates/new", data)


def certificates_of(app, user_id) -> list[Certificate]:
    with app.app_context():
        rows = db.session.scalars(select(Certificate).where(Certificate.user_id == user_id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_agency_admin_records_a_pending_certificate(app, certificate_world, upload_dir):
    """The completion is recorded for the admin's own user, pending, with its expiry from the course."""
    completed = task_force_today(app) - timedelta(days=7)
    response = record(certificate_world, completed)
    assert response.status_code == 303
    [certificate] = certificates_of(app, certificate_world["holder"].id)
    assert certificate.status == "pending"
    assert certificate.agency_id == certificate_world["first"]
    assert certificate.recorded_by_id == certificate_world["admin"].user.id
    assert certificate.certificate_number == "TX-2025-0042"
    with app.app_context():
        course = db.session.get(TrainingCourse, certificate_world["course_id"])
        assert certificate.expires_on == ops.add_months(completed, 12) - timedelta(days=1) \
            == ops.expiry_for(course, completed)
        assert not ops.is_certified(db.session.get(Agency, certificate_world["first"]), utcnow())


def test_agency_admin_cannot_record_for_another_agencys_user(app, certificate_world, upload_dir):
    """Another agency's user id posted by hand: 422, nothing recorded."""
    week_ago = task_force_today(app) - timedelta(days=7)
    response = record(certificate_world, week_ago, user_id=certificate_world["outsider"].id)
    assert response.status_code == 422
    assert certificates_of(app, certificate_world["outsider"].id) == []


def test_a_future_completion_date_is_refused(app, certificate_world, upload_dir):
    """Tomorrow is refused with a message; today is fine."""
    response = record(certificate_world, task_force_today(app) + timedelta(days=1))
    assert response.status_code == 422
    assert "cannot be in the future" in response.get_data(as_text=True)
    assert certificates_of(app, certificate_world["holder"].id) == []
    assert record(certificate_world, task_force_today(app)).status_code == 303


@pytest.mark.parametrize("roles", [("staff",), ("case_manager",), ("admin",)])
def test_only_agency_admins_and_chairs_record(app, certificate_world, login_as, roles, upload_dir):
    """Staff, case managers and administrators cannot record completions."""
    b = login_as(roles=roles, agency_id=certificate_world["first"])
    assert b.get("/trainings/certificates/new").status_code == 403
    assert record(certificate_world, task_force_today(app), admin=b).status_code == 403
    assert certificates_of(app, certificate_world["holder"].id) == []


def test_renamed_html_is_refused_and_nothing_is_stored(app, certificate_world, upload_dir):
    """An HTML file named .pdf: 422 with a message, no certificate, no file."""
    response = record(certificate_world, task_force_today(app), document=(io.BytesIO(HTML), "certificate.pdf"))
    assert response.status_code == 422
    assert "Upload a PDF, PNG or JPEG file." in response.get_data(as_text=True)
    assert certificates_of(app, certificate_world["holder"].id) == []
    assert stored_files(upload_dir) == []


@pytest.mark.parametrize(("content", "filename", "mime", "stored_as"), [
    (PDF, "certificate.pdf", "application/pdf", "certificate.pdf"),
    (PNG, "scan.png", "image/png", "scan.png"),
    (JPEG, "photo.jpeg", "image/jpeg", "photo.jpg"),
    (PDF, "certificate.exe", "application/pdf", "certificate.pdf"),  # the content decides the type
])
def test_real_files_are_stored_under_a_random_name(app, certificate_world, upload_dir, content, filename, mime,
                                                   stored_as):
    """PDF, PNG and JPEG magic bytes accepted; kept under a random hex name in UPLOAD_FOLDER, not the original."""
    response = record(certificate_world, task_force_today(app), document=(io.BytesIO(content), filename))
    assert response.status_code == 303, response.get_data(as_text=True)[:1000]
    [certificate] = certificates_of(app, certificate_world["holder"].id)
    assert HEX_NAME.match(certificate.file_name)
    assert certificate.file_mime == mime
    assert certificate.file_original_name == stored_as
    assert stored_files(upload_dir) == [certificate.file_name]
    assert (upload_dir / certificate.file_name).read_bytes() == content
    assert filename not in stored_files(upload_dir)


def test_a_dot_dot_filename_is_harmless(app, certificate_world, upload_dir, tmp_path):
    """`../../etc/passwd` is only a display name: the file lands in UPLOAD_FOLDER under a random name."""
    response = record(certificate_world, task_force_today(app), document=(io.BytesIO(PDF), "../../etc/passwd"))
    assert response.status_code == 303
    [certificate] = certificates_of(app, certificate_world["holder"].id)
    assert stored_files(upload_dir) == [certificate.file_name]
    assert HEX_NAME.match(certificate.file_name)
    assert "/" not in certificate.file_original_name and ".." not in certificate.file_original_name
    assert certificate.file_original_name == "passwd.pdf"
    assert not (tmp_path / "etc").exists() and not (upload_dir.parent.parent / "etc").exists()
    download = certificate_world["admin"].get(f"/trainings/certificates/{certificate.id}/file")
    assert_attachment(download, PDF, "application/pdf")
    assert "/" not in download.headers["Content-Disposition"]


def test_over_5_mb_is_refused(app, certificate_world, upload_dir):
    """One byte over 5 MB (a valid PDF header) is refused with a message; exactly 5 MB is accepted."""
    too_big = PDF + b"0" * (MAX_UPLOAD_BYTES + 1 - len(PDF))
    response = record(certificate_world, task_force_today(app), document=(io.BytesIO(too_big), "big.pdf"))
    assert response.status_code == 422
    assert "larger than 5 MB" in response.get_data(as_text=True)
    assert certificates_of(app, certificate_world["holder"].id) == []
    assert stored_files(upload_dir) == []
    just_right = PDF + b"0" * (MAX_UPLOAD_BYTES - len(PDF))
    response = record(certificate_world, task_force_today(app), document=(io.BytesIO(just_right), "ok.pdf"))
    assert response.status_code == 303
    assert len(stored_files(upload_dir)) == 1


def test_the_request_size_is_capped(app):
    """MAX_CONTENT_LENGTH is set, above the per-file limit, so a huge body is cut off before parsing."""
    assert app.config["MAX_CONTENT_LENGTH"] and app.config["MAX_CONTENT_LENGTH"] >= MAX_UPLOAD_BYTES


@pytest.fixture
def certificate_with_file(app, certificate_world, upload_dir):
    """A recorded certificate with a PDF, in the first agency."""
    response = record(certificate_world, task_force_today(app), document=(io.BytesIO(PDF), "rosa-certificate.pdf"))
    assert response.status_code == 303
    [certificate] = certificates_of(app, certificate_world["holder"].id)
    return certificate.id


@pytest.mark.parametrize("who", ["own_agency_admin", "chair", "holder"])
def test_certificate_file_downloads_as_an_attachment(app, certificate_world, certificate_with_file, login_as,
                                                     chair, who):
    """The holder's agency admin, chairs and the holder get the file as an attachment with nosniff."""
    b = {"own_agency_admin": lambda: certificate_world["admin"], "chair": lambda: chair,
         "holder": lambda: _login(app, certificate_world["holder"])}[who]()
    response = b.get(f"/trainings/certificates/{certificate_with_file}/file")
    assert_attachment(response, PDF, "application/pdf")
    assert "rosa-certificate.pdf" in response.headers["Content-Disposition"]


def _login(app, record_):
    from tests.conftest import Browser

    b = Browser(app.test_client())
    b.login(record_.email)
    b.user = record_
    return b


@pytest.mark.parametrize("roles", [("agency_admin",), ("staff",), ("staff", "case_manager", "agency_admin"),
                                   ("admin",)])
def test_another_agencys_certificate_and_file_are_404(app, certificate_world, certificate_with_file, login_as,
                                                      roles):
    """Users and admins of another agency get 404 on the certificate and its file (SECURITY AC1)."""
    b = login_as(roles=roles, agency_id=certificate_world["second"])
    assert b.get(f"/trainings/certificates/{certificate_with_file}/file").status_code == 404
    assert b.get(f"/trainings/certificates/{certificate_with_file}").status_code == 404
    listing = b.get("/trainings/certificates")
    assert listing.status_code in (200, 403)
    assert f"/trainings/certificates/{certificate_with_file}" not in listing.get_data(as_text=True)


def test_a_colleague_who_is_not_an_admin_gets_404_on_the_file(app, certificate_world, certificate_with_file,
                                                              login_as):
    """Staff of the same agency who do not hold the certificate cannot download it."""
    b = login_as(roles=("staff",), agency_id=certificate_world["first"])
    assert b.get(f"/trainings/certificates/{certificate_with_file}/file").status_code == 404
    assert b.get(f"/trainings/certificates/{certificate_with_file}").status_code == 404


def test_the_holder_sees_their_own_certificate_page(app, certificate_world, certificate_with_file):
    """The holder may open their certificate (the same scope as its file), without the chair's actions."""
    page = _login(app, certificate_world["holder"]).get(f"/trainings/certificates/{certificate_with_file}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"/trainings/certificates/{certificate_with_file}/file" in html and "/verify" not in html


def test_a_tampered_stored_name_is_404(app, chair, certificate_world, upload_dir):
    """A file name that is not a random hex name is never opened."""
    secret = upload_dir.parent / "secret.txt"
    secret.write_text("do not serve")
    certificate_id = make_certificate(app, certificate_world["holder"].id, certificate_world["course_id"],
                                      task_force_today(app), file_name="../secret.txt", file_original_name="x.pdf",
                                      file_mime="application/pdf")
    assert chair.get(f"/trainings/certificates/{certificate_id}/file").status_code == 404


# ----- verification ------------------------------------------------------------------------------

def test_chair_verifies_once(app, chair, certificate_world):
    """Verify: the certificate counts; a second verification is refused and changes nothing."""
    certificate_id = make_certificate(app, certificate_world["holder"].id, certificate_world["course_id"],
                                      task_force_today(app) - timedelta(days=2), status="pending")
    page = chair.get(f"/trainings/certificates/{certificate_id}").get_data(as_text=True)
    assert f"/trainings/certificates/{certificate_id}/verify" in page
    response = chair.post(f"/trainings/certificates/{certificate_id}/verify", page="/")
    assert response.status_code == 303
    certificate = load(app, Certificate, certificate_id)
    assert (certificate.status, certificate.decided_by_id) == ("verified", chair.user.id)
    first_decided_at = certificate.decided_at
    again = chair.post(f"/trainings/certificates/{certificate_id}/verify", page="/", follow_redirects=True)
    assert "already been decided" in again.get_data(as_text=True)
    refused = chair.post(f"/trainings/certificates/{certificate_id}/reject", {"reason": "Changed my mind"})
    assert refused.status_code == 422 and "already been decided" in refused.get_data(as_text=True)
    certificate = load(app, Certificate, certificate_id)
    assert certificate.status == "verified" and certificate.decided_at == first_decided_at
    assert certificate.rejection_reason == ""


def test_chair_rejects_with_a_reason(app, chair, certificate_world):
    """Reject needs a reason; the admin sees it on the certificate page."""
    certificate_id = make_certificate(app, certificate_world["holder"].id, certificate_world["course_id"],
                                      task_force_today(app) - timedelta(days=2), status="pending")
    url = f"/trainings/certificates/{certificate_id}/reject"
    assert chair.post(url, {"reason": "  "}).status_code == 422
    assert load(app, Certificate, certificate_id).status == "pending"
    assert chair.post(url, {"reason": "Certificate number does not match the provider's records"}).status_code == 303
    certificate = load(app, Certificate, certificate_id)
    assert certificate.status == "rejected"
    assert certificate.rejection_reason == "Certificate number does not match the provider's records"
    page = certificate_world["admin"].get(f"/trainings/certificates/{certificate_id}").get_data(as_text=True)
    assert "does not match the provider" in page
    assert chair.post(f"/trainings/certificates/{certificate_id}/verify", page="/").status_code == 303
    assert load(app, Certificate, certificate_id).status == "rejected"


@pytest.mark.parametrize("who", ["own_agency_admin", "holder_staff", "admin"])
def test_non_chairs_cannot_verify_or_reject(app, certificate_world, login_as, who):
    """403 on verify and reject for everyone but chairs; the certificate stays pending."""
    certificate_id = make_certificate(app, certificate_world["holder"].id, certificate_world["course_id"],
                                      task_force_today(app) - timedelta(days=2), status="pending")
    b = {"own_agency_admin": lambda: certificate_world["admin"],
         "holder_staff": lambda: _login(app, certificate_world["holder"]),
         "admin": lambda: login_as(roles=("admin",), agency_id=None)}[who]()
    assert b.post(f"/trainings/certificates/{certificate_id}/verify", page="/").status_code == 403
    assert b.post(f"/trainings/certificates/{certificate_id}/reject", {"reason": "no"}, page="/").status_code == 403
    assert b.get(f"/trainings/certificates/{certificate_id}/reject").status_code == 403
    assert load(app, Certificate, certificate_id).status == "pending"


def test_admin_page_shows_no_verify_button(app, certificate_world):
    """The agency admin sees the certificate but not the chair's actions."""
    certificate_id = make_certificate(app, certificate_world["holder"].id, certificate_world["course_id"],
                                      task_force_today(app) - timedelta(days=2), status="pending")
    page = certificate_world["admin"].get(f"/trainings/certificates/{certificate_id}")
    assert page.status_code == 200
    assert "/verify" not in page.get_data(as_text=True)


# ----- courses ------------------------------------------------------------------------------------

def test_chair_defines_a_core_course(app, chair):
    """Chairs create courses with hours, validity and the core flag; others may not."""
    response = chair.post("/trainings/courses/new", {"name": "Human Trafficking 101", "description": "",
                                                     "hours": "6", "valid_months": "24", "is_core": "y",
                                                     "active": "y"})
    assert response.status_code == 303
    with app.app_context():
        course = db.session.scalar(select(TrainingCourse).where(TrainingCourse.name == "Human Trafficking 101"))
        assert (course.hours, course.valid_months, course.is_core) == (6, 24, True)
    assert "Human Trafficking 101" in chair.get("/trainings/").get_data(as_text=True)


@pytest.mark.parametrize("roles", [("agency_admin",), ("staff",), ("admin",)])
def test_only_chairs_define_courses(login_as, roles):
    b = login_as(roles=roles)
    assert b.get("/trainings/courses/new").status_code == 403
    assert b.post("/trainings/courses/new", {"name": "X", "hours": "1"}, page="/").status_code == 403


# ----- the chair's overview, dashboard and CSV ---------------------------------------------------

@pytest.fixture
def overview_world(app, create_agency, create_user):
    """A steady agency (two certified users) and one whose only certificate expires in 10 days."""
    now = task_force_today(app)
    course_id = make_course(app, valid_months=12)
    steady = create_agency(name="Steady Shelter", membership_status="member",
                           mou_signed_on=now - timedelta(days=100), mou_renewal_on=now + timedelta(days=265))
    first, second = (create_user(roles=("staff",), agency_id=steady) for _ in range(2))
    make_certificate(app, first.id, course_id, now - timedelta(days=30), expires_on=now + timedelta(days=200))
    make_certificate(app, second.id, course_id, now - timedelta(days=20), expires_on=now + timedelta(days=120))
    fading = create_agency(name="Fading Clinic", membership_status="member",
                           mou_signed_on=now - timedelta(days=100), mou_renewal_on=now + timedelta(days=40))
    holder = create_user(roles=("staff",), agency_id=fading)
    make_certificate(app, holder.id, course_id, now - timedelta(days=355), expires_on=now + timedelta(days=10))
    return {"steady": steady, "fading": fading, "now": now}


def _row(html: str, name: str) -> str:
    start = html.rindex("<tr", 0, html.index(name))
    return html[start:html.index("</tr>", start)]


def test_chairs_overview_shows_counts_expiries_and_renewals(chair, overview_world):
    """Per agency: certified, certified users, the next certificate expiry and the agreement renewal."""
    now = overview_world["now"]
    html = chair.get("/agencies/").get_data(as_text=True)
    assert "Certified users" in html and "Next certificate expiry" in html and "Agreement renewal" in html
    steady = _row(html, "Steady Shelter")
    assert '<td class="num" data-label="Certified users">2</td>' in steady
    assert longdate(now + timedelta(days=120)) in steady
    assert longdate(now + timedelta(days=265)) in steady
    assert "row-warning" not in steady and "loses certification" not in steady
    fading = _row(html, "Fading Clinic")
    assert '<td class="num" data-label="Certified users">1</td>' in fading
    assert longdate(now + timedelta(days=10)) in fading
    assert 'class="row-warning"' in fading and "loses certification within 30 days" in fading


def test_the_overview_filters(chair, overview_world, create_agency):
    """Filtering by status keeps the overview columns."""
    create_agency(name="Prospective Pantry", membership_status="prospect")
    html = chair.get("/agencies/?status=member").get_data(as_text=True)
    assert "Steady Shelter" in html and "Fading Clinic" in html and "Prospective Pantry" not in html
    assert "Certified users" in html


def test_non_chairs_see_no_overview_columns(login_as, overview_world):
    """The overview is the chair's view; others see the plain list."""
    html = login_as(roles=("agency_admin",)).get("/agencies/").get_data(as_text=True)
    assert "Steady Shelter" in html and "Certified users" not in html and "loses certification" not in html
    assert "/agencies/export.csv" not in html


def test_the_chairs_dashboard_lists_agencies_losing_certification(chair, login_as, overview_world):
    """The dashboard names the agency that loses certification within 30 days, not the steady one."""
    html = chair.get("/").get_data(as_text=True)
    panel = html[html.index("Losing certification within 30 days"):]
    panel = panel[:panel.index("</section>")]
    assert "Fading Clinic" in panel and "Steady Shelter" not in panel
    staff_html = login_as(roles=("staff",)).get("/").get_data(as_text=True)
    assert "Losing certification within 30 days" not in staff_html


def _age_sessions(app, user_id, minutes: int) -> None:
    with app.app_context():
        for row in db.session.scalars(select(UserSession).where(UserSession.user_id == user_id)):
            row.reauthenticated_at = utcnow() - timedelta(minutes=minutes)
        db.session.commit()


def _parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("roles", [("agency_admin",), ("staff",), ("admin",), ("case_manager",)])
def test_the_csv_needs_a_chair(login_as, roles):
    """Everyone else gets 403."""
    assert login_as(roles=roles).get("/agencies/export.csv").status_code == 403


def test_the_csv_needs_a_fresh_reauthentication(app, chair, overview_world):
    """A session re-authenticated more than 10 minutes ago is sent to /account/reauthenticate first."""
    _age_sessions(app, chair.user.id, minutes=11)
    response = chair.get("/agencies/export.csv")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/reauthenticate")
    assert "export.csv" in response.headers["Location"]
    _age_sessions(app, chair.user.id, minutes=9)
    assert chair.get("/agencies/export.csv").status_code == 200


def test_the_csv_quotes_and_neutralises_formulas(app, chair, create_agency, overview_world):
    """RFC 4180 quoting (commas, quotes, line breaks) and formula cells starting with a quote (SECURITY V6)."""
    tricky = {
        'Smith, "Jones" & Co': 'Smith, "Jones" & Co',
        "=HYPERLINK(\"http://evil.example\",\"x\")": "'=HYPERLINK(\"http://evil.example\",\"x\")",
        "+1 Services": "'+1 Services",
        "-2 Outreach": "'-2 Outreach",
        "@SUM(A1:A2)": "'@SUM(A1:A2)",
    }
    for name in tricky:
        create_agency(name=name, membership_status="prospect", county="Line\r\nBreak")
    response = chair.get("/agencies/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    raw = response.get_data(as_text=True)
    assert raw.startswith("name,type,county,membership_status,certified,certified_users,")
    assert raw.endswith("\r\n") and "\r\n" in raw.split("\n", 1)[0] + "\n"
    assert '"Smith, ""Jones"" & Co"' in raw  # embedded quotes doubled, the cell quoted
    assert '"Line\r\nBreak"' in raw
    rows = _parse_csv(raw)
    by_name = {row[0]: row for row in rows[1:]}
    for exported in tricky.values():
        assert exported in by_name, (exported, list(by_name))
    for row in rows[1:]:
        assert not row[0].startswith(("=", "+", "-", "@")), row
    fading = by_name["Fading Clinic"]
    header = rows[0]
    assert fading[header.index("certified")] == "yes"
    assert fading[header.index("losing_certification_within_30_days")] == "yes"
    assert fading[header.index("next_certificate_expiry")] == (overview_world["now"] + timedelta(days=10)).isoformat()
    steady = by_name["Steady Shelter"]
    assert steady[header.index("certified_users")] == "2"
    assert steady[header.index("losing_certification_within_30_days")] == "no"
