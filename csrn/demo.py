"""The fictional demo task force: about 25 agencies of every type and status, users for every role."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from csrn.agencies.models import Agency, Certificate, MembershipChange, TrainingCourse
from csrn.auth import operations as auth_ops
from csrn.auth.models import ADMIN, AGENCY_ADMIN, CASE_MANAGER, CHAIR, STAFF, User
from csrn.config import INSTANCE
from csrn.extensions import db
from csrn.settings.models import TaskForceSettings

COUNTIES = ["Alder", "Birch Hollow", "Cedar", "Dunmore", "Elk River"]
TIMEZONE = "America/Chicago"

# (name, type, county, status, description)
AGENCIES = [
    ("Riverton Police Department", "law_enforcement", "Alder", "member",
     "City police. Vice and human trafficking unit works nights and weekends."),
    ("Safe Harbor Advocacy Center", "victim_service_provider", "Alder", "member",
     "Intensive case management for adult and youth survivors of sex and labour trafficking."),
    ("New Dawn Survivor Services", "victim_service_provider", "Cedar", "member",
     "Case management and 24/7 crisis hotline; Spanish and Vietnamese spoken."),
    ("Cedar County Sheriff's Office", "law_enforcement", "Cedar", "member",
     "County sheriff; investigations division takes trafficking tips."),
    ("State Bureau of Investigation, District 4", "law_enforcement", "Dunmore", "member",
     "State investigators assigned to the task force."),
    ("Lakeshore Legal Aid", "legal", "Birch Hollow", "member",
     "Civil legal aid: protective orders, housing, vacatur of convictions."),
    ("Immigrant Justice Partners", "legal", "Alder", "in_training",
     "Immigration legal services: T visas, U visas, continued presence."),
    ("Mercy Community Clinic", "medical", "Alder", "member",
     "Primary care, forensic-informed exams and sexual health; sliding scale."),
    ("Harbor Dental Collective", "medical", "Elk River", "applicant",
     "Dental care for uninsured adults."),
    ("Clearwater Counseling", "mental_health", "Cedar", "member",
     "Trauma-focused therapy for adults and adolescents."),
    ("Bridges Youth Shelter", "shelter_housing", "Birch Hollow", "member",
     "Emergency shelter for youth under 18; 24/7 intake line."),
    ("Open Door Women's Shelter", "shelter_housing", "Dunmore", "member",
     "Confidential emergency shelter for women and their children."),
    ("Elk River Housing Authority", "government", "Elk River", "prospect",
     "Public housing and emergency vouchers."),
    ("County Department of Children's Services", "government", "Cedar", "member",
     "Child welfare; mandated response for minors."),
    ("St. Brigid's Outreach", "faith_based", "Alder", "listed",
     "Food pantry, clothing closet and bus passes. Not a network member."),
    ("Grace Fellowship Refugee Ministry", "faith_based", "Dunmore", "prospect",
     "Resettlement help, English classes and volunteer drivers."),
    ("Northside Community Kitchen", "community", "Alder", "listed",
     "Hot meals daily and groceries on Fridays. Not a network member."),
    ("Workers' Rights Center", "community", "Birch Hollow", "applicant",
     "Labour rights education and wage-theft claims for farm and factory workers."),
    ("Language Bridge Interpreters", "other", "Alder", "member",
     "Interpreting in 30 languages, on site or by phone, trained for trauma settings."),
    ("Pathways Recovery Services", "mental_health", "Elk River", "suspended",
     "Substance use treatment. Suspended pending renewal of its training certificates."),
    ("Dunmore County Prosecutor's Victim Witness Unit", "government", "Dunmore", "member",
     "Victim-witness advocates for criminal cases."),
    ("Birch Hollow Police Department", "law_enforcement", "Birch Hollow", "member",
     "Town police department."),
    ("Second Chance Employment", "community", "Cedar", "lapsed",
     "Job readiness and placement. Membership lapsed; training overdue."),
    ("Valley Health System Emergency Department", "medical", "Dunmore", "in_training",
     "Hospital emergency department; SANE nurses on call."),
    ("Midstate Anti-Trafficking Hotline", "victim_service_provider", "Elk River", "member",
     "Regional 24/7 hotline with emergency response staff."),
]

# (email, name, agency name, roles)
USERS = [
    ("officer@demo.example", "Officer Dana Reyes", "Riverton Police Department", [STAFF]),
    ("casemanager@demo.example", "Morgan Ellis", "Safe Harbor Advocacy Center", [CASE_MANAGER]),
    ("agencyadmin@demo.example", "Priya Natarajan", "Safe Harbor Advocacy Center",
     [AGENCY_ADMIN, CASE_MANAGER]),
    ("chair@demo.example", "Jordan Whitfield", "New Dawn Survivor Services", [CHAIR, CASE_MANAGER]),
    ("admin@demo.example", "Sam Okafor", None, [ADMIN]),
    ("outsider@demo.example", "Alex Kim", "Clearwater Counseling", [CASE_MANAGER]),
    ("detective@demo.example", "Det. Chris Moreno", "Cedar County Sheriff's Office", [STAFF]),
    ("newdawn.cm@demo.example", "Lena Tran", "New Dawn Survivor Services", [CASE_MANAGER]),
    ("newdawn.admin@demo.example", "Rosa Delgado", "New Dawn Survivor Services",
     [AGENCY_ADMIN, CASE_MANAGER]),
    ("legalaid@demo.example", "Martin Hughes", "Lakeshore Legal Aid", [STAFF, AGENCY_ADMIN]),
    ("clinic@demo.example", "Dr. Aisha Bello", "Mercy Community Clinic", [CASE_MANAGER]),
    ("shelter@demo.example", "Kim Sorensen", "Bridges Youth Shelter", [CASE_MANAGER, AGENCY_ADMIN]),
    ("hotline@demo.example", "Tasha Greene", "Midstate Anti-Trafficking Hotline", [CASE_MANAGER, AGENCY_ADMIN]),
    ("opendoor@demo.example", "Maria Lopez", "Open Door Women's Shelter", [CASE_MANAGER, AGENCY_ADMIN]),
    ("interpreters@demo.example", "Huong Pham", "Language Bridge Interpreters", [STAFF, AGENCY_ADMIN]),
    ("ijp@demo.example", "Samir Haddad", "Immigrant Justice Partners", [CASE_MANAGER, AGENCY_ADMIN]),
]

# (course name, hours, valid months or None, core?, description)
COURSES = [
    ("Human Trafficking Foundations", 6, 24, True,
     "The task force's core training: indicators, victim-centred response, the referral protocol."),
    ("Trauma-Informed Care", 4, 24, False, "Responses to trauma; setting expectations and boundaries."),
    ("Working with Interpreters", 2, None, False, "Briefing interpreters for trauma settings."),
]

# (e-mail, course name, completed days ago, status, reason if rejected)
CERTIFICATES = [
    ("casemanager@demo.example", "Human Trafficking Foundations", 200, "verified", ""),
    ("agencyadmin@demo.example", "Human Trafficking Foundations", 700, "verified", ""),  # expiring soon
    ("chair@demo.example", "Human Trafficking Foundations", 100, "verified", ""),
    ("newdawn.cm@demo.example", "Human Trafficking Foundations", 300, "verified", ""),
    ("newdawn.cm@demo.example", "Trauma-Informed Care", 280, "verified", ""),
    ("newdawn.admin@demo.example", "Trauma-Informed Care", 20, "rejected",
     "The certificate number does not match the trainer's records; please upload the certificate."),
    ("clinic@demo.example", "Human Trafficking Foundations", 400, "verified", ""),
    ("legalaid@demo.example", "Human Trafficking Foundations", 800, "verified", ""),  # expired
    ("outsider@demo.example", "Human Trafficking Foundations", 50, "verified", ""),
    ("shelter@demo.example", "Human Trafficking Foundations", 715, "verified", ""),  # loses certification
    ("hotline@demo.example", "Human Trafficking Foundations", 30, "verified", ""),
    ("opendoor@demo.example", "Human Trafficking Foundations", 60, "verified", ""),
    ("interpreters@demo.example", "Human Trafficking Foundations", 90, "verified", ""),
    ("interpreters@demo.example", "Working with Interpreters", 90, "verified", ""),
    ("detective@demo.example", "Human Trafficking Foundations", 150, "verified", ""),
    ("ijp@demo.example", "Human Trafficking Foundations", 5, "pending", ""),
    ("officer@demo.example", "Trauma-Informed Care", 3, "pending", ""),
]
LAPSED_AGREEMENT = "Mercy Community Clinic"


class DemoRefused(RuntimeError):
    """The database already holds data and --force was not given."""


def database_has_data() -> bool:
    """Whether any agency or user exists."""
    agencies = db.session.scalar(select(func.count()).select_from(Agency))
    users = db.session.scalar(select(func.count()).select_from(User))
    return bool(agencies or users)


def seed(password: str | None, force: bool, now: datetime) -> list[tuple[str, str, str]]:
    """Create the demo task force; return (e-mail, password, roles) for every login."""
    if database_has_data() and not force:
        raise DemoRefused("The database already holds data; use --force to add the demo anyway.")
    settings = db.session.get(TaskForceSettings, 1) or TaskForceSettings(id=1)
    settings.name = "River Valley Anti-Trafficking Task Force (demo)"
    settings.timezone = TIMEZONE
    settings.counties = COUNTIES
    settings.fallback_phone = "+1 555 010 0100"
    settings.updated_at = now
    db.session.add(settings)

    today = now.date()
    by_name: dict[str, Agency] = {}
    for index, (name, kind, county, status, description) in enumerate(AGENCIES):
        signed = today - timedelta(days=30 * (index % 12 + 3)) if status in {"member", "suspended"} else None
        agency = Agency(
            name=name,
            agency_type=kind,
            county=county,
            membership_status=status,
            description=description,
            phone=f"+1 555 01{index:02d} {1000 + index * 7:04d}",
            website=f"https://{_slug(name)}.example.org",
            mou_signed_on=signed,
            mou_renewal_on=_add_years(signed, 2) if signed else None,
            internal_notes="",
            created_at=now,
            updated_at=now,
        )
        db.session.add(agency)
        by_name[name] = agency
    db.session.flush()

    logins = []
    for email, name, agency_name, roles in USERS:
        secret = password or _demo_password()
        agency_id = by_name[agency_name].id if agency_name else None
        if db.session.scalar(User.by_email(email)) is not None:
            continue
        auth_ops.create_user(None, email, name, roles, agency_id, now, password=secret)
        logins.append((email, secret, ", ".join(roles)))
    _seed_training(by_name, now)
    db.session.commit()
    return logins


def _seed_training(by_name: dict[str, Agency], now: datetime) -> None:
    """Courses, certificates in every state, membership history and one lapsed agreement."""
    from csrn.agencies.operations import expiry_for

    chair = db.session.scalar(User.by_email("chair@demo.example"))
    today = now.date()
    courses = {}
    for name, hours, months, core, description in COURSES:
        course = TrainingCourse(name=name, hours=hours, valid_months=months, is_core=core,
                                description=description, active=True, created_at=now)
        db.session.add(course)
        courses[name] = course
    db.session.flush()
    for email, course_name, days_ago, status, reason in CERTIFICATES:
        user = db.session.scalar(User.by_email(email))
        course = courses[course_name]
        completed = today - timedelta(days=days_ago)
        db.session.add(Certificate(
            user_id=user.id, agency_id=user.agency_id, course_id=course.id, completed_on=completed,
            expires_on=expiry_for(course, completed), certificate_number=f"HTF-{user.id:04d}-{days_ago}",
            status=status, recorded_by_id=user.id, recorded_at=now,
            decided_by_id=chair.id if status != "pending" else None,
            decided_at=now if status != "pending" else None, rejection_reason=reason,
        ))
    for agency in by_name.values():
        if agency.membership_status != "prospect":
            db.session.add(MembershipChange(
                agency_id=agency.id, from_status="prospect", to_status=agency.membership_status,
                reason="Carried over from the committee's membership spreadsheet.",
                changed_by_id=chair.id, changed_at=now,
            ))
        if agency.mou_signed_on:
            agency.mou_signatory = "Executive Director"
    lapsed = by_name[LAPSED_AGREEMENT]
    lapsed.mou_signed_on = today - timedelta(days=740)
    lapsed.mou_renewal_on = today - timedelta(days=10)


def write_logins(logins: list[tuple[str, str, str]]) -> str:
    """Save the demo logins to instance/demo-logins.txt (git-ignored) and return its path."""
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "demo-logins.txt"
    lines = ["Demo logins (fictional task force; never use in production)", ""]
    width = max(len(email) for email, _, _ in logins) if logins else 20
    for email, secret, roles in logins:
        lines.append(f"  {email:<{width}}  {secret}   ({roles})")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def _demo_password() -> str:
    return "demo-" + secrets.token_urlsafe(12)


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:30]


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
