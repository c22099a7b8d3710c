"""Membership and certification operations: the certified rule, the workflow, certificates, overview, reminders.

Dates are the task force's local dates; times are given explicitly to every operation.
"""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from csrn.agencies import operations as ops
from csrn.agencies.models import MEMBERSHIP_STATUSES, Agency, Certificate, MembershipChange, TrainingCourse
from csrn.audit.models import AuditEvent
from csrn.auth.models import User
from csrn.directory import receiving
from csrn.extensions import db
from csrn.notify.models import OutboxMessage
from csrn.settings.models import TaskForceSettings
from tests.conftest import NOW

SIGNED = date(2024, 1, 1)
RENEWAL = date(2027, 12, 31)


def at(day: date, hour: int = 12) -> datetime:
    """A moment on that day (UTC, the zone when no settings row exists)."""
    return datetime.combine(day, time(hour), UTC)


def make_course(valid_months: int | None = 12, is_core: bool = True, name: str | None = None) -> TrainingCourse:
    course = TrainingCourse(name=name or f"Course {uuid.uuid4().hex[:8]}", hours=8, valid_months=valid_months,
                            is_core=is_core, active=True, created_at=NOW)
    db.session.add(course)
    db.session.commit()
    return course


def make_certificate(user_id: int, course: TrainingCourse, completed_on: date, status: str = "verified",
                     expires_on: date | None | str = "computed") -> Certificate:
    user = db.session.get(User, user_id)
    certificate = Certificate(
        user_id=user_id, agency_id=user.agency_id, course_id=course.id, completed_on=completed_on,
        expires_on=ops.expiry_for(course, completed_on) if expires_on == "computed" else expires_on,
        status=status, recorded_at=NOW,
    )
    db.session.add(certificate)
    db.session.commit()
    return certificate


def agency(agency_id: int) -> Agency:
    return db.session.get(Agency, agency_id)


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


@pytest.fixture
def member(create_agency, create_user):
    """A member agency with a current agreement and one active staff user (no certificate yet)."""
    agency_id = create_agency(name="Harbor Shelter", membership_status="member",
                              mou_signed_on=SIGNED, mou_renewal_on=RENEWAL)
    holder = create_user(roles=("staff",), agency_id=agency_id)
    return agency_id, holder.id


# ----- add_months and expiry_for ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),  # across the year end
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2025, 6, 10), 24, date(2027, 6, 10)),
        (date(2025, 6, 10), 0, date(2025, 6, 10)),
    ],
)
def test_add_months_clamps_to_the_month_end(start, months, expected):
    """The same day N months later, or the last day of that month when the day does not exist."""
    assert ops.add_months(start, months) == expected


@given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
       months=st.integers(min_value=0, max_value=240))
@settings(max_examples=200, deadline=None)
def test_add_months_property(start, months):
    """Right month N months on; the same day, or the month's last day when the day is too large."""
    result = ops.add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    last = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(start.day, last)


@pytest.mark.parametrize(
    ("completed", "months", "valid_through"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 27)),
        (date(2025, 3, 15), 12, date(2026, 3, 14)),
        (date(2024, 2, 29), 12, date(2025, 2, 27)),
        (date(2025, 1, 1), 1, date(2025, 1, 31)),
        (date(2025, 5, 20), None, None),  # never expires
    ],
)
def test_expiry_is_the_day_before_the_same_day_n_months_later(ctx, completed, months, valid_through):
    """expires_on is the last valid day: add_months(completed, valid_months) minus one day; None never expires."""
    assert ops.expiry_for(make_course(valid_months=months), completed) == valid_through


def test_recorded_certificate_takes_its_expiry_from_the_course(ctx, member):
    """record_certificate stores expires_on from the course's valid_months, and starts pending."""
    agency_id, holder_id = member
    course = make_course(valid_months=1)
    certificate = ops.record_certificate(user(holder_id), user(holder_id), course, date(2025, 1, 31), "N-1", None,
                                         at(date(2025, 2, 1)))
    assert certificate.expires_on == date(2025, 2, 27)
    assert certificate.status == "pending"
    assert certificate.agency_id == agency_id


# ----- certified: the day before, of and after an expiry -----------------------------------------

def test_certified_through_the_expiry_date_and_not_the_day_after(ctx, member):
    """Completed 31 Jan 2025 with a 1-month course: certified through 27 Feb, not on 28 Feb."""
    agency_id, holder_id = member
    make_certificate(holder_id, make_course(valid_months=1), date(2025, 1, 31))
    a = agency(agency_id)
    assert not ops.is_certified(a, at(date(2025, 1, 30)))  # before completion
    assert ops.is_certified(a, at(date(2025, 1, 31)))
    assert ops.is_certified(a, at(date(2025, 2, 26)))  # the day before the expiry
    assert ops.is_certified(a, at(date(2025, 2, 27)))  # the expiry date itself
    assert ops.is_certified(a, at(date(2025, 2, 27), hour=23))
    assert not ops.is_certified(a, at(date(2025, 2, 28), hour=0))  # the day after
    assert not ops.is_certified(a, at(date(2025, 2, 28)))


def test_receiving_referrals_follows_the_same_expiry(ctx, member):
    """can_receive_referrals flips on the day after the certificate's expiry too."""
    agency_id, holder_id = member
    make_certificate(holder_id, make_course(valid_months=1), date(2025, 1, 31))
    a = agency(agency_id)
    assert receiving.can_receive_referrals(a, None, at(date(2025, 2, 26)))
    assert receiving.can_receive_referrals(a, None, at(date(2025, 2, 27)))
    assert not receiving.can_receive_referrals(a, None, at(date(2025, 2, 28)))


def test_a_course_without_expiry_certifies_for_good(ctx, member):
    """valid_months empty: the certificate never expires."""
    agency_id, holder_id = member
    make_certificate(holder_id, make_course(valid_months=None), date(2020, 6, 1))
    assert ops.is_certified(agency(agency_id), at(date(2099, 1, 1)))


def test_dates_are_the_task_forces_local_dates(ctx, member):
    """In Los Angeles, 05:00 UTC on 28 Feb is still 27 Feb: the certificate's last valid day."""
    agency_id, holder_id = member
    make_certificate(holder_id, make_course(valid_months=1), date(2025, 1, 31))
    a = agency(agency_id)
    evening_utc = datetime(2025, 2, 28, 5, 0, tzinfo=UTC)
    assert not ops.is_certified(a, evening_utc)  # UTC by default: already 28 Feb
    db.session.add(TaskForceSettings(id=1, timezone="America/Los_Angeles"))
    db.session.commit()
    assert ops.is_certified(a, evening_utc)  # 27 Feb, 21:00 in Los Angeles
    assert receiving.can_receive_referrals(a, None, evening_utc)
    assert not ops.is_certified(a, datetime(2025, 2, 28, 9, 0, tzinfo=UTC))  # 28 Feb, 01:00 there


@pytest.mark.parametrize(
    "case",
    ["pending", "rejected", "non_core", "deactivated_holder", "holder_of_another_agency",
     "suspended", "lapsed", "in_training", "applicant", "prospect", "listed"],
)
def test_only_verified_core_certificates_of_active_users_of_a_member_count(ctx, create_agency, create_user, case):
    """Each missing ingredient alone leaves the agency uncertified and unable to receive referrals."""
    status = case if case in MEMBERSHIP_STATUSES else "member"
    agency_id = create_agency(membership_status=status, mou_signed_on=SIGNED, mou_renewal_on=RENEWAL)
    holder_agency = create_agency() if case == "holder_of_another_agency" else agency_id
    holder = create_user(roles=("staff",), agency_id=holder_agency, active=case != "deactivated_holder")
    course = make_course(valid_months=24, is_core=case != "non_core")
    cert_status = case if case in ("pending", "rejected") else "verified"
    make_certificate(holder.id, course, date(2025, 1, 10), status=cert_status)
    t = at(date(2025, 6, 1))
    a = agency(agency_id)
    assert not ops.is_certified(a, t)
    assert not receiving.can_receive_referrals(a, None, t)
    assert agency_id not in db.session.scalars(select(Agency.id).where(receiving.receivable_condition(None, t))).all()


def test_the_control_case_is_certified(ctx, create_agency, create_user):
    """The same set-up with every ingredient present is certified (so the cases above test one thing each)."""
    agency_id = create_agency(membership_status="member", mou_signed_on=SIGNED, mou_renewal_on=RENEWAL)
    holder = create_user(roles=("staff",), agency_id=agency_id)
    make_certificate(holder.id, make_course(valid_months=24), date(2025, 1, 10))
    t = at(date(2025, 6, 1))
    assert ops.is_certified(agency(agency_id), t)
    assert receiving.can_receive_referrals(agency(agency_id), None, t)
    assert agency_id in db.session.scalars(select(Agency.id).where(receiving.receivable_condition(None, t))).all()


def test_one_good_certificate_among_bad_ones_certifies(ctx, member, create_user):
    """A pending, an expired and a non-core certificate do not spoil another user's valid one."""
    agency_id, holder_id = member
    other = create_user(roles=("staff",), agency_id=agency_id)
    core = make_course(valid_months=12)
    make_certificate(holder_id, core, date(2025, 3, 1), status="pending")
    make_certificate(holder_id, core, date(2023, 1, 1))  # expired
    make_certificate(holder_id, make_course(valid_months=12, is_core=False), date(2025, 3, 1))
    t = at(date(2025, 6, 1))
    assert not ops.is_certified(agency(agency_id), t)
    make_certificate(other.id, core, date(2025, 2, 1))
    assert ops.is_certified(agency(agency_id), t)


def test_suspending_a_certified_agency_stops_referrals(ctx, member, create_user):
    """A suspended agency is never offered a referral, whatever its certificates."""
    agency_id, holder_id = member
    make_certificate(holder_id, make_course(), date(2025, 1, 10))
    chair = create_user(roles=("chair",), agency_id=None)
    t = at(date(2025, 6, 1))
    assert receiving.can_receive_referrals(agency(agency_id), None, t)
    ops.change_membership(user(chair.id), agency(agency_id), "suspended", "Complaint under review", t)
    assert not ops.is_certified(agency(agency_id), t)
    assert not receiving.can_receive_referrals(agency(agency_id), None, t)


def test_deactivating_the_only_holder_uncertifies(ctx, member):
    """Certification follows the holder: deactivate them and the agency is no longer certified."""
    agency_id, holder_id = member
    make_certificate(holder_id, make_course(), date(2025, 1, 10))
    t = at(date(2025, 6, 1))
    assert ops.is_certified(agency(agency_id), t)
    user(holder_id).active = False
    db.session.commit()
    assert not ops.is_certified(agency(agency_id), t)


def test_receiving_referrals_needs_an_active_service_of_that_type(ctx, member):
    """With a service type: only an active service of that very type counts (and certification still applies)."""
    directory = pytest.importorskip("csrn.directory.models")
    agency_id, holder_id = member
    make_certificate(holder_id, make_course(valid_months=1), date(2025, 1, 31))
    offered, inactive, other = (directory.ServiceType(code=f"t{uuid.uuid4().hex[:10]}", name=f"Type {n}")
                                for n in range(3))
    db.session.add_all([offered, inactive, other])
    db.session.flush()
    for service_type, status in ((offered, "active"), (inactive, "inactive")):
        db.session.add(directory.Service(agency_id=agency_id, service_type_id=service_type.id, name="S",
                                         status=status, created_at=NOW, updated_at=NOW))
    db.session.commit()
    a = agency(agency_id)
    t = at(date(2025, 2, 27))
    assert receiving.can_receive_referrals(a, offered.id, t)
    assert not receiving.can_receive_referrals(a, inactive.id, t)
    assert not receiving.can_receive_referrals(a, other.id, t)
    assert not receiving.can_receive_referrals(a, offered.id, at(date(2025, 2, 28)))  # the day after the expiry


def test_certification_follows_the_holder_to_their_current_agency(ctx, member, create_agency):
    """"An active user of it holds": a holder who moves takes the certification to the new agency."""
    agency_id, holder_id = member
    make_certificate(holder_id, make_course(), date(2025, 1, 10))  # recorded while at the first agency
    new_home = create_agency(membership_status="member")
    t = at(date(2025, 6, 1))
    assert ops.is_certified(agency(agency_id), t) and not ops.is_certified(agency(new_home), t)
    user(holder_id).agency_id = new_home
    db.session.commit()
    assert not ops.is_certified(agency(agency_id), t)
    assert ops.is_certified(agency(new_home), t)


# ----- the referral agreement --------------------------------------------------------------------

def test_agreement_current_through_its_renewal_date_then_lapsed(ctx, create_agency, create_user):
    """Signed → current; current on the renewal date; lapsed (no referrals) the day after."""
    renewal = date(2025, 9, 30)
    agency_id = create_agency(membership_status="member", mou_signed_on=date(2024, 10, 1), mou_renewal_on=renewal)
    holder = create_user(roles=("staff",), agency_id=agency_id)
    make_certificate(holder.id, make_course(valid_months=None), date(2024, 1, 1))
    a = agency(agency_id)
    for day, current in [(date(2024, 9, 30), False), (date(2024, 10, 1), True), (renewal - timedelta(days=1), True),
                         (renewal, True), (renewal + timedelta(days=1), False)]:
        assert ops.agreement_current(a, at(day)) is current, day
        assert ops.is_certified(a, at(day)), day  # certification itself does not depend on the agreement
        assert receiving.can_receive_referrals(a, None, at(day)) is current, day


def test_no_agreement_no_referrals(ctx, create_agency, create_user):
    """A certified member without a signed agreement receives no referrals."""
    agency_id = create_agency(membership_status="member")
    holder = create_user(roles=("staff",), agency_id=agency_id)
    make_certificate(holder.id, make_course(), date(2025, 1, 10))
    t = at(date(2025, 6, 1))
    assert ops.is_certified(agency(agency_id), t)
    assert not ops.agreement_current(agency(agency_id), t)
    assert not receiving.can_receive_referrals(agency(agency_id), None, t)


def test_renewing_the_agreement_restores_referrals(ctx, create_agency, create_user):
    """update_agreement with a later renewal date makes a lapsed agency receive referrals again."""
    agency_id = create_agency(membership_status="member", mou_signed_on=date(2023, 1, 1),
                              mou_renewal_on=date(2024, 12, 31))
    holder = create_user(roles=("staff",), agency_id=agency_id)
    chair = create_user(roles=("chair",), agency_id=None)
    make_certificate(holder.id, make_course(), date(2025, 1, 10))
    t = at(date(2025, 6, 1))
    assert not receiving.can_receive_referrals(agency(agency_id), None, t)
    ops.update_agreement(user(chair.id), agency(agency_id),
                         {"mou_signed_on": date(2025, 5, 1), "mou_signatory": "D. Director",
                          "mou_renewal_on": date(2026, 4, 30)}, t)
    assert receiving.can_receive_referrals(agency(agency_id), None, t)


# ----- property: is_certified equals a brute-force reference --------------------------------------

COURSES = [  # (valid_months, is_core)
    (12, True), (1, True), (None, True), (12, False),
]
CERT = st.tuples(
    st.integers(0, 2),  # holder index
    st.integers(0, len(COURSES) - 1),  # course index
    st.dates(min_value=date(2024, 1, 1), max_value=date(2025, 12, 31)),  # completed on
    st.sampled_from(("verified", "verified", "pending", "rejected")),  # weighted towards the interesting case
)
# (active, in the agency rather than another), weighted towards holders that can count
HOLDER = st.sampled_from(((True, True), (True, True), (True, True), (False, True), (True, False)))
STATUS = st.sampled_from(("member",) * 6 + tuple(MEMBERSHIP_STATUSES))


def reference_certified(status, holders, courses, certificates, on: date) -> bool:
    """The rule in plain Python: a member, with an active own user holding a verified core certificate valid on `on`."""
    if status != "member":
        return False
    for holder_index, course_index, completed_on, cert_status, expires_on in certificates:
        active, own = holders[holder_index]
        _, is_core = courses[course_index]
        if (active and own and cert_status == "verified" and is_core and completed_on <= on
                and (expires_on is None or on <= expires_on)):
            return True
    return False


@given(
    status=STATUS,
    holders=st.tuples(HOLDER, HOLDER, HOLDER),
    certificates=st.lists(CERT, max_size=4),
    on=st.dates(min_value=date(2023, 12, 1), max_value=date(2027, 1, 31)),
)
@example(status="member", holders=((True, True), (False, True), (True, False)),
         certificates=[(0, 1, date(2025, 1, 31), "verified"), (1, 0, date(2025, 1, 1), "verified"),
                       (2, 0, date(2025, 1, 1), "verified"), (0, 3, date(2025, 1, 1), "verified")],
         on=date(2025, 2, 27))
@example(status="member", holders=((True, True), (True, True), (True, True)),
         certificates=[(0, 0, date(2025, 3, 1), "pending"), (1, 2, date(2025, 6, 1), "rejected")],
         on=date(2025, 6, 1))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_is_certified_matches_a_brute_force_reference(ctx, create_agency, status, holders, certificates, on):
    """Random certificates and dates: the SQL rule agrees with the reference on `on` and around every boundary."""
    agency_id = create_agency(membership_status=status)
    elsewhere_id = create_agency(membership_status="member")
    courses = [make_course(valid_months=months, is_core=core) for months, core in COURSES]
    users = []
    for index, (active, own) in enumerate(holders):
        holder = User(email=f"prop-{uuid.uuid4().hex[:10]}@example.org", name=f"Holder {index}",
                      agency_id=agency_id if own else elsewhere_id, active=active, created_at=NOW)
        db.session.add(holder)
        users.append(holder)
    db.session.flush()
    rows = []
    for holder_index, course_index, completed_on, cert_status in certificates:
        certificate = make_certificate(users[holder_index].id, courses[course_index], completed_on,
                                       status=cert_status)
        rows.append((holder_index, course_index, completed_on, cert_status, certificate.expires_on))
    days = {on}
    for _, _, completed_on, _, expires_on in rows:
        days.update({completed_on - timedelta(days=1), completed_on})
        if expires_on is not None:
            days.update({expires_on - timedelta(days=1), expires_on, expires_on + timedelta(days=1)})
    a = agency(agency_id)
    for day in sorted(days):
        expected = reference_certified(status, holders, COURSES, rows, day)
        assert ops.is_certified(a, at(day)) is expected, (day, status, holders, rows)


# ----- the membership workflow -------------------------------------------------------------------

ALLOWED = {(source, target) for source, targets in ops.TRANSITIONS.items() for target in targets}
FORBIDDEN = sorted(
    (source, target) for source in MEMBERSHIP_STATUSES for target in MEMBERSHIP_STATUSES
    if source != target and (source, target) not in ALLOWED
)


def test_the_workflow_is_the_one_in_the_issue():
    """prospect → applicant → in_training → member → suspended / lapsed, and listed for community resources."""
    assert ("prospect", "applicant") in ALLOWED
    assert ("applicant", "in_training") in ALLOWED
    assert ("in_training", "member") in ALLOWED
    assert {("member", "suspended"), ("member", "lapsed")} <= ALLOWED
    assert ("prospect", "listed") in ALLOWED
    for skipped in [("prospect", "member"), ("prospect", "in_training"), ("applicant", "member"),
                    ("listed", "member"), ("prospect", "suspended")]:
        assert skipped not in ALLOWED
    assert set(ops.TRANSITIONS) == set(MEMBERSHIP_STATUSES)


@pytest.mark.parametrize(("source", "target"), FORBIDDEN, ids=lambda value: value)
def test_each_forbidden_transition_is_refused(ctx, create_agency, create_user, source, target):
    """A skipped or backwards step is refused (even with a valid certificate), nothing changes or is recorded."""
    agency_id = create_agency(membership_status=source)
    holder = create_user(roles=("staff",), agency_id=agency_id)
    make_certificate(holder.id, make_course(valid_months=None), date(2024, 1, 1))
    chair = create_user(roles=("chair",), agency_id=None)
    with pytest.raises(ops.TransitionRefused):
        ops.change_membership(user(chair.id), agency(agency_id), target, "Because", at(date(2025, 6, 1)))
    db.session.expire_all()
    assert agency(agency_id).membership_status == source
    assert db.session.scalar(select(func.count()).select_from(MembershipChange)
                             .where(MembershipChange.agency_id == agency_id)) == 0


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED), ids=lambda value: value)
def test_each_allowed_transition_is_recorded(ctx, create_agency, create_user, source, target):
    """Allowed steps succeed (to member with a current certificate) and record who, when, from, to and why."""
    agency_id = create_agency(membership_status=source)
    holder = create_user(roles=("staff",), agency_id=agency_id)
    make_certificate(holder.id, make_course(valid_months=None), date(2024, 1, 1))
    chair = create_user(roles=("chair",), agency_id=None)
    t = at(date(2025, 6, 1), hour=14)
    change = ops.change_membership(user(chair.id), agency(agency_id), target, "  Board vote of 2 June  ", t)
    db.session.expire_all()
    assert agency(agency_id).membership_status == target
    row = db.session.get(MembershipChange, change.id)
    assert (row.agency_id, row.from_status, row.to_status) == (agency_id, source, target)
    assert row.changed_by_id == chair.id
    assert row.changed_at == t
    assert row.reason == "Board vote of 2 June"
    assert [h.id for h in ops.membership_history(agency(agency_id))] == [change.id]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "agency.membership_changed")) >= 1


@pytest.mark.parametrize("source", ["in_training", "suspended", "lapsed"])
def test_becoming_a_member_needs_a_current_verified_core_certificate(ctx, create_agency, create_user, source):
    """To member: refused with no, a pending, an expired, a non-core or a deactivated holder's certificate."""
    agency_id = create_agency(membership_status=source)
    holder = create_user(roles=("staff",), agency_id=agency_id)
    gone = create_user(roles=("staff",), agency_id=agency_id, active=False)
    chair = user(create_user(roles=("chair",), agency_id=None).id)
    core = make_course(valid_months=12)
    t = at(date(2025, 6, 1))

    def attempt():
        with pytest.raises(ops.TransitionRefused, match="verified, current core"):
            ops.change_membership(chair, agency(agency_id), "member", "Completed training", t)
        db.session.expire_all()
        assert agency(agency_id).membership_status == source

    attempt()
    make_certificate(holder.id, core, date(2025, 5, 1), status="pending")
    attempt()
    make_certificate(holder.id, core, date(2025, 5, 2), status="rejected")
    attempt()
    make_certificate(holder.id, core, date(2024, 5, 31))  # valid through 30 May 2025
    attempt()
    make_certificate(holder.id, make_course(valid_months=12, is_core=False), date(2025, 5, 1))
    attempt()
    make_certificate(gone.id, core, date(2025, 5, 1))
    attempt()
    make_certificate(holder.id, core, date(2024, 6, 1))  # valid through 31 May 2025, not 1 June
    attempt()
    make_certificate(holder.id, core, date(2025, 5, 1))
    ops.change_membership(chair, agency(agency_id), "member", "Completed training", t)
    db.session.expire_all()
    assert agency(agency_id).membership_status == "member"


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_a_reason_is_required(ctx, create_agency, create_user, reason):
    """No reason, no change."""
    agency_id = create_agency(membership_status="prospect")
    chair = create_user(roles=("chair",), agency_id=None)
    with pytest.raises(ops.TransitionRefused, match="why"):
        ops.change_membership(user(chair.id), agency(agency_id), "applicant", reason, at(date(2025, 6, 1)))
    db.session.expire_all()
    assert agency(agency_id).membership_status == "prospect"
    assert db.session.scalar(select(func.count()).select_from(MembershipChange)
                             .where(MembershipChange.agency_id == agency_id)) == 0


def test_every_change_is_kept_newest_first(ctx, create_agency, create_user):
    """Several steps: the history keeps each, newest first, with who and why."""
    agency_id = create_agency(membership_status="prospect")
    holder = create_user(roles=("staff",), agency_id=agency_id)
    chair = user(create_user(roles=("chair",), agency_id=None).id)
    make_certificate(holder.id, make_course(valid_months=None), date(2024, 1, 1))
    steps = [("applicant", "Applied"), ("in_training", "Enrolled"), ("member", "Trained"), ("suspended", "Audit"),
             ("member", "Audit closed")]
    for day, (target, why) in enumerate(steps, start=1):
        ops.change_membership(chair, agency(agency_id), target, why, at(date(2025, 6, day)))
    history = ops.membership_history(agency(agency_id))
    assert [(h.from_status, h.to_status, h.reason) for h in history] == [
        ("suspended", "member", "Audit closed"), ("member", "suspended", "Audit"), ("in_training", "member", "Trained"),
        ("applicant", "in_training", "Enrolled"), ("prospect", "applicant", "Applied"),
    ]
    assert {h.changed_by_id for h in history} == {chair.id}
    assert [h.changed_at for h in history] == [at(date(2025, 6, day)) for day in range(5, 0, -1)]


def test_a_stale_status_is_refused(app, ctx, create_agency, create_user):
    """Two chairs acting on the same status: the second one is told, not applied on top."""
    agency_id = create_agency(membership_status="prospect")
    chair_id = create_user(roles=("chair",), agency_id=None).id
    stale = agency(agency_id)  # loaded while still a prospect, as a form page would have
    db.session.expunge(stale)
    db.session.rollback()  # this request's transaction ends before the other chair's begins
    with app.app_context():
        ops.change_membership(db.session.get(User, chair_id), db.session.get(Agency, agency_id), "applicant",
                              "First chair", at(date(2025, 6, 1)))
    assert stale.membership_status == "prospect"
    with pytest.raises(ops.TransitionRefused, match="Someone else"):
        ops.change_membership(user(chair_id), stale, "listed", "Second chair", at(date(2025, 6, 1)))
    db.session.expire_all()
    assert agency(agency_id).membership_status == "applicant"
    assert [h.reason for h in ops.membership_history(agency(agency_id))] == ["First chair"]


# ----- certificates ------------------------------------------------------------------------------

def test_verify_then_a_second_decision_is_refused(ctx, member, create_user):
    """A chair verifies a pending certificate once; verifying or rejecting it again is refused."""
    _, holder_id = member
    chair = user(create_user(roles=("chair",), agency_id=None).id)
    certificate = make_certificate(holder_id, make_course(), date(2025, 1, 10), status="pending")
    t = at(date(2025, 2, 1))
    ops.decide_certificate(chair, certificate, True, "", t)
    assert (certificate.status, certificate.decided_by_id, certificate.decided_at) == ("verified", chair.id, t)
    with pytest.raises(ops.TransitionRefused, match="already been decided"):
        ops.decide_certificate(chair, certificate, True, "", t)
    with pytest.raises(ops.TransitionRefused):
        ops.decide_certificate(chair, certificate, False, "Wrong person", t)
    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).status == "verified"


def test_reject_keeps_the_reason_and_does_not_certify(ctx, member, create_user):
    """A rejected certificate keeps its reason and never counts."""
    agency_id, holder_id = member
    chair = user(create_user(roles=("chair",), agency_id=None).id)
    certificate = make_certificate(holder_id, make_course(), date(2025, 1, 10), status="pending")
    ops.decide_certificate(chair, certificate, False, "  Illegible scan  ", at(date(2025, 2, 1)))
    assert certificate.status == "rejected" and certificate.rejection_reason == "Illegible scan"
    with pytest.raises(ops.TransitionRefused):
        ops.decide_certificate(chair, certificate, True, "", at(date(2025, 2, 2)))
    assert not ops.is_certified(agency(agency_id), at(date(2025, 3, 1)))


def test_certificate_scope(ctx, create_agency, create_user):
    """Chairs see all; agency admins their agency's; staff their own; anyone else gets a 404."""
    first, second = create_agency(), create_agency()
    holder = create_user(roles=("staff",), agency_id=first)
    colleague = create_user(roles=("staff",), agency_id=first)
    own_admin = create_user(roles=("agency_admin",), agency_id=first)
    other_admin = create_user(roles=("agency_admin",), agency_id=second)
    other_staff = create_user(roles=("staff",), agency_id=second)
    system_admin = create_user(roles=("admin",), agency_id=second)
    chair = create_user(roles=("chair",), agency_id=None)
    certificate = make_certificate(holder.id, make_course(), date(2025, 1, 10))
    for allowed in (holder, own_admin, chair):
        assert ops.get_certificate_or_404(certificate.id, user(allowed.id)).id == certificate.id
        assert certificate.id in [c.id for c in db.session.scalars(ops.certificates_query(user(allowed.id)))]
    for refused in (colleague, other_admin, other_staff, system_admin):
        with pytest.raises(NotFound):
            ops.get_certificate_or_404(certificate.id, user(refused.id))
        assert certificate.id not in [c.id for c in db.session.scalars(ops.certificates_query(user(refused.id)))]


# ----- the chair's overview ---------------------------------------------------------------------

def test_overview_counts_certified_users_and_the_next_expiry(ctx, member, create_user):
    """Distinct active holders of valid verified core certificates, and the earliest of their expiries."""
    agency_id, holder_id = member
    second = create_user(roles=("staff",), agency_id=agency_id)
    gone = create_user(roles=("staff",), agency_id=agency_id, active=False)
    core = make_course(valid_months=12)
    make_certificate(holder_id, core, date(2025, 3, 1))  # through 28 Feb 2026
    make_certificate(holder_id, core, date(2025, 5, 1))  # through 30 Apr 2026 (same user: counted once)
    make_certificate(second.id, core, date(2025, 4, 15))  # through 14 Apr 2026
    make_certificate(gone.id, core, date(2025, 1, 1))  # inactive: ignored
    make_certificate(second.id, core, date(2025, 1, 1), status="pending")
    make_certificate(second.id, make_course(valid_months=1, is_core=False), date(2025, 6, 1))
    rows = ops.overview_rows([agency(agency_id)], at(date(2025, 6, 1)))
    row = rows[agency_id]
    assert row["certified"] is True
    assert row["certified_users"] == 2
    assert row["next_expiry"] == date(2026, 2, 28)
    assert row["losing_certification"] is False
    assert row["agreement_current"] is True


@pytest.mark.parametrize(("days_left", "losing"), [(0, True), (29, True), (30, False), (31, False)])
def test_losing_certification_within_30_days(ctx, member, days_left, losing):
    """The last certificate expiring within 30 days flags the agency and puts it on the chair's list."""
    agency_id, holder_id = member
    today = date(2025, 6, 1)
    make_certificate(holder_id, make_course(valid_months=12), date(2024, 6, 1),
                     expires_on=today + timedelta(days=days_left))
    t = at(today)
    assert ops.is_certified(agency(agency_id), t)
    assert ops.overview_rows([agency(agency_id)], t)[agency_id]["losing_certification"] is losing
    assert (agency_id in [a.id for a in ops.losing_certification(t)]) is losing


def test_a_later_certificate_prevents_the_flag(ctx, member, create_user):
    """If another holder stays certified beyond 30 days, the agency is not losing certification."""
    agency_id, holder_id = member
    other = create_user(roles=("staff",), agency_id=agency_id)
    today = date(2025, 6, 1)
    core = make_course(valid_months=12)
    make_certificate(holder_id, core, date(2024, 6, 1), expires_on=today + timedelta(days=5))
    make_certificate(other.id, core, date(2025, 5, 1))
    assert agency_id not in [a.id for a in ops.losing_certification(at(today))]
    assert ops.overview_rows([agency(agency_id)], at(today))[agency_id]["losing_certification"] is False


# ----- daily reminders ---------------------------------------------------------------------------

def _outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


@pytest.fixture
def reminder_world(ctx, create_agency, create_user):
    """An agency whose certificate is valid through 30 June 2026 and whose agreement runs to 31 July 2026."""
    agency_id = create_agency(name="Reminder Agency", membership_status="member", mou_signed_on=date(2025, 8, 1),
                              mou_renewal_on=date(2026, 7, 31))
    admin = create_user(roles=("agency_admin",), agency_id=agency_id, email="admin@reminder.example.org")
    create_user(roles=("agency_admin",), agency_id=agency_id, email="former@reminder.example.org", active=False)
    create_user(roles=("staff",), agency_id=agency_id, email="staff@reminder.example.org")
    other = create_agency(name="Unrelated Agency")
    create_user(roles=("agency_admin",), agency_id=other, email="admin@unrelated.example.org")
    holder = create_user(roles=("staff",), agency_id=agency_id)
    db.session.get(User, holder.id).name = "Rosa Holder"
    db.session.commit()
    make_certificate(holder.id, make_course(valid_months=12, name="Core Trafficking 101"), date(2025, 7, 1))
    before = {m.id for m in _outbox()}
    return {"admin": admin, "before": before}


def _new_mail(world) -> list[OutboxMessage]:
    return [m for m in _outbox() if m.id not in world["before"]]


def test_certificate_reminder_30_days_before_via_the_daily_command(runner, reminder_world):
    """`flask csrn daily --now` on 31 May 2026 tells the agency's active admins, nobody else."""
    result = runner.invoke(args=["csrn", "daily", "--now", "2026-05-31T08:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "1 expiry reminder(s) queued" in result.output
    mail = _new_mail(reminder_world)
    assert [m.to_addr for m in mail] == ["admin@reminder.example.org"]
    assert "Rosa Holder" in mail[0].body and "Core Trafficking 101" in mail[0].body
    assert "30 June 2026" in mail[0].body


def test_agreement_reminder_30_days_before_its_renewal(runner, reminder_world):
    """The agreement (renewal 31 July 2026) is announced on 1 July 2026."""
    result = runner.invoke(args=["csrn", "daily", "--now", "2026-07-01T08:00:00+00:00"])
    assert result.exit_code == 0, result.output
    mail = _new_mail(reminder_world)
    assert [m.to_addr for m in mail] == ["admin@reminder.example.org"]
    assert "referral agreement" in mail[0].body and "31 July 2026" in mail[0].body


@pytest.mark.parametrize("day", [date(2026, 5, 29), date(2026, 5, 30), date(2026, 6, 1), date(2026, 6, 29),
                                 date(2026, 6, 30), date(2026, 7, 2), date(2026, 7, 31)])
def test_no_reminder_on_other_days(reminder_world, day):
    """Not 29 or 31 days before, nor on the expiry day itself."""
    assert ops.expiry_reminders(at(day)) == "0 expiry reminder(s) queued"
    assert _new_mail(reminder_world) == []


def test_reminder_day_is_the_task_forces_local_day(reminder_world):
    """At 02:00 UTC on 1 June it is still 31 May in Chicago: the reminder goes then."""
    db.session.add(TaskForceSettings(id=1, timezone="America/Chicago"))
    db.session.commit()
    ops.expiry_reminders(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))
    assert [m.to_addr for m in _new_mail(reminder_world)] == ["admin@reminder.example.org"]
