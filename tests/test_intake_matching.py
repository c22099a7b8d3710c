"""Matching (DESIGN §4.1 step 4): the pure function against a brute-force reference, then the candidates it is
fed from the directory (receivable, stale capacity, open now, pending offers)."""

from __future__ import annotations

import random
from datetime import date, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csrn.directory.models import Service
from csrn.extensions import db
from csrn.intake import matching
from csrn.intake import operations as intake_ops
from csrn.intake.matching import Candidate, Person
from csrn.schedules.models import ScheduleRule
from tests.conftest import NOW
from tests.referral_factories import make_provider, make_sender, send_intake, type_id

AGES = ("minor", "18_24", "25_plus")
GENDERS = ("female", "male", "transgender", "non_binary")
CITIZENSHIP = ("us", "foreign")
TRAFFICKING = ("sex", "labour")
LANGUAGES = ("en", "es", "vi", "tl")
COUNTIES = ("Alder", "Cedar", "Dunmore")


# ----- the reference: written from DESIGN §4.1, not from the code ----------------------------------

def reference_admits(c: Candidate, p: Person) -> bool:
    """Hard filters, each spelled out."""
    if not c.receivable:
        return False
    for kind, value in (("age", p.age_group), ("gender", p.gender), ("citizenship", p.citizenship)):
        stated = c.facets.get(kind, set())
        if value != "unknown" and stated and value not in stated:
            return False
    stated = c.facets.get("trafficking", set())
    if p.trafficking_type == "both" and stated and not ("sex" in stated and "labour" in stated):
        return False
    if p.trafficking_type in ("sex", "labour") and stated and p.trafficking_type not in stated:
        return False
    return not (p.urgency == "emergency" and not (c.open_now or c.is_24_7))


def reference_key(c: Candidate, p: Person) -> tuple:
    """Higher is better: slots (open > stale or unknown > full), language (spoken > interpreted > none),
    area, fewer pending offers."""
    if c.stale or c.open_slots is None:
        slots = 1
    elif c.open_slots > 0:
        slots = 2
    else:
        slots = 0
    wanted = set(p.languages)
    if not wanted:
        language = 1
    elif wanted & c.facets.get("language", set()):
        language = 2
    elif wanted & c.facets.get("interpretation", set()):
        language = 1
    else:
        language = 0
    counties = c.facets.get("county", set())
    area = 0 if p.county and counties and p.county not in counties else 1
    return (slots, language, area, -c.pending_offers)


def subset(values):
    return st.sets(st.sampled_from(values), max_size=len(values))


people = st.builds(
    Person,
    age_group=st.sampled_from((*AGES, "unknown")),
    gender=st.sampled_from((*GENDERS, "unknown")),
    citizenship=st.sampled_from((*CITIZENSHIP, "unknown")),
    trafficking_type=st.sampled_from((*TRAFFICKING, "both", "unknown")),
    languages=st.lists(st.sampled_from(LANGUAGES), max_size=2, unique=True).map(tuple),
    county=st.sampled_from(("", *COUNTIES)),
    urgency=st.sampled_from(("emergency", "urgent", "routine")),
)


@st.composite
def candidate_lists(draw):
    count = draw(st.integers(min_value=0, max_value=12))
    candidates = []
    for service_id in range(1, count + 1):
        agency_id = draw(st.integers(min_value=1, max_value=5))
        candidates.append(Candidate(
            agency_id=agency_id, agency_name=f"Agency {agency_id}", service_id=service_id,
            service_title=f"Service {service_id}", receivable=draw(st.booleans()),
            facets={"age": draw(subset(AGES)), "gender": draw(subset(GENDERS)),
                    "citizenship": draw(subset(CITIZENSHIP)), "trafficking": draw(subset(TRAFFICKING)),
                    "language": draw(subset(LANGUAGES)), "interpretation": draw(subset(LANGUAGES)),
                    "county": draw(subset(COUNTIES))},
            open_slots=draw(st.none() | st.integers(min_value=0, max_value=3)), stale=draw(st.booleans()),
            is_24_7=draw(st.booleans()), open_now=draw(st.booleans()),
            pending_offers=draw(st.integers(min_value=0, max_value=3)),
        ))
    return candidates


@given(person=people, candidates=candidate_lists())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_match_equals_the_brute_force_reference(person, candidates):
    """The same providers as the reference, one entry per agency (its best service), best first."""
    result = matching.match(person, candidates)
    admitted = [c for c in candidates if reference_admits(c, person)]

    assert {m.candidate.agency_id for m in result} == {c.agency_id for c in admitted}
    assert len(result) == len({m.candidate.agency_id for m in result})  # one entry per agency
    for m in result:
        assert reference_admits(m.candidate, person)
        best_of_agency = max(reference_key(c, person) for c in admitted if c.agency_id == m.candidate.agency_id)
        assert reference_key(m.candidate, person) == best_of_agency
        assert m.reasons  # every candidate says why it ranks where it does
    keys = [reference_key(m.candidate, person) for m in result]
    assert keys == sorted(keys, reverse=True)
    # Filtered candidates are explained by hard_failures; admitted ones have none.
    for c in candidates:
        assert (not matching.hard_failures(c, person)) == reference_admits(c, person)


def candidate(agency_id=1, **fields) -> Candidate:
    base = {"agency_name": f"Agency {agency_id}", "service_id": agency_id, "service_title": "Case management",
            "receivable": True, "open_slots": 2, "stale": False}
    return Candidate(agency_id=agency_id, **{**base, **fields})


def test_unknown_and_not_stated_never_exclude():
    """"Unknown" on the person and "not stated" on the service both keep the provider."""
    strict = candidate(1, facets={"age": {"minor"}, "gender": {"male"}, "citizenship": {"us"},
                                  "trafficking": {"labour"}})
    silent = candidate(2, facets={})
    unknown = Person()
    assert [m.candidate.agency_id for m in matching.match(unknown, [strict, silent])] == [1, 2]
    stated = Person(age_group="25_plus", gender="female", citizenship="foreign", trafficking_type="sex")
    assert [m.candidate.agency_id for m in matching.match(stated, [strict, silent])] == [2]


def test_both_trafficking_types_need_both_stated():
    """"Both" needs sex and labour stated (or nothing stated)."""
    sex_only = candidate(1, facets={"trafficking": {"sex"}})
    both = candidate(2, facets={"trafficking": {"sex", "labour"}})
    silent = candidate(3)
    assert [m.candidate.agency_id for m in matching.match(Person(trafficking_type="both"),
                                                          [sex_only, both, silent])] == [2, 3]


def test_emergency_needs_open_now_or_24_7():
    """An emergency filters out providers closed now; other urgencies keep them."""
    closed = candidate(1)
    open_now = candidate(2, open_now=True)
    always = candidate(3, is_24_7=True)
    assert {m.candidate.agency_id for m in matching.match(Person(urgency="emergency"), [closed, open_now, always])} \
        == {2, 3}
    assert len(matching.match(Person(urgency="urgent"), [closed, open_now, always])) == 3


def test_stale_capacity_ranks_between_full_and_open():
    """Open (confirmed) > stale or unknown > full (confirmed), whatever the names."""
    full = candidate(1, agency_name="A full", open_slots=0)
    stale = candidate(2, agency_name="B stale", open_slots=4, stale=True)
    unknown = candidate(3, agency_name="C unknown", open_slots=None)
    fresh = candidate(4, agency_name="D open", open_slots=1)
    result = matching.match(Person(), [full, stale, unknown, fresh])
    assert [m.candidate.agency_id for m in result] == [4, 2, 3, 1]
    assert "no open slots" in result[-1].misses
    assert any("capacity unknown" in miss for miss in result[1].misses)


def test_language_then_area_then_fewest_pending_offers():
    """Spoken beats interpreted beats none; then county; then fewer pending offers."""
    person = Person(languages=("es",), county="Cedar")
    spoken = candidate(1, agency_name="Z", facets={"language": {"es"}, "county": {"Alder"}}, pending_offers=9)
    interpreted = candidate(2, agency_name="Y", facets={"interpretation": {"es"}, "county": {"Cedar"}})
    none_busy = candidate(3, agency_name="X", facets={"county": {"Cedar"}}, pending_offers=2)
    none_idle = candidate(4, agency_name="W", facets={"county": {"Cedar"}}, pending_offers=0)
    none_far = candidate(5, agency_name="V", facets={"county": {"Dunmore"}})
    result = matching.match(person, [none_far, none_busy, interpreted, none_idle, spoken])
    assert [m.candidate.agency_id for m in result] == [1, 2, 4, 3, 5]
    assert "speaks the person's language" in result[0].reasons
    assert "does not list Cedar County in its service area" in result[-1].misses


# ----- the candidates fed to the matcher come from the directory -------------------------------------

def test_load_candidates_reads_receivable_stale_open_now_and_pending(ctx):
    """Not receivable, stale, open now and pending offers come from the database as matching needs them."""
    fresh = make_provider("Fresh", open_slots=3)
    stale = make_provider("Stale", confirmed=False)
    uncertified = make_provider("Uncertified", certified=False)
    no_agreement = make_provider("No agreement", agreement=False)
    suspended = make_provider("Suspended", membership_status="suspended")
    office = make_provider("Office", is_24_7=False,
                           weekly=[(NOW.weekday(), time(9), time(17))])  # NOW is 15:00 UTC
    closed = make_provider("Closed", is_24_7=False, weekly=[((NOW.weekday() + 1) % 7, time(9), time(17))])
    # Two pending offers for Fresh.
    sender = make_sender()
    send_intake(sender, receiver=fresh.agency_id)
    send_intake(sender, receiver=fresh.agency_id)

    loaded = {c.agency_id: c for c in intake_ops.load_candidates(
        db.session.get(Service, fresh.service_id).service_type, NOW)}
    assert suspended.agency_id not in loaded  # not a member: not even a candidate
    assert loaded[fresh.agency_id].receivable and loaded[fresh.agency_id].pending_offers == 2
    assert loaded[fresh.agency_id].open_slots == 3 and not loaded[fresh.agency_id].stale
    assert loaded[stale.agency_id].stale
    assert not loaded[uncertified.agency_id].receivable
    assert not loaded[no_agreement.agency_id].receivable
    assert loaded[office.agency_id].open_now and not loaded[office.agency_id].is_24_7
    assert not loaded[closed.agency_id].open_now

    emergency = intake_ops.match_case_management({"urgency": "emergency"}, NOW)
    names = {m.candidate.agency_name for m in emergency}
    assert {"Fresh", "Stale", "Office"} <= names
    assert not names & {"Uncertified", "No agreement", "Suspended", "Closed"}
    assert "Closed" in {m.candidate.agency_name for m in intake_ops.match_case_management({"urgency": "routine"}, NOW)}


def test_only_the_needed_service_type_is_a_candidate(ctx):
    """A provider of shelter only is no case-management candidate, and counts for shelter."""
    shelter = make_provider("Shelter only", type_codes=("emergency_shelter",))
    cm = intake_ops.match_case_management({}, NOW)
    assert shelter.agency_id not in {m.candidate.agency_id for m in cm}
    shelter_type = db.session.get(Service, shelter.service_id).service_type
    assert shelter_type.id == type_id("emergency_shelter")
    assert shelter.agency_id in {c.agency_id for c in intake_ops.load_candidates(shelter_type, NOW)}
    assert intake_ops.unmet_needs({"needs": ["emergency_shelter"]}, NOW) == []
    stale_far_future = NOW + timedelta(days=3650)  # certificates and agreements still hold; capacity goes stale
    assert intake_ops.load_candidates(shelter_type, stale_far_future)[0].stale


def test_open_now_reads_overnight_spans_and_closures(ctx):
    """Open now: an overnight span from the day before still running; closed: today's hours cancelled by a closure,
    or hours that start tomorrow. NOW is Saturday 15:00 in the task force's zone (UTC without settings)."""
    overnight = make_provider("Overnight", is_24_7=False, weekly=[(4, time(20), time(16))])  # Friday to Saturday
    closed_today = make_provider("Closed today", is_24_7=False, weekly=[(5, time(8), time(17))])
    tomorrow = make_provider("Tomorrow", is_24_7=False, weekly=[(6, time(0), time(23))])
    always_but_closed = make_provider("Always, closed today")
    for provider in (closed_today, always_but_closed):
        db.session.add(ScheduleRule(service_id=provider.service_id, kind="closed", start_date=date(2026, 11, 27),
                                    end_date=date(2026, 11, 28)))
    db.session.commit()
    loaded = {c.agency_id: c for c in intake_ops.load_candidates(
        db.session.get(Service, overnight.service_id).service_type, NOW)}
    assert loaded[overnight.agency_id].open_now
    assert not loaded[closed_today.agency_id].open_now
    assert not loaded[tomorrow.agency_id].open_now
    assert loaded[always_but_closed.agency_id].is_24_7 and not loaded[always_but_closed.agency_id].open_now


# ----- what SQL decides before the matcher agrees with the matcher ---------------------------------------------

STATED = {"age": AGES, "gender": GENDERS, "citizenship": CITIZENSHIP, "trafficking": TRAFFICKING}


@pytest.fixture
def varied_providers(ctx):
    """Case-management and shelter providers whose stated eligibility takes every shape (nothing stated, one value,
    several, all), some unable to receive referrals, some closed now; nobody offers dental care."""
    rng = random.Random(20261128)
    for n in range(24):
        facets = {kind: rng.sample(values, rng.randint(0, len(values))) for kind, values in STATED.items()}
        make_provider(f"Varied {n}", facets={kind: values for kind, values in facets.items() if values},
                      certified=n % 5 != 0, is_24_7=n % 3 != 0, weekly=[(0, time(9), time(17))],
                      type_codes=("case_management",) if n % 2 else ("emergency_shelter",))


@given(person=people)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_sql_narrowing_and_unmet_needs_agree_with_the_matcher(varied_providers, person):
    """The candidates SQL keeps for a person are those whose facets admit them, the ranked matches are the same as
    from every candidate, and the unmet needs are the needs the matcher finds nobody for (opening hours aside)."""
    answers = {"age_group": person.age_group, "gender": person.gender, "citizenship": person.citizenship,
               "trafficking_type": person.trafficking_type, "languages": list(person.languages),
               "county": person.county, "urgency": person.urgency}
    relaxed = Person(**{**person.__dict__, "urgency": "routine"})
    unmet = []
    for code in ("case_management", "emergency_shelter", "dental"):
        service_type = intake_ops.service_type_by_code(code)
        everyone = intake_ops.load_candidates(service_type, NOW)
        narrowed = intake_ops.load_candidates(service_type, NOW, person)
        assert sorted(c.service_id for c in narrowed) == sorted(
            c.service_id for c in everyone if not matching.eligibility_failures(c, person))
        assert ([(m.candidate.service_id, m.score) for m in matching.match(person, narrowed)]
                == [(m.candidate.service_id, m.score) for m in matching.match(person, everyone)])
        if not matching.match(relaxed, everyone):
            unmet.append(code)
    needs = ["dental", "case_management", "emergency_shelter"]
    assert [t.code for t in intake_ops.unmet_needs({**answers, "needs": needs}, NOW)] == [
        code for code in needs if code in unmet]


def test_unmet_needs_follow_eligibility_and_receivability(varied_providers):
    """Someone nobody states they serve has unmet needs where everyone states otherwise; unknown answers fit all."""
    assert [t.code for t in intake_ops.unmet_needs({"needs": ["emergency_shelter", "dental"]}, NOW)] == ["dental"]
    make_provider("Minors only", facets={"age": ["minor"]}, type_codes=("dental",), certified=False)
    assert [t.code for t in intake_ops.unmet_needs({"age_group": "minor", "needs": ["dental"]}, NOW)] == ["dental"]
    make_provider("Minors, certified", facets={"age": ["minor"]}, type_codes=("dental",))
    assert intake_ops.unmet_needs({"age_group": "minor", "needs": ["dental"]}, NOW) == []
    assert [t.code for t in intake_ops.unmet_needs({"age_group": "25_plus", "needs": ["dental"]}, NOW)] == ["dental"]
