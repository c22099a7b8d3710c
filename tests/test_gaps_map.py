"""The resource map: every cell against a brute-force count over generated providers, held to the intake's matcher,
gaps and at-risk cells said in words, the filters, the providers behind a cell, who may see it, and drills left out.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from csrn.agencies.models import Agency
from csrn.directory import receiving
from csrn.directory.models import Service, ServiceType
from csrn.extensions import db
from csrn.gaps import operations as ops
from csrn.intake import matching
from csrn.intake import operations as intake_ops
from tests.conftest import NOW, Browser, logged_in
from tests.conftest import page_text as text
from tests.referral_factories import (
    make_chair,
    make_provider,
    make_sender,
    new_user,
    send_intake,
    type_id,
    write_settings,
)

AGES = ("minor", "18_24", "25_plus")
GENDERS = ("female", "male")
CITIZENSHIP = ("us", "foreign")
TRAFFICKING = ("sex", "labour")
LANGUAGES = ("es", "vi")
COUNTIES = ("Alder", "Birch")
TYPES = ("case_management", "emergency_shelter", "dental")


@pytest.fixture
def varied(ctx):
    """Providers of every shape: facets stated or not, uncertified, without an agreement, listed community
    resources, pro bono volunteers (vetted or lapsed), capacity open, full, unknown or stale; nobody offers dental."""
    write_settings(counties=COUNTIES)
    rng = random.Random(20261206)
    for n in range(30):
        facets = {kind: rng.sample(values, rng.randint(0, len(values))) for kind, values in (
            ("age", AGES), ("gender", GENDERS), ("citizenship", CITIZENSHIP), ("trafficking", TRAFFICKING),
            ("county", COUNTIES), ("language", LANGUAGES), ("interpretation", LANGUAGES))}
        provider = make_provider(
            f"Varied {n:02d}", facets={kind: values for kind, values in facets.items() if values},
            certified=n % 7 != 0, agreement=n % 11 != 0, open_slots=rng.choice([None, 0, 3]),
            confirmed=n % 4 != 0, membership_status="listed" if n % 9 == 4 else "member",
            type_codes=rng.sample(TYPES[:2], rng.randint(1, 2)))
        if n % 5 == 3:  # a pro bono volunteer: vetted, or lapsed
            agency = db.session.get(Agency, provider.agency_id)
            agency.vetting_required = True
            agency.vetted_until = (NOW + timedelta(days=30 if n % 2 else -1)).date()
    db.session.commit()


def brute_force(service_type: ServiceType, segment: ops.Segment, filters: ops.MapFilters) -> ops.Cell:
    """The cell counted service by service in Python, with the matcher's own eligibility function."""
    cell, providers, healthy, listed = ops.Cell(), set(), set(), set()
    slots = []
    for service in db.session.scalars(select(Service).where(Service.service_type_id == service_type.id)):
        agency = db.session.get(Agency, service.agency_id)
        if service.status != "active" or (agency.vetting_required and not filters.volunteers):
            continue
        counties = set(service.values("county"))
        if filters.county and counties and filters.county not in counties:
            continue
        candidate = matching.Candidate(agency.id, agency.name, service.id, "", True,
                                       facets={k: set(service.values(k)) for k in
                                               ("age", "gender", "citizenship", "trafficking", "language",
                                                "interpretation")})
        if segment.kind == "language":
            admitted = segment.value in candidate.stated("language") | candidate.stated("interpretation")
        elif segment.kind == "any":
            admitted = True
        else:
            field = {"age": "age_group", "trafficking": "trafficking_type"}.get(segment.kind, segment.kind)
            admitted = not matching.eligibility_failures(candidate, matching.Person(**{field: segment.value}))
        if not admitted:
            continue
        if agency.membership_status == "listed":
            listed.add(agency.id)
        elif agency.membership_status == "member" and receiving.can_receive_referrals(agency, None, NOW):
            providers.add(agency.id)
            if service.open_slots is not None:
                slots.append(service.open_slots)
            if not service.is_stale(NOW) and (service.open_slots or 0) > 0:
                healthy.add(agency.id)
    cell.providers, cell.healthy = len(providers), len(healthy)
    cell.slots = sum(slots) if slots else None
    cell.listed = len(listed) if filters.community else 0
    return cell


def columns(extra_languages=LANGUAGES) -> list[ops.Segment]:
    found = [segment for _, group in ops.segments(NOW) for segment in group if segment.kind != "language"]
    return found + [ops.Segment("language", code, code) for code in extra_languages]


@pytest.mark.parametrize("filters", [ops.MapFilters(), ops.MapFilters(county="Alder", volunteers=True),
                                     ops.MapFilters(county="Birch", community=True)])
def test_every_cell_equals_the_brute_force_count(varied, filters):
    cols = columns()
    cells = ops.supply(NOW, filters, cols)
    for code in TYPES:
        service_type = db.session.get(ServiceType, type_id(code))
        for segment in cols:
            expected = brute_force(service_type, segment, filters)
            got = cells.get((service_type.id, segment.key), ops.Cell())
            assert (got.providers, got.slots, got.healthy, got.listed) == (
                expected.providers, expected.slots, expected.healthy, expected.listed), (code, segment.key)
            assert got.status == ("gap" if expected.providers == 0 else "at risk" if expected.healthy == 0
                                  else "ok")


def test_each_cell_is_the_matchers_answer_for_a_person_of_that_segment(varied):
    """With volunteers included and no county, a cell counts exactly the providers the intake's matcher would list
    (by routine urgency) for a person of the segment whose other answers are unknown."""
    cols = [segment for segment in columns(()) if segment.kind != "language"]
    cells = ops.supply(NOW, ops.MapFilters(volunteers=True), cols)
    for code in TYPES:
        service_type = db.session.get(ServiceType, type_id(code))
        for segment in cols:
            field = {"age": "age_group", "trafficking": "trafficking_type"}.get(segment.kind, segment.kind)
            person = matching.Person(**({field: segment.value} if segment.kind != "any" else {}))
            matched = {m.candidate.agency_id for m in matching.match(
                person, intake_ops.load_candidates(service_type, NOW, person))}
            assert cells.get((service_type.id, segment.key), ops.Cell()).providers == len(matched), segment.key


def test_the_top_languages_of_demand_are_columns_and_drills_do_not_count(ctx):
    sender = make_sender()
    make_provider("Any")
    for languages in (["vi"], ["vi", "es"], ["es"], ["vi"], ["tl"]):
        send_intake(sender, NOW, languages=languages)
    drill = send_intake(sender, NOW, languages=["ar"])
    drill.intake.is_drill = True
    db.session.commit()
    assert ops.top_languages(NOW + timedelta(days=1)) == ["vi", "es", "tl"]  # the drill's Arabic not among them
    assert ops.top_languages(NOW + timedelta(days=400)) == []


# ----- the pages ------------------------------------------------------------------------------------------------

@pytest.fixture
def scene(app):
    with app.app_context():
        from csrn.clock import utcnow
        now = utcnow()
        write_settings(counties=COUNTIES)
        harbor = make_provider("Harbor House", now=now, county="Alder", facets={"county": ["Alder"]},
                               type_codes=("case_management",))
        applicant = make_sender(roles=("staff",), name="Applicant Org", membership_status="applicant")
        chair = make_chair()
        member_staff = new_user(harbor.agency_id, ("staff",))
        db.session.commit()
        return {"harbor": harbor, "emails": {"member": member_staff.email, "applicant": applicant.email,
                                             "chair": chair.email}}


def as_(app, scene, who: str) -> Browser:
    return logged_in(app, scene["emails"][who])


def test_members_and_chairs_see_the_map_others_do_not(app, scene):
    assert as_(app, scene, "applicant").get("/gaps/").status_code == 403
    assert "Resource map" not in as_(app, scene, "applicant").get("/").get_data(as_text=True)
    for who in ("member", "chair"):
        page = as_(app, scene, who).get("/gaps/")
        assert page.status_code == 200 and "Resource map" in text(page)


def test_a_gap_is_said_in_words_and_a_cell_opens_its_providers(app, scene):
    member = as_(app, scene, "member")
    page = member.get("/gaps/").get_data(as_text=True)
    row = re.search(r"<th scope=\"row\" data-label=\"Service\">Dental[^<]*</th>(.*?)</tr>", page, re.S)
    assert row and "Gap" in row.group(1)
    case_row = re.search(r"<th scope=\"row\" data-label=\"Service\">Case management</th>(.*?)</tr>", page,
                         re.S).group(1)
    assert "Gap" not in re.sub(r"aria-label=\"[^\"]*\"", "", case_row.split("</td>")[0])
    cell = member.get("/gaps/cell?type=case_management&segment=any:")
    assert cell.status_code == 200 and "Harbor House" in text(cell)
    fragment = member.get("/gaps/cell?type=case_management&segment=any:", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True) and "Harbor House" in text(fragment)
    gap = text(member.get("/gaps/cell?type=dental&segment=any:"))
    assert "Gap: no provider can receive" in gap and "Search the directory for it" in gap
    assert member.get("/gaps/cell?type=nothing&segment=any:").status_code == 404
    assert member.get("/gaps/cell?type=dental&segment=age:elderly").status_code == 404


def test_the_county_filter_leaves_out_providers_of_other_counties(app, scene):
    member, htmx = as_(app, scene, "member"), {"HX-Request": "true"}
    assert "Harbor House" in text(member.get("/gaps/cell?type=case_management&segment=any:&county=Alder",
                                             headers=htmx))
    assert "Harbor House" not in text(member.get("/gaps/cell?type=case_management&segment=any:&county=Birch",
                                                 headers=htmx))


# ----- declines correct the directory ----------------------------------------------------------------------------

def test_three_declines_in_30_days_flag_a_service_until_its_listing_is_confirmed(ctx):
    from csrn.directory import operations as directory_ops
    from csrn.referrals import operations as referral_ops

    provider = make_provider("Declining", case_managers=1)
    backup = make_provider("Backup")
    sender = make_sender()

    def decline(reason: str, at: datetime) -> None:
        referral = send_intake(sender, at, receiver=provider.agency_id, backups=[backup.agency_id])
        referral_ops.decline(provider.case_manager, referral, reason, "", at + timedelta(minutes=5))

    decline("not_eligible", NOW)
    decline("no_capacity", NOW + timedelta(days=1))
    decline("conflict", NOW + timedelta(days=2))  # not a reason that says the listing is wrong
    assert ops.flag_declined_services(NOW + timedelta(days=3)) == "0 service(s) flagged for correction"
    drill = send_intake(sender, NOW + timedelta(days=3), receiver=provider.agency_id)
    drill.is_drill = True
    db.session.commit()
    referral_ops.decline(provider.case_manager, drill, "not_eligible", "", NOW + timedelta(days=3))
    assert ops.flag_declined_services(NOW + timedelta(days=3)) == "0 service(s) flagged for correction"
    decline("not_eligible", NOW + timedelta(days=4))
    assert ops.flag_declined_services(NOW + timedelta(days=5)) == "1 service(s) flagged for correction"
    service = db.session.get(Service, provider.service_id)
    assert service.correction_note == "3 declines in 30 days (no capacity ×1, not eligible ×2)"
    assert [s.id for s in ops.flagged_services()] == [provider.service_id]
    assert ops.flag_declined_services(NOW + timedelta(days=6)) == "0 service(s) flagged for correction"
    directory_ops.confirm_agency(provider.case_manager, db.session.get(Agency, provider.agency_id),
                                 NOW + timedelta(days=6), "inline")
    db.session.expire_all()
    assert db.session.get(Service, provider.service_id).correction_flagged_at is None
    # The declines before the confirmation do not flag it again.
    assert ops.flag_declined_services(NOW + timedelta(days=7)) == "0 service(s) flagged for correction"
    assert ops.flag_declined_services(NOW + timedelta(days=40)) == "0 service(s) flagged for correction"


# ----- recruitment -----------------------------------------------------------------------------------------------

def test_a_chair_links_a_prospect_and_the_gap_closes_when_it_can_receive(app, scene):
    from csrn.agencies.models import Agency as AgencyModel

    with app.app_context():
        prospect = make_sender(name="Smile Clinic", membership_status="prospect").agency_id
    chair = as_(app, scene, "chair")
    cell = chair.get("/gaps/cell?type=dental&segment=any:")
    assert "Smile Clinic" in cell.get_data(as_text=True) and "Link as a prospect" in text(cell)
    linked = chair.post("/gaps/prospects", data={"type": "dental", "segment": "any:", "agency_id": str(prospect)},
                        page="/gaps/cell?type=dental&segment=any:")
    assert linked.status_code == 303
    review = text(chair.get("/gaps/review"))
    assert re.search(r"Dental[^·]*· Anyone Smile Clinic \(prospect\) Open", review)
    with app.app_context():
        from csrn.agencies.models import Certificate
        from csrn.clock import utcnow
        from csrn.gaps import operations as gap_ops
        from tests.referral_factories import RENEWAL, SIGNED, core_course

        agency = db.session.get(AgencyModel, prospect)
        agency.membership_status = "member"
        db.session.commit()
        links, _ = gap_ops.recruitment(utcnow())
        assert [r.open for r in links] == [True]  # a member, but it cannot receive dental referrals yet
        # Certified, its agreement signed, and a dental service: it can receive them, and the gap closes.
        agency = db.session.get(AgencyModel, prospect)
        agency.mou_signed_on, agency.mou_renewal_on = SIGNED, RENEWAL
        holder = new_user(prospect, ("staff",))
        db.session.add(Certificate(user_id=holder.id, agency_id=prospect, course_id=core_course().id,
                                   completed_on=SIGNED, expires_on=None, status="verified", recorded_at=NOW))
        db.session.add(Service(agency_id=prospect, service_type_id=type_id("dental"), status="active",
                               created_at=NOW, updated_at=NOW))
        db.session.commit()
        links, unlinked = gap_ops.recruitment(utcnow())
        assert [r.open for r in links] == [False]
    assert re.search(r"Smile Clinic \(member\) Closed: filled", text(chair.get("/gaps/review")))
    members_only = as_(app, scene, "member")
    assert members_only.post("/gaps/prospects", data={"type": "dental", "segment": "any:",
                                                      "agency_id": str(prospect)}, page="/gaps/").status_code == 403
    assert "Link as a prospect" not in text(members_only.get("/gaps/cell?type=dental&segment=any:"))


def test_a_flagged_service_shows_on_its_agency_page_to_those_who_edit_it(app, scene):
    from csrn.clock import utcnow
    with app.app_context():
        service = db.session.get(Service, scene["harbor"].service_id)
        service.correction_flagged_at, service.correction_note = utcnow(), "3 declines in 30 days (not eligible ×3)"
        admin = new_user(scene["harbor"].agency_id, ("agency_admin",))
        db.session.commit()
        scene["emails"]["admin"] = admin.email
    url = f"/agencies/{scene['harbor'].agency_id}"
    assert "Flagged for correction" in text(as_(app, scene, "admin").get(url))
    assert "3 declines in 30 days (not eligible ×3)" in text(as_(app, scene, "admin").get(url))
    assert "Flagged for correction" not in text(as_(app, scene, "member").get(url))  # staff do not edit listings
