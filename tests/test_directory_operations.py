"""Directory operations: search against a brute-force reference, the certified rule, open now, freshness links.

Services are made through the models (tests/directory_factories.py); times are given explicitly.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from csrn.agencies.models import Agency, Certificate, TrainingCourse
from csrn.auth import tokens
from csrn.auth.models import AuthToken, User
from csrn.directory import fulltext, receiving
from csrn.directory import operations as ops
from csrn.directory.models import CapacityConfirmation, Service
from csrn.extensions import db
from csrn.notify.models import OutboxMessage
from csrn.schedules import engine
from csrn.schedules.models import Holiday
from tests.conftest import NOW
from tests.directory_factories import (
    SENTINEL,
    build_service,
    make_location_factory,
    make_service_factory,
    set_settings,
)
from tests.referral_factories import RENEWAL, SIGNED, core_course, new_user

CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture
def create_service(app):
    return make_service_factory(app)


@pytest.fixture
def create_location(app):
    return make_location_factory(app)


def ids(services) -> set[int]:
    return {s.id for s in services}


def found(filters: ops.Filters, now: datetime = NOW) -> set[int]:
    return ids(db.session.scalars(ops.search_query(filters, now)).unique())


# ----- search against a brute-force reference -------------------------------------------------------

AGE = ["minor", "18_24", "25_plus"]
GENDER = ["female", "male", "transgender", "non_binary"]
CITIZENSHIP = ["us", "foreign"]
TRAFFICKING = ["sex", "labour"]
LANGUAGES = ["en", "es", "vi"]
INTERPRETATION = ["es", "vi", "ar"]
COUNTIES = ["Alder", "Birch", "Cedar"]
TYPES = {"case_management": "Case management", "emergency_shelter": "Emergency shelter", "medical": "Medical care"}
STATUSES = ["applicant", "in_training", "member", "listed", "suspended", "prospect", "lapsed"]
# Words with LIKE wildcards, quotes, a backslash and mixed case, so the text search is tested literally.
WORDS = ["Harbor", "hope", "SAFE", "50%", "5x0", "a_b", "axb", "Legal", "o'neil", "back\\slash", "' OR 1=1--",
         "Shelter", "CARE"]
QUERIES = ["", "harbor", "HOPE", "safe", "%", "_", "50%", "0%", "a_b", "x", "' OR 1=1--", "'", "--", "care",
           "shelter", "EMERG", "medical c", "\\", "back\\s", "o'n", "legal hope", "zzz"]


def words(max_size: int = 3):
    return st.lists(st.sampled_from(WORDS), max_size=max_size).map(" ".join)


def stated(values):
    """A facet: "not stated" about half the time, otherwise some of the values."""
    return st.one_of(st.just(frozenset()), st.frozensets(st.sampled_from(values), min_size=1))


def maybe(values):
    """A filter value: empty ("any") two times in three, so combinations still find services."""
    return st.one_of(st.just(""), st.just(""), st.sampled_from(values))


def sometimes():
    return st.sampled_from([False, False, True])


service_specs = st.fixed_dictionaries({
    "type": st.sampled_from(sorted(TYPES)),
    "name": words(2),
    "description": words(3),
    "status": st.sampled_from(["active", "active", "active", "inactive"]),
    "open_slots": st.one_of(st.none(), st.integers(0, 3)),
    "is_24_7": st.booleans(),
    "facets": st.fixed_dictionaries({
        "age": stated(AGE),
        "gender": stated(GENDER),
        "citizenship": stated(CITIZENSHIP),
        "trafficking": stated(TRAFFICKING),
        "language": stated(LANGUAGES),
        "interpretation": stated(INTERPRETATION),
        "county": stated(COUNTIES),
    }),
})

agency_specs = st.fixed_dictionaries({
    "name": words(3),
    "description": words(3),
    "status": st.sampled_from(STATUSES),
    "receivable": st.booleans(),  # an agreement and a certified user: `can_receive_referrals` if also a member
    "services": st.lists(service_specs, max_size=6),
})

filter_specs = st.builds(
    ops.Filters,
    q=maybe(QUERIES[1:]),
    service_type=maybe([*TYPES, "dental"]),
    age=maybe(AGE),
    gender=maybe(GENDER),
    citizenship=maybe(CITIZENSHIP),
    trafficking=maybe([*TRAFFICKING, "both"]),
    language=maybe(["en", "es", "vi", "ar", "fr"]),
    county=maybe([*COUNTIES, "Dogwood"]),
    accepting=sometimes(),
    twentyfour=sometimes(),
    community=st.booleans(),
)


def text_matches(q: str, haystacks: list[str]) -> bool:
    """Full-text search written plainly: every word or phrase of the text is in one of the texts, as whole words
    (the last one may be the beginning of a word), and no excluded one is; a text without words matches nothing.
    The vocabulary (WORDS, the type names) has no two words with the same stem, so no stemmer is needed here."""
    terms = fulltext.tokenize(q)
    fields = [re.findall(r"[^\W_]+", text.casefold()) for text in haystacks]

    def found(term: fulltext.Term) -> bool:
        *head, last = [word.casefold() for word in term.words]
        return any(
            words[i:i + len(head)] == head
            and (words[i + len(head)] == last or (term.prefix and words[i + len(head)].startswith(last)))
            for words in fields for i in range(len(words) - len(head)))

    return bool(terms) and all(found(term) != term.excluded for term in terms)


def reference_match(agency: dict, service: dict, f: ops.Filters) -> bool:
    """The directory's rules, written plainly."""
    facets = service["facets"]

    def eligible(kind: str, wanted: str) -> bool:  # "not stated" never excludes
        return not wanted or not facets[kind] or wanted in facets[kind]

    allowed = {"applicant", "in_training", "member"} | ({"listed"} if f.community else set())
    if service["status"] != "active" or agency["status"] not in allowed:
        return False
    if f.q:
        haystacks = [agency["name"], agency["description"], service["name"], service["description"],
                     TYPES[service["type"]]]
        if not text_matches(f.q, haystacks):
            return False
    if f.service_type and service["type"] != f.service_type:
        return False
    if not all(eligible(kind, getattr(f, kind)) for kind in ("age", "gender", "citizenship", "county")):
        return False
    if f.trafficking == "both":
        if facets["trafficking"] and not {"sex", "labour"} <= set(facets["trafficking"]):
            return False
    elif not eligible("trafficking", f.trafficking):
        return False
    if f.language and f.language not in set(facets["language"]) | set(facets["interpretation"]):
        return False
    receivable = agency["receivable"] and agency["status"] == "member"  # can_receive_referrals, written plainly
    if f.accepting and not (receivable and (service["open_slots"] or 0) > 0):
        return False
    return not (f.twentyfour and not service["is_24_7"])


def insert_world(agencies: list[dict]) -> dict[int, tuple[dict, dict]]:
    """Insert the agencies and their services in one flush; return service id -> (agency spec, service spec)."""
    rows = [Agency(name=spec["name"] or "Agency", description=spec["description"],
                   agency_type="victim_service_provider", membership_status=spec["status"],
                   mou_signed_on=SIGNED if spec["receivable"] else None,
                   mou_renewal_on=RENEWAL if spec["receivable"] else None,
                   created_at=NOW, updated_at=NOW) for spec in agencies]
    db.session.add_all(rows)
    db.session.flush()
    for row, spec in zip(rows, agencies, strict=True):
        if spec["receivable"]:
            holder = new_user(row.id)
            db.session.add(Certificate(user_id=holder.id, agency_id=row.id, course_id=core_course().id,
                                       completed_on=SIGNED, expires_on=None, status="verified", recorded_at=NOW))
    made = []
    for row, spec in zip(rows, agencies, strict=True):
        for service_spec in spec["services"]:
            service = build_service(
                row.id, service_spec["type"], facets=service_spec["facets"], name=service_spec["name"],
                description=service_spec["description"], status=service_spec["status"],
                open_slots=service_spec["open_slots"], is_24_7=service_spec["is_24_7"])
            made.append((service, spec, service_spec))
    db.session.flush()
    return {service.id: (spec, service_spec) for service, spec, service_spec in made}


def expected_ids(world: dict, f: ops.Filters) -> set[int]:
    return {sid for sid, (agency, service) in world.items() if reference_match(agency, service, f)}


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(agencies=st.lists(agency_specs, min_size=1, max_size=4),
       filter_list=st.lists(filter_specs, min_size=4, max_size=12))
def test_search_matches_a_brute_force_reference(app, agencies, filter_list):
    """Every generated filter combination finds exactly the services the plain-Python rules pick."""
    with app.app_context():
        assert db.session.scalar(select(Service.id).limit(1)) is None, "the test starts from no services"
        try:
            world = insert_world(agencies)
            for f in filter_list:
                expected = expected_ids(world, f)
                assert found(f) == expected, f
                page = ops.search(f, NOW, page=1, per_page=3)
                assert page.total == len(expected), f
                assert ids(page.items) <= expected and len(page.items) == min(3, len(expected))
        finally:
            db.session.rollback()


FILTER_VALUES = {
    "q": ["harbor", "HOPE", "%", "_", "a_b", "' OR 1=1--", "care", "EMERG", "\\", "o'n"],
    "service_type": [*TYPES, "dental"],
    "age": AGE,
    "gender": GENDER,
    "citizenship": CITIZENSHIP,
    "trafficking": [*TRAFFICKING, "both"],
    "language": ["en", "es", "vi", "ar", "fr"],
    "county": [*COUNTIES, "Dogwood"],
    "accepting": [True],
    "twentyfour": [True],
    "community": [True],
}


def test_every_pair_of_filters_matches_the_reference(app):
    """A fixed random world of about 100 services, searched with every value of every pair of filters."""
    import itertools
    import random

    rng = random.Random(4)  # noqa: S311 - test data
    sample = lambda values: [v for v in values if rng.random() < 0.5] if rng.random() < 0.6 else []  # noqa: E731
    agencies = [{
        "name": " ".join(rng.sample(WORDS, rng.randint(0, 2))) or f"Agency {i}",
        "description": " ".join(rng.sample(WORDS, rng.randint(0, 3))),
        "status": STATUSES[i % len(STATUSES)],
        "receivable": i % 3 != 1,
        "services": [{
            "type": rng.choice(sorted(TYPES)), "name": " ".join(rng.sample(WORDS, rng.randint(0, 2))),
            "description": " ".join(rng.sample(WORDS, rng.randint(0, 2))),
            "status": rng.choice(["active", "active", "active", "inactive"]),
            "open_slots": rng.choice([None, 0, 1, 3]), "is_24_7": rng.random() < 0.3,
            "facets": {"age": sample(AGE), "gender": sample(GENDER), "citizenship": sample(CITIZENSHIP),
                       "trafficking": sample(TRAFFICKING), "language": sample(LANGUAGES),
                       "interpretation": sample(INTERPRETATION), "county": sample(COUNTIES)},
        } for _ in range(rng.randint(2, 6))],
    } for i in range(28)]
    with app.app_context():
        try:
            world = insert_world(agencies)
            checked = nonempty = 0
            combinations = [ops.Filters()]
            for (name_a, values_a), (name_b, values_b) in itertools.combinations(FILTER_VALUES.items(), 2):
                for a, b in itertools.product(values_a, values_b):
                    combinations.append(ops.Filters(**{name_a: a, name_b: b}))
            for name, values in FILTER_VALUES.items():
                combinations += [ops.Filters(**{name: v}) for v in values]
            for f in combinations:
                expected = expected_ids(world, f)
                query = ops.search_query(f, NOW).with_only_columns(Service.id)  # the same conditions, ids only
                assert set(db.session.scalars(query)) == expected, f
                checked += 1
                nonempty += bool(expected)
            assert checked > 600 and nonempty > checked // 2  # the combinations really select things
        finally:
            db.session.rollback()


# ----- the same rules, one readable case each -------------------------------------------------------

@pytest.fixture
def pair(ctx, create_agency, create_service):
    """An agency with one service stating everything and one stating nothing."""
    agency_id = create_agency(name="Pair Agency")
    stated = create_service(agency_id, facets={
        "age": ["minor"], "gender": ["female"], "citizenship": ["foreign"], "trafficking": ["sex"],
        "language": ["es"], "interpretation": ["vi"], "county": ["Birch"]})
    silent = create_service(agency_id)
    return stated, silent


@pytest.mark.parametrize(("filters", "expect_stated"), [
    (ops.Filters(age="minor"), True), (ops.Filters(age="25_plus"), False),
    (ops.Filters(gender="female"), True), (ops.Filters(gender="male"), False),
    (ops.Filters(citizenship="foreign"), True), (ops.Filters(citizenship="us"), False),
    (ops.Filters(trafficking="sex"), True), (ops.Filters(trafficking="labour"), False),
    (ops.Filters(trafficking="both"), False), (ops.Filters(county="Birch"), True),
    (ops.Filters(county="Alder"), False),
])
def test_not_stated_never_excludes(pair, filters, expect_stated):
    """The silent service matches every eligibility filter; the stated one only its own values."""
    stated, silent = pair
    result = found(filters)
    assert silent in result
    assert (stated in result) is expect_stated


def test_both_trafficking_types_need_both_stated(ctx, create_agency, create_service):
    """"Both" finds services stating sex and labour, and those stating neither."""
    agency_id = create_agency()
    both = create_service(agency_id, facets={"trafficking": ["sex", "labour"]})
    sex_only = create_service(agency_id, facets={"trafficking": ["sex"]})
    labour_only = create_service(agency_id, facets={"trafficking": ["labour"]})
    neither = create_service(agency_id)
    assert found(ops.Filters(trafficking="both")) == {both, neither}
    assert found(ops.Filters(trafficking="labour")) == {both, labour_only, neither}
    assert sex_only in found(ops.Filters(trafficking="sex"))


def test_language_matches_spoken_or_interpreted_but_not_unstated(pair):
    """Spanish speakers and Vietnamese interpreters both count; a service stating no language does not."""
    stated, silent = pair
    assert found(ops.Filters(language="es")) == {stated}
    assert found(ops.Filters(language="vi")) == {stated}
    assert found(ops.Filters(language="ar")) == set()


def test_accepting_means_open_slots_and_24_7_means_24_7(ctx, create_agency, create_service):
    """Accepting referrals: a provider that can receive referrals (the one rule) with open slots."""
    agency_id = create_agency(mou_signed_on=SIGNED, mou_renewal_on=RENEWAL)
    _certify(agency_id, SIGNED, None, holder=True)
    full = create_service(agency_id, open_slots=0)
    untracked = create_service(agency_id, open_slots=None)
    room = create_service(agency_id, open_slots=2, is_24_7=True)
    uncertified_room = create_service(create_agency(), open_slots=4)
    assert found(ops.Filters(accepting=True)) == {room}
    assert found(ops.Filters(twentyfour=True)) == {room}
    assert found(ops.Filters()) == {full, untracked, room, uncertified_room}


def test_accepting_lists_only_providers_that_can_receive_referrals(ctx, create_agency, create_service):
    """Every result of "Accepting referrals" passes `can_receive_referrals`; one with room that does not is left
    out (no certificate, a lapsed agreement, an applicant)."""
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    shown = create_agency(name="Receives", mou_signed_on=SIGNED, mou_renewal_on=RENEWAL)
    lapsed = create_agency(name="Lapsed agreement", mou_signed_on=SIGNED, mou_renewal_on=date(2026, 5, 1))
    applicant = create_agency(name="Applicant", membership_status="applicant", mou_signed_on=SIGNED,
                              mou_renewal_on=RENEWAL)
    for agency_id in (shown, lapsed, applicant):
        _certify(agency_id, SIGNED, None, holder=True)
    uncertified = create_agency(name="No certificate", mou_signed_on=SIGNED, mou_renewal_on=RENEWAL)
    services = {create_service(agency_id, open_slots=3): agency_id
                for agency_id in (shown, lapsed, applicant, uncertified)}
    accepting = found(ops.Filters(accepting=True), now)
    assert {services[s] for s in accepting} == {shown}
    assert all(receiving.can_receive_referrals(db.session.get(Service, s).agency, None, now) for s in accepting)
    assert {s for s in services if receiving.can_receive_referrals(db.session.get(Service, s).agency, None, now)} \
        == accepting


def test_community_resources_only_when_asked_and_never_suspended_or_inactive(ctx, create_agency, create_service):
    """Listed agencies appear with `community`; suspended, lapsed and prospect ones and inactive services never."""
    shown = {status: create_service(create_agency(membership_status=status))
             for status in ("applicant", "in_training", "member")}
    listed = create_service(create_agency(membership_status="listed"))
    hidden = {create_service(create_agency(membership_status=status))
              for status in ("suspended", "lapsed", "prospect")}
    inactive = create_service(create_agency(membership_status="member"), status="inactive")
    assert found(ops.Filters()) == set(shown.values())
    assert found(ops.Filters(community=True)) == set(shown.values()) | {listed}
    assert not (hidden | {inactive}) & found(ops.Filters(community=True))


@pytest.mark.parametrize("term", ["' OR 1=1--", "%", "_", "%%", "\\", "'; DROP TABLE service; --"])
def test_injection_and_wildcards_find_nothing_extra(ctx, create_agency, create_service, term):
    """V4: SQL text is searched for as words and wildcards are no words: neither widens the search (a text
    without a word in it finds nothing)."""
    create_service(create_agency(name="Plain Harbor"), name="Counselling", description="Weekly groups")
    literal = create_service(create_agency(name=f"Agency {term} here"))
    assert found(ops.Filters(q=term)) == ({literal} if any(c.isalnum() for c in term) else set())


def test_text_search_is_case_insensitive_over_every_text(ctx, create_agency, create_service):
    by_agency = create_service(create_agency(name="Riverbend Alliance"))
    by_agency_text = create_service(create_agency(description="We run a riverbend drop-in."))
    by_name = create_service(create_agency(), name="RIVERBEND beds")
    by_text = create_service(create_agency(), description="Near the Riverbend bridge")
    create_service(create_agency(name="Elsewhere"))
    assert found(ops.Filters(q="rIvErBeNd")) == {by_agency, by_agency_text, by_name, by_text}
    by_type = create_service(create_agency(), type_code="emergency_shelter")
    assert by_type in found(ops.Filters(q="emergency SHELTER"))


# ----- certified only: the one rule ------------------------------------------------------------------

def _certify(agency_id: int, completed_on: date, expires_on: date | None, holder: bool = False) -> None:
    if holder:
        new_user(agency_id)
    course = db.session.scalar(select(TrainingCourse).where(TrainingCourse.name == "Core directory course"))
    if course is None:
        course = TrainingCourse(name="Core directory course", hours=8, valid_months=12, is_core=True, active=True,
                                created_at=NOW)
        db.session.add(course)
        db.session.flush()
    user_id = db.session.scalar(select(User.id).where(User.agency_id == agency_id))
    db.session.add(Certificate(user_id=user_id, agency_id=agency_id, course_id=course.id, completed_on=completed_on,
                               expires_on=expires_on, status="verified", recorded_at=NOW))
    db.session.commit()


def test_certified_only_uses_the_one_rule(ctx, create_agency, create_user, create_service):
    """Certified and agreement current: shown. Uncertified, expired certificate, lapsed agreement: not."""
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    signed, renewal = date(2024, 1, 1), date(2027, 12, 31)
    names = {}
    for name, status, cert, mou_renewal in [
        ("good", "member", (date(2026, 1, 1), date(2026, 12, 31)), renewal),
        ("uncertified", "applicant", None, renewal),
        ("no_certificate_member", "member", None, renewal),
        ("expired", "member", (date(2024, 1, 1), date(2024, 12, 31)), renewal),
        ("lapsed_agreement", "member", (date(2026, 1, 1), date(2026, 12, 31)), date(2026, 5, 1)),
        ("listed", "listed", (date(2026, 1, 1), date(2026, 12, 31)), renewal),
    ]:
        agency_id = create_agency(name=name, membership_status=status, mou_signed_on=signed,
                                  mou_renewal_on=mou_renewal)
        create_user(roles=("staff",), agency_id=agency_id)
        if cert:
            _certify(agency_id, *cert)
        names[create_service(agency_id)] = name
    certified = found(ops.Filters(certified=True, community=True), now)
    assert {names[s] for s in certified} == {"good"}
    everyone = found(ops.Filters(community=True), now)
    assert certified == {s for s in everyone
                         if receiving.can_receive_referrals(db.session.get(Service, s).agency, None, now)}


# ----- open now: midnight, holidays, closures, daylight saving ----------------------------------------

def _service(create_agency, create_service, **kwargs) -> Service:
    return db.session.get(Service, create_service(create_agency(), **kwargs))


def _open(service: Service, at: datetime, holidays: set | None = None) -> bool:
    return ops.is_open(service, at, holidays if holidays is not None else set(), CHICAGO)


def test_overnight_span_is_open_after_midnight(ctx, create_agency, create_service):
    """Friday 22:00–02:00: open Saturday 01:30 local, closed at 02:30, and not on Sunday morning."""
    service = _service(create_agency, create_service, weekly=[(4, time(22), time(2))])
    friday, saturday, sunday = date(2026, 1, 9), date(2026, 1, 10), date(2026, 1, 11)
    at = lambda day, h, m=0: datetime.combine(day, time(h, m), tzinfo=CHICAGO)  # noqa: E731
    assert not _open(service, at(friday, 21, 59))
    assert _open(service, at(friday, 22, 0))
    assert _open(service, at(friday, 23, 59))
    assert _open(service, at(saturday, 0, 0))
    assert _open(service, at(saturday, 1, 30))
    assert not _open(service, at(saturday, 2, 30))
    assert not _open(service, at(sunday, 1, 30))
    assert ops.opening_status(service, at(saturday, 1, 30), set(), CHICAGO) == "Open now until 02:00"
    assert ops.opening_status(service, at(saturday, 2, 30), set(), CHICAGO) == "Closed · opens Fri 16 Jan at 22:00"


def test_holidays_close_services_that_say_so(ctx, create_agency, create_service):
    """On a task-force holiday a service closed on holidays is closed; one that is not stays open."""
    db.session.add(Holiday(day=date(2026, 12, 25), name="Christmas Day"))
    db.session.commit()
    from csrn.schedules import operations as schedule_ops

    holidays = schedule_ops.holiday_set()
    weekdays = [(d, time(9), time(17)) for d in range(5)]
    closes = _service(create_agency, create_service, weekly=weekdays, closed_on_holidays=True)
    stays = _service(create_agency, create_service, weekly=weekdays, closed_on_holidays=False)
    noon = datetime(2026, 12, 25, 12, tzinfo=CHICAGO)
    assert not _open(closes, noon, holidays)
    assert _open(stays, noon, holidays)
    assert _open(closes, noon - timedelta(days=1), holidays)
    assert ops.opening_status(closes, noon, holidays, CHICAGO) == "Closed · opens Mon 28 Dec at 09:00"


def test_closure_ranges_close_whole_days(ctx, create_agency, create_service):
    """A closure from 21 to 23 December closes those days only; it closes a 24/7 service too."""
    weekdays = [(d, time(9), time(17)) for d in range(5)]
    closure = [(date(2026, 12, 21), date(2026, 12, 23))]
    service = _service(create_agency, create_service, weekly=weekdays, closures=closure)
    always = _service(create_agency, create_service, is_24_7=True, closures=closure, closed_on_holidays=False)
    assert _open(service, datetime(2026, 12, 18, 12, tzinfo=CHICAGO))
    for day in (21, 22, 23):
        assert not _open(service, datetime(2026, 12, day, 12, tzinfo=CHICAGO))
        assert not _open(always, datetime(2026, 12, day, 12, tzinfo=CHICAGO))
    assert _open(service, datetime(2026, 12, 24, 12, tzinfo=CHICAGO))
    assert _open(always, datetime(2026, 12, 24, 0, 0, tzinfo=CHICAGO))


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_spring_forward_span(ctx, create_agency, create_service):
    """2026-03-08 (Sunday) 01:30–03:30 local is 07:30–08:30 UTC: the 02:00 hour does not exist."""
    service = _service(create_agency, create_service, weekly=[(6, time(1, 30), time(3, 30))])
    assert not _open(service, _utc(2026, 3, 8, 7, 29))
    assert _open(service, _utc(2026, 3, 8, 7, 31))
    assert _open(service, _utc(2026, 3, 8, 8, 29))
    assert not _open(service, _utc(2026, 3, 8, 8, 31))
    schedule = ops.schedule_of(service, set())
    assert engine.intervals(schedule, _utc(2026, 3, 8), _utc(2026, 3, 9), CHICAGO) == [
        (_utc(2026, 3, 8, 7, 30), _utc(2026, 3, 8, 8, 30))]


def test_fall_back_span(ctx, create_agency, create_service):
    """2026-11-01 (Sunday) 01:30–03:30 local is 06:30–09:30 UTC: the 01:00 hour happens twice."""
    service = _service(create_agency, create_service, weekly=[(6, time(1, 30), time(3, 30))])
    schedule = ops.schedule_of(service, set())
    assert engine.intervals(schedule, _utc(2026, 11, 1), _utc(2026, 11, 2), CHICAGO) == [
        (_utc(2026, 11, 1, 6, 30), _utc(2026, 11, 1, 9, 30))]
    assert _open(service, _utc(2026, 11, 1, 9, 0))
    assert not _open(service, _utc(2026, 11, 1, 9, 31))


@pytest.mark.parametrize(("day", "opens_utc", "closes_utc"), [
    (date(2026, 1, 5), 15, 23),   # winter (CST, UTC-6)
    (date(2026, 3, 6), 15, 23),   # the Friday before spring forward
    (date(2026, 3, 9), 14, 22),   # the Monday after
    (date(2026, 7, 6), 14, 22),   # summer (CDT, UTC-5)
    (date(2026, 10, 30), 14, 22),  # the Friday before fall back
    (date(2026, 11, 2), 15, 23),  # the Monday after
])
def test_nine_to_five_local_follows_daylight_saving(ctx, create_agency, create_service, day, opens_utc, closes_utc):
    """"9–5 local" is 15:00–23:00 UTC in winter and 14:00–22:00 UTC in summer."""
    service = _service(create_agency, create_service, weekly=[(d, time(9), time(17)) for d in range(5)])
    schedule = ops.schedule_of(service, set())
    start = datetime.combine(day, time(0), tzinfo=UTC)
    assert engine.intervals(schedule, start, start + timedelta(days=1), CHICAGO) == [
        (start.replace(hour=opens_utc), start.replace(hour=closes_utc))]
    assert _open(service, start.replace(hour=opens_utc, minute=1))
    assert not _open(service, start.replace(hour=opens_utc - 1, minute=59))
    assert not _open(service, start.replace(hour=closes_utc, minute=1))


def test_next_opening_across_spring_forward(ctx, create_agency, create_service):
    """Closed on Saturday 7 March: opens Monday 9 March at 09:00 local, which is 14:00 UTC."""
    service = _service(create_agency, create_service, weekly=[(d, time(9), time(17)) for d in range(5)])
    saturday = datetime(2026, 3, 7, 12, tzinfo=CHICAGO)
    assert engine.next_opening(ops.schedule_of(service, set()), saturday, CHICAGO) == _utc(2026, 3, 9, 14)
    assert ops.opening_status(service, saturday, set(), CHICAGO) == "Closed · opens Mon 9 Mar at 09:00"


def test_open_now_filter_uses_the_engine_in_the_task_force_zone(app, ctx, create_agency, create_service):
    """At Saturday 01:30 Chicago time the overnight Friday span is open, the 9–5 one is not."""
    set_settings(app, timezone="America/Chicago")
    agency_id = create_agency()
    overnight = create_service(agency_id, weekly=[(4, time(22), time(2))])
    create_service(agency_id, weekly=[(d, time(9), time(17)) for d in range(5)])
    always = create_service(agency_id, is_24_7=True)
    now = datetime(2026, 1, 10, 1, 30, tzinfo=CHICAGO).astimezone(UTC)
    page = ops.search(ops.Filters(open_now=True), now)
    assert ids(page.items) == {overnight, always} and page.total == 2
    assert ids(ops.all_results(ops.Filters(open_now=True), now)) == {overnight, always}


# ----- capacity and confirmation -------------------------------------------------------------------------

def test_update_capacity_confirms_and_records(ctx, create_agency, create_service):
    agency_id = create_agency()
    service = db.session.get(Service, create_service(agency_id, confirmed_at=NOW - timedelta(days=40)))
    assert service.is_stale(NOW)
    ops.update_capacity(None, service, 3, 1, NOW)
    service = db.session.get(Service, service.id)
    assert (service.open_slots, service.waitlist, service.capacity_confirmed_at) == (3, 1, NOW)
    assert not service.is_stale(NOW)
    assert service.is_stale(NOW + timedelta(days=30, seconds=1)) and not service.is_stale(NOW + timedelta(days=30))
    row = db.session.scalar(select(CapacityConfirmation).where(CapacityConfirmation.agency_id == agency_id))
    assert row.method == "inline" and row.confirmed_at == NOW


def test_confirm_agency_confirms_its_active_services_only(ctx, create_agency, create_service):
    agency_id = create_agency()
    old = NOW - timedelta(days=45)
    active = [create_service(agency_id, confirmed_at=old) for _ in range(2)]
    inactive = create_service(agency_id, confirmed_at=old, status="inactive")
    other = create_service(create_agency(), confirmed_at=old)
    assert ops.confirm_agency(None, db.session.get(Agency, agency_id), NOW, "link") == 2
    db.session.expire_all()
    assert [db.session.get(Service, s).capacity_confirmed_at for s in active] == [NOW, NOW]
    assert db.session.get(Service, inactive).capacity_confirmed_at == old
    assert db.session.get(Service, other).capacity_confirmed_at == old


def test_visible_locations_by_purpose(ctx, create_agency, create_user, create_location):
    """Print, export and API get public ones; other agencies' profiles add members-only; own users see all."""
    agency_id = create_agency()
    create_location(agency_id, "public", "Front door", "1 Main Street")
    create_location(agency_id, "members", "Office", "2 Back Street")
    create_location(agency_id, "confidential", "Shelter", f"{SENTINEL} Hidden Lane")
    agency = db.session.get(Agency, agency_id)
    own = db.session.get(User, create_user(agency_id=agency_id).id)
    other = db.session.get(User, create_user().id)
    chair = db.session.get(User, create_user(roles=("chair",)).id)
    names = lambda viewer, purpose: [loc.name for loc in ops.visible_locations(agency, viewer, purpose)]  # noqa: E731
    assert names(own, "profile") == ["Front door", "Office", "Shelter"]
    assert names(other, "profile") == ["Front door", "Office"]
    assert names(chair, "profile") == ["Front door", "Office"]
    for purpose in ("print", "export", "api"):
        assert names(own, purpose) == ["Front door"]
        assert names(None, purpose) == ["Front door"]


# ----- freshness: the daily confirmation links -----------------------------------------------------------

@pytest.fixture
def stale_agency(app, ctx, create_agency, create_service, create_location, monkeypatch):
    """An agency with a point of contact, one stale and one fresh service, and a confidential shelter."""
    monkeypatch.setitem(app.config, "CSRN_BASE_URL", "https://csrn.example.org")
    agency_id = create_agency(name="Stale Shelter", poc_name="Pat Contact", poc_email="pat@stale.example.org")
    stale = create_service(agency_id, confirmed_at=NOW - timedelta(days=31))
    fresh = create_service(agency_id, confirmed_at=NOW - timedelta(days=2))
    create_location(agency_id, "confidential", f"{SENTINEL} shelter", f"{SENTINEL} Hidden Lane")
    fresh_agency = create_agency(poc_email="fresh@example.org")
    create_service(fresh_agency, confirmed_at=NOW - timedelta(days=29))
    quiet = create_agency(poc_email="")
    create_service(quiet, confirmed_at=None)
    inactive_only = create_agency(poc_email="inactive@example.org")
    create_service(inactive_only, confirmed_at=None, status="inactive")
    return {"agency_id": agency_id, "stale": stale, "fresh": fresh}


def _mail() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


LINK = re.compile(r"https://csrn\.example\.org/directory/confirm/([A-Za-z0-9_-]+)")


def test_stale_reminder_sends_one_link_to_the_point_of_contact(stale_agency):
    assert ops.stale_reminders(NOW) == "1 confirmation link(s) queued"
    mail = _mail()
    assert [m.to_addr for m in mail] == ["pat@stale.example.org"]
    body = mail[0].body
    assert "Pat Contact" in body and SENTINEL not in body
    match = LINK.search(body)
    assert match, body
    token = tokens.find_valid("capacity", match.group(1), NOW)
    assert token is not None and token.agency_id == stale_agency["agency_id"]
    assert token.expires_at == NOW + timedelta(days=7)
    stored = db.session.scalars(select(AuthToken.token_hash).where(AuthToken.agency_id == token.agency_id)).all()
    assert match.group(1) not in stored  # stored hashed only


def test_stale_reminder_not_twice_within_seven_days(stale_agency):
    """Within 7 days of a link the agency gets no other; after that a new link replaces the old one."""
    def to_pat() -> list[str]:
        return [LINK.search(m.body).group(1) for m in _mail() if m.to_addr == "pat@stale.example.org"]

    ops.stale_reminders(NOW)
    ops.stale_reminders(NOW + timedelta(hours=1))
    ops.stale_reminders(NOW + timedelta(days=6, hours=23))
    assert len(to_pat()) == 1
    later = NOW + timedelta(days=7, hours=1)
    ops.stale_reminders(later)
    first, second = to_pat()
    assert tokens.find_valid("capacity", first, later) is None  # the newer link retires the older one
    assert tokens.find_valid("capacity", second, later) is not None


def test_the_daily_command_queues_the_links(runner, stale_agency):
    """`flask csrn daily` runs outside any request; the link is still built from CSRN_BASE_URL."""
    result = runner.invoke(args=["csrn", "daily", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert "1 confirmation link(s) queued" in result.output
    assert [m.to_addr for m in _mail() if LINK.search(m.body)] == ["pat@stale.example.org"]
