"""The fictional demo task force: about 25 agencies of every type and status, users for every role."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from csrn.agencies.models import Agency, Certificate, MembershipChange, TrainingCourse
from csrn.agencies.operations import expiry_for
from csrn.auth import operations as auth_ops
from csrn.auth.models import User
from csrn.cases.demo import seed_cases
from csrn.config import INSTANCE
from csrn.directory.models import Location, Service, ServiceType
from csrn.extensions import db
from csrn.intake import operations as intake_ops
from csrn.oncall.demo import seed_oncall
from csrn.pathways.demo import seed_pathways
from csrn.protocols.demo import seed_protocols
from csrn.referrals import operations as referral_ops
from csrn.roles import ADMIN, AGENCY_ADMIN, CASE_MANAGER, CHAIR, STAFF
from csrn.schedules.models import Holiday, ScheduleRule
from csrn.settings.models import TaskForceSettings
from csrn.volunteers.demo import seed_volunteers

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

WEEKDAYS_9_5 = [(d, "09:00", "17:00") for d in range(5)]
# agency: [(type code, name, {facets}, hours or "24/7", open slots, waitlist, days since confirmed, description)]
SERVICES = {
    "Safe Harbor Advocacy Center": [
        ("case_management", "", {"age": ["18_24", "25_plus"], "trafficking": ["sex", "labour"],
                                 "language": ["en", "es"]}, WEEKDAYS_9_5, 3, 0, 5,
         "Intensive case management for adult survivors; needs assessment within 48 hours."),
        ("safety_planning", "", {"language": ["en", "es"]}, "24/7", None, 0, 5,
         "Safety planning by phone at any hour."),
    ],
    "New Dawn Survivor Services": [
        ("case_management", "Youth and adult case management",
         {"trafficking": ["sex", "labour"], "language": ["en", "vi", "es"], "interpretation": ["km", "th"]},
         WEEKDAYS_9_5 + [(5, "10:00", "14:00")], 0, 4, 2,
         "Case management for survivors of every age; Vietnamese and Spanish speaking staff."),
        ("safety_planning", "24/7 crisis hotline", {"language": ["en", "vi", "es"]}, "24/7", None, 0, 1,
         "Crisis hotline with emergency response staff, every hour of every day."),
    ],
    "Midstate Anti-Trafficking Hotline": [
        ("case_management", "Emergency response", {"trafficking": ["sex", "labour"], "language": ["en"],
                                                   "interpretation": ["es", "zh", "ar"]}, "24/7", 2, 0, 3,
         "Emergency response and short-term case management anywhere in the region."),
    ],
    "Bridges Youth Shelter": [
        ("emergency_shelter", "Youth crisis beds", {"age": ["minor"], "language": ["en", "es"]}, "24/7", 1, 0, 45,
         "Emergency beds for youth under 18; intake line answered 24/7."),
    ],
    "Open Door Women's Shelter": [
        ("emergency_shelter", "", {"gender": ["female", "transgender", "non_binary"], "age": ["18_24", "25_plus"],
                                   "language": ["en", "es"]}, "24/7", 0, 3, 6,
         "Confidential emergency shelter for women and their children."),
        ("case_management", "Shelter case management", {"gender": ["female", "transgender", "non_binary"]},
         WEEKDAYS_9_5, 1, 0, 6, "Case management for shelter residents."),
    ],
    "Lakeshore Legal Aid": [
        ("civil_legal", "", {"language": ["en", "es"]}, WEEKDAYS_9_5, 5, 0, 60,
         "Protective orders, housing, and vacatur of convictions for survivors."),
    ],
    "Immigrant Justice Partners": [
        ("immigration_legal", "T and U visas", {"citizenship": ["foreign"], "language": ["en", "es", "tl"]},
         WEEKDAYS_9_5, 2, 6, 10, "T visas, U visas and continued presence; free consultations."),
    ],
    "Mercy Community Clinic": [
        ("medical", "", {"language": ["en", "es", "ht"]}, [(d, "08:00", "18:00") for d in range(6)], 10, 0, 12,
         "Primary care, forensic-informed exams and sexual health; sliding scale."),
    ],
    "Harbor Dental Collective": [
        ("dental", "", {"age": ["18_24", "25_plus"]}, [(1, "09:00", "16:00"), (3, "09:00", "16:00")], 4, 0, 90,
         "Dental care for uninsured adults."),
    ],
    "Clearwater Counseling": [
        ("mental_health", "Trauma-focused therapy", {"age": ["minor", "18_24", "25_plus"], "language": ["en"]},
         [(0, "09:00", "19:00"), (1, "09:00", "19:00"), (2, "09:00", "19:00"), (3, "09:00", "19:00")], 2, 1, 20,
         "Trauma-focused therapy for adults and adolescents."),
    ],
    "Language Bridge Interpreters": [
        ("interpretation", "On-site and phone interpreting",
         {"language": ["en", "es", "vi", "zh", "ar", "uk", "ru", "tl", "km", "th", "ht"]}, "24/7", None, 0, 8,
         "Interpreting in 30 languages, on site or by phone, trained for trauma settings."),
    ],
    "County Department of Children's Services": [
        ("child_welfare", "", {"age": ["minor"]}, "24/7", None, 0, 40, "Child welfare response for minors."),
    ],
    "Dunmore County Prosecutor's Victim Witness Unit": [
        ("criminal_justice_advocacy", "", {"county": ["Dunmore"]}, WEEKDAYS_9_5, None, 0, 15,
         "Victim-witness advocates for criminal cases in Dunmore County."),
    ],
    "Workers' Rights Center": [
        ("employment", "Labour rights and wage claims", {"trafficking": ["labour"], "language": ["en", "es", "quc"]},
         [(1, "12:00", "20:00"), (3, "12:00", "20:00"), (5, "10:00", "14:00")], None, 0, 33,
         "Labour rights education and wage-theft claims for farm and factory workers."),
    ],
    "Pathways Recovery Services": [
        ("substance_use", "", {}, WEEKDAYS_9_5, 0, 8, 100, "Substance use treatment (suspended member)."),
    ],
    "St. Brigid's Outreach": [
        ("food_clothing", "Food pantry and clothing closet", {}, [(1, "10:00", "13:00"), (4, "10:00", "13:00")],
         None, 0, 14, "Food pantry, clothing closet and bus passes."),
        ("transport", "Bus passes", {}, [(1, "10:00", "13:00")], None, 0, 14, "Monthly bus passes while they last."),
    ],
    "Northside Community Kitchen": [
        ("food_clothing", "Hot meals", {}, [(d, "17:00", "19:00") for d in range(7)], None, 0, 3,
         "Hot meals daily and groceries on Fridays."),
    ],
    "Valley Health System Emergency Department": [
        ("medical", "Emergency department with SANE nurses", {}, "24/7", None, 0, 2,
         "Hospital emergency department; sexual assault nurse examiners on call."),
    ],
}
# agency: [(name, street, city, county, visibility)]
LOCATIONS = {
    "Safe Harbor Advocacy Center": [("Main office", "120 Front Street", "Riverton", "Alder", "public")],
    "New Dawn Survivor Services": [("Office", "44 Mill Road", "Cedar Falls", "Cedar", "public")],
    "Open Door Women's Shelter": [
        ("Administrative office", "9 Court Square", "Dunmore", "Dunmore", "members"),
        ("Shelter", "1877 Larkspur Lane", "Dunmore", "Dunmore", "confidential"),
    ],
    "Bridges Youth Shelter": [("Youth shelter", "310 Orchard Avenue", "Birch Hollow", "Birch Hollow", "confidential")],
    "Mercy Community Clinic": [("Clinic", "800 Hospital Drive", "Riverton", "Alder", "public")],
    "Lakeshore Legal Aid": [("Lakeshore office", "15 Harbor Way", "Birch Hollow", "Birch Hollow", "public")],
    "St. Brigid's Outreach": [("Parish hall", "2 Church Street", "Riverton", "Alder", "public")],
    "Northside Community Kitchen": [("Kitchen", "77 North Avenue", "Riverton", "Alder", "public")],
}
HOLIDAYS = [("2026-11-26", "Thanksgiving Day"), ("2026-12-25", "Christmas Day"), ("2027-01-01", "New Year's Day"),
            ("2027-01-18", "Martin Luther King Jr. Day"), ("2027-05-31", "Memorial Day"),
            ("2027-07-05", "Independence Day (observed)")]


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
    _seed_directory(by_name, now)
    db.session.commit()
    _seed_referrals(now)
    seed_protocols(now)
    seed_oncall(now)  # after the referrals: the demo's unassigned referral stays in the queue
    logins += seed_volunteers(now, password, _demo_password)
    seed_pathways(db.session.scalar(User.by_email("chair@demo.example")), now)
    seed_cases(now)  # after the volunteers: the pro bono attorney accepts one of its onward referrals
    return logins


def _seed_training(by_name: dict[str, Agency], now: datetime) -> None:
    """Courses, certificates in every state, membership history and one lapsed agreement."""
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


def _seed_directory(by_name: dict[str, Agency], now: datetime) -> None:
    """Services for the providers (stale, full, 24/7 ones), locations (a confidential shelter), holidays."""
    types = {t.code: t for t in db.session.scalars(select(ServiceType))}
    for name, entries in SERVICES.items():
        agency = by_name[name]
        for code, title, facets, hours, slots, waitlist, days_since, description in entries:
            service = Service(
                agency_id=agency.id, service_type_id=types[code].id, name=title, description=description,
                status="active", cost="free", is_24_7=hours == "24/7", closed_on_holidays=hours != "24/7",
                open_slots=slots, waitlist=waitlist, capacity_confirmed_at=now - timedelta(days=days_since),
                how_to_refer="Start an intake in CSRN, or call the point of contact.",
                created_at=now, updated_at=now,
            )
            for kind, values in facets.items():
                service.set_values(kind, values)
            if hours != "24/7":
                service.rules = [ScheduleRule(kind="weekly", weekday=d, opens=time.fromisoformat(o),
                                              closes=time.fromisoformat(c)) for d, o, c in hours]
            db.session.add(service)
    for name, places in LOCATIONS.items():
        for place, street, city, county, visibility in places:
            db.session.add(Location(agency_id=by_name[name].id, name=place, address_1=street, address_2=None,
                                    city=city, state="IL", postal_code=f"60{sum(map(ord, street)) % 900 + 100}",
                                    county=county, visibility=visibility, created_at=now, updated_at=now))
    for index, agency in enumerate(by_name.values()):
        if agency.membership_status in {"member", "in_training", "applicant", "listed"}:
            agency.poc_name = ["Jamie Ortiz", "Lee Chen", "Pat Morgan", "Robin Singh", "Casey Adeyemi"][index % 5]
            agency.poc_phone = f"+1 555 02{index:02d} {2000 + index * 3:04d}"
            agency.poc_email = f"contact@{_slug(agency.name)}.example.org"
    for day, name in HOLIDAYS:
        if db.session.scalar(select(Holiday).where(Holiday.day == date.fromisoformat(day))) is None:
            db.session.add(Holiday(day=date.fromisoformat(day), name=name))


# The demo's unanswered emergency escalates this long after `seed-demo` runs (`tick` runs every minute in `make run`).
ESCALATES_AFTER_SEEDING = timedelta(minutes=3)
PERSON = {"age_group": "25_plus", "gender": "female", "citizenship": "us", "trafficking_type": "sex",
          "languages": ["en"], "needs": ["case_management", "mental_health"]}


def _demo_intake(email: str, answers: dict, at: datetime):
    """Submit a demo intake as this user at this time (through the real operations)."""
    user = db.session.scalar(User.by_email(email))
    draft = intake_ops.start_draft(user, {}, at)
    intake_ops.save_draft(draft, {**PERSON, "county": "Alder", "urgency": "routine", "consent": "no", **answers},
                          5, at)
    matches = intake_ops.match_case_management(draft.answers, at)
    if matches and "receiver" not in answers:
        intake_ops.save_draft(draft, {"receiver": matches[0].candidate.agency_id}, 5, at)
    return intake_ops.submit(user, draft, draft.submission_key, at), user


def _seed_referrals(now: datetime) -> None:
    """Referrals in every state (some overdue, one escalated, one unassigned, an emergency about to escalate) and a
    draft; none involve outsider@demo.example's agency, which offers no case management."""
    def user(email):
        return db.session.scalar(User.by_email(email))

    # A police officer's urgent referral, waiting for an answer.
    _demo_intake("officer@demo.example", {"urgency": "urgent", "languages": ["es"], "alias": "M.R.",
                                          "consent": "yes", "consent_how": "verbal",
                                          "consent_with": ["receiver", "backups"],
                                          "consent_categories": ["identity", "contact"],
                                          "consent_date": now.date().isoformat(), "contact_phone": "+1 555 0199 0001",
                                          "safe_channel": "Only through Riverton PD victim advocate",
                                          "do_not_text": True}, now - timedelta(hours=1))
    # A clinic's routine referral, accepted by New Dawn, then closed.
    referral, _ = _demo_intake("clinic@demo.example", {"alias": "Rosa", "consent": "yes", "consent_how": "written",
                                                       "consent_with": ["receiver"],
                                                       "consent_categories": ["identity"],
                                                       "receiver": by_email_agency("newdawn.cm@demo.example")},
                               now - timedelta(days=3))
    referral_ops.accept(user("newdawn.cm@demo.example"), referral, now - timedelta(days=3, hours=-2))
    referral_ops.close(user("newdawn.cm@demo.example"), referral, "engaged", now - timedelta(days=1))
    # A shelter's referral accepted and still open.
    referral, _ = _demo_intake("shelter@demo.example", {"age_group": "18_24", "alias": "J.",
                                                        "receiver": by_email_agency("casemanager@demo.example")},
                               now - timedelta(days=1))
    referral_ops.accept(user("casemanager@demo.example"), referral, now - timedelta(hours=20))
    # A detective's emergency: declined by the only provider open now, so it went to the committee queue.
    referral, _ = _demo_intake("detective@demo.example", {"urgency": "emergency", "citizenship": "foreign",
                                                          "trafficking_type": "labour", "languages": ["tl"]},
                               now - timedelta(minutes=20))
    if referral.pending_offer is not None:
        first = referral.pending_offer.agency_id
        decliner = next((u for u in db.session.scalars(select(User).where(User.agency_id == first))
                         if u.has_role(CASE_MANAGER)), None)
        if decliner is not None:
            referral_ops.decline(decliner, referral, "no_capacity", "All caseworkers are full this week.",
                                 now - timedelta(minutes=10))
    # An overdue routine offer (the escalation pass has not run yet).
    _demo_intake("officer@demo.example", {"trafficking_type": "both", "alias": "K."}, now - timedelta(days=14))
    # A withdrawn one.
    referral, sender = _demo_intake("detective@demo.example", {"alias": "T."}, now - timedelta(days=2))
    referral_ops.withdraw(sender, referral, now - timedelta(days=2, hours=-1))
    # An emergency offered to the 24/7 hotline that nobody answers: its deadline falls a few minutes after the demo
    # is loaded, so the first `tick` runs of `make run` escalate it while a newcomer watches.
    _demo_intake("officer@demo.example", {"urgency": "emergency", "alias": "A.",
                                          "needs": ["case_management", "safety_planning"],
                                          "receiver": by_email_agency("hotline@demo.example")},
                 now - _emergency_window() + ESCALATES_AFTER_SEEDING)
    # An unfinished intake.
    intake_ops.start_draft(user("officer@demo.example"), {"urgency": "urgent", "county": "Cedar"}, now)


def _emergency_window() -> timedelta:
    """How long an emergency offer waits for an answer (the settings' deadline, 30 minutes unless changed)."""
    return timedelta(minutes=db.session.get(TaskForceSettings, 1).emergency_minutes)


def by_email_agency(email: str) -> int:
    """The agency id of a demo user."""
    return db.session.scalar(User.by_email(email)).agency_id
