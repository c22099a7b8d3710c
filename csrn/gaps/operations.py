"""The resource map: what the network can receive, service type by population segment, and where it cannot.

Supply is counted by grouped SQL under the one rule of who may be offered a referral
(`directory.receiving.receivable_condition`) and who a service admits (`receiving.admits_condition`), the rules the
intake's matcher applies. Provider counts and open slots are not client counts: they are shown as they are. Drill
records never count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, and_, case, func, literal, or_, select, true, update

from csrn.agencies.models import Agency
from csrn.audit import operations as audit
from csrn.dimensions import AGE_GROUPS, CITIZENSHIP, TRAFFICKING
from csrn.directory import operations as directory_ops
from csrn.directory import receiving
from csrn.directory.languages import language_name
from csrn.directory.models import STALE_AFTER, Service, ServiceFacet, ServiceType
from csrn.extensions import db
from csrn.gaps import demand
from csrn.gaps.models import GapProspect
from csrn.referrals.models import DECLINE_REASONS, Offer, Referral
from csrn.roles import ADMIN, CHAIR

TOP_LANGUAGES = 5
# The person's answer each eligibility column stands for (the intake's field names).
ANSWER_OF = {"age": "age_group", "gender": "gender", "citizenship": "citizenship", "trafficking": "trafficking_type"}
ELIGIBILITY_KINDS = tuple(ANSWER_OF)


@dataclass(frozen=True)
class Segment:
    """A column of the map: one answer of one dimension of the person (or anyone)."""

    kind: str  # any, age, citizenship, trafficking, gender, language
    value: str
    label: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"

    def condition(self):
        """SQL on a service: it admits a person of this segment (others unknown), or for a language, speaks it or
        interprets it. None: every service."""
        if self.kind == "language":
            return receiving.speaks_condition(self.value)
        return receiving.admits_condition(**{ANSWER_OF[self.kind]: self.value}) if self.kind in ANSWER_OF else None

    def wanted(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """What a person of this (eligibility) column needs a service to admit."""
        return receiving.wanted_facets(**{ANSWER_OF[self.kind]: self.value})

    def search_args(self) -> dict:
        """The directory search's arguments that find this segment's services (named as the segment's kinds)."""
        return {self.kind: self.value} if self.kind != "any" else {}


@dataclass(frozen=True)
class MapFilters:
    county: str = ""
    volunteers: bool = False  # include pro bono volunteers
    community: bool = False  # show listed community resources (apart: they are not referral destinations)


@dataclass
class Cell:
    """Supply for one service type and segment: distinct providers that can receive it, their open slots (None:
    none stated), how many have room confirmed within 30 days, and listed community resources apart."""

    providers: int = 0
    slots: int | None = None
    healthy: int = 0
    listed: int = 0

    @property
    def status(self) -> str:
        """gap: nobody can receive it; at risk: only stale or full services; ok."""
        if self.providers == 0:
            return "gap"
        return "at risk" if self.healthy == 0 else "ok"


def may_see_map(user) -> bool:
    """Every user of a member agency, and chairs and administrators (the supply is the network's to see)."""
    if user.has_role(CHAIR, ADMIN):
        return True
    return user.agency is not None and user.agency.membership_status == "member"


def top_languages(now: datetime, limit: int = TOP_LANGUAGES) -> list[str]:
    """The languages most asked for in intakes over the past year (drills left out), most first."""
    asked: dict[str, int] = {}
    for (_, _, _, language, _), n in demand.counts(demand.default_period(now), ("language",)).items():
        asked[language] = asked.get(language, 0) + n
    return sorted(asked, key=lambda language: (-asked[language], language))[:limit]


def segments(now: datetime) -> list[tuple[str, list[Segment]]]:
    """The map's columns, grouped by dimension: anyone; age; citizenship; type of trafficking; each gender of the
    gender list; the top languages of demand."""
    groups = [
        ("Everyone", [Segment("any", "", "Anyone")]),
        ("Age", [Segment("age", code, label) for code, label in AGE_GROUPS.items() if code != "unknown"]),
        ("Citizenship", [Segment("citizenship", code, label) for code, label in CITIZENSHIP.items()
                         if code != "unknown"]),
        ("Trafficking", [Segment("trafficking", code, label) for code, label in TRAFFICKING.items()
                         if code in ("sex", "labour")]),
        ("Gender", [Segment("gender", option.code, option.label) for option in directory_ops.genders()
                    if option.code != "unknown"]),
    ]
    languages = top_languages(now)
    if languages:
        groups.append(("Top languages asked for", [Segment("language", code, language_name(code))
                                                   for code in languages]))
    return groups


def segment_from(key: str, now: datetime) -> Segment | None:
    """A segment from its key (`kind:value`), if it is one of the map's columns."""
    for _, group in segments(now):
        for segment in group:
            if segment.key == key:
                return segment
    return None


def _scope(filters: MapFilters, statuses=("member",)):
    """SQL conditions every counted service meets: active, at an agency of these statuses, in the county (when
    asked), and not a pro bono volunteer unless asked."""
    conditions = [Service.status == "active", Agency.membership_status.in_(statuses)]
    if filters.county:
        conditions.append(receiving.serves_county_condition(filters.county))
    if not filters.volunteers:
        conditions.append(Agency.vetting_required.is_(False))
    return conditions


def _healthy(now: datetime):
    """SQL: the service has room, confirmed within 30 days."""
    return and_(Service.open_slots > 0, Service.capacity_confirmed_at >= now - STALE_AFTER)


@dataclass
class _Bits:
    """The facets the map's columns read, one bit each: every value a column wants (kind, value), any other value of
    each kind of eligibility (kind, None), and each column's language (stated as spoken or interpreted)."""

    of: dict[tuple[str, str | None], int]

    @classmethod
    def for_columns(cls, columns: list[Segment]) -> _Bits:
        tokens: list[tuple[str, str | None]] = []
        for segment in columns:
            if segment.kind == "language":
                tokens.append(("language", segment.value))
            elif segment.kind != "any":
                [(kind, values)] = segment.wanted()
                tokens += [(kind, value) for value in values]
        tokens += [(kind, None) for kind in ELIGIBILITY_KINDS]
        return cls({token: 1 << n for n, token in enumerate(dict.fromkeys(tokens))})

    def mask(self, *tokens) -> int:
        return sum(self.of[token] for token in tokens)

    def of_kind(self, kind: str) -> int:
        return sum(bit for (named, _), bit in self.of.items() if named == kind)

    def facet_bit(self):
        """SQL on a facet: its bit (0: no column reads it)."""
        whens = []
        for (kind, value), bit in self.of.items():
            if kind == "language":
                whens.append((and_(ServiceFacet.kind.in_(("language", "interpretation")), ServiceFacet.value == value),
                              bit))
            elif value is not None:
                whens.append((and_(ServiceFacet.kind == kind, ServiceFacet.value == value), bit))
        whens += [(ServiceFacet.kind == kind, bit) for (kind, value), bit in self.of.items()
                  if value is None]  # after every wanted value of the kind
        return case(*whens, else_=0)


def _facet_summary(bits: _Bits):
    """SQL: one row per service that states facets a column reads — the distinct bits of those facets added up into
    a mask (distinct: a service may both speak and interpret a language, or state two values no column wants). One
    pass over the facets, one expression per facet (it was a sum per column, and took twice as long)."""
    read = ServiceFacet.kind.in_(ELIGIBILITY_KINDS)
    languages = [value for (kind, value) in bits.of if kind == "language"]
    if languages:
        read = or_(read, and_(ServiceFacet.kind.in_(("language", "interpretation")), ServiceFacet.value.in_(languages)))
    return (select(ServiceFacet.service_id, func.sum(func.distinct(bits.facet_bit())).label("mask")).where(read)
            .group_by(ServiceFacet.service_id).subquery())


def _admitted(summary, columns: list[Segment], bits: _Bits) -> list:
    """SQL, per column: the service (joined to its facet mask) admits a person of that column — the directory's one
    rule (`receiving.fits`: of a kind, nothing stated, or every wanted value stated); a language column: the service
    speaks it or interprets it."""
    mask = func.coalesce(summary.c.mask, 0)
    conditions = []
    for segment in columns:
        if segment.kind == "any":
            conditions.append(true())
        elif segment.kind == "language":
            conditions.append(mask.op("&")(literal(bits.mask(("language", segment.value)), BigInteger)) != 0)
        else:
            [(kind, values)] = segment.wanted()
            wanted = bits.mask(*((kind, value) for value in values))
            conditions.append(receiving.fits(mask.op("&")(literal(bits.of_kind(kind), BigInteger)),
                                             mask.op("&")(literal(wanted, BigInteger)), wanted))
    return conditions


def supply(now: datetime, filters: MapFilters, columns: list[Segment]) -> dict[tuple[int, str], Cell]:
    """Every cell of the map, by (service type id, segment key): one grouped SELECT over the services (every column
    a conditional count over the services' facet summary) for the providers that can receive referrals, and one
    for listed resources when asked."""
    cells: dict[tuple[int, str], Cell] = {}
    if not columns:
        return cells
    bits = _Bits.for_columns(columns)
    summary = _facet_summary(bits)
    admitted = _admitted(summary, columns, bits)
    healthy = _healthy(now)
    # The agencies that can receive referrals at all: one set, not a test per service.
    receivable = select(Agency.id).where(receiving.receivable_condition(None, now)).correlate(None)
    parts = [Service.service_type_id]
    for condition in admitted:
        parts += [func.count(func.distinct(case((condition, Service.agency_id)))),
                  func.sum(case((condition, Service.open_slots))),
                  func.count(func.distinct(case((and_(condition, healthy), Service.agency_id))))]
    rows = db.session.execute(
        select(*parts).select_from(Service).join(Agency, Agency.id == Service.agency_id)
        .outerjoin(summary, summary.c.service_id == Service.id)
        .where(*_scope(filters), Service.agency_id.in_(receivable))
        .group_by(Service.service_type_id)).all()
    for row in rows:
        for index, segment in enumerate(columns):
            providers, slots, healthy_count = row[1 + 3 * index:4 + 3 * index]
            if providers:
                cells[(row[0], segment.key)] = Cell(providers=providers, slots=slots, healthy=healthy_count)
    if filters.community:
        listed = db.session.execute(
            select(Service.service_type_id,
                   *[func.count(func.distinct(case((condition, Service.agency_id)))) for condition in admitted])
            .select_from(Service).join(Agency, Agency.id == Service.agency_id)
            .outerjoin(summary, summary.c.service_id == Service.id)
            .where(*_scope(filters, statuses=("listed",)))
            .group_by(Service.service_type_id)).all()
        for row in listed:
            for index, segment in enumerate(columns):
                if row[1 + index]:
                    cells.setdefault((row[0], segment.key), Cell()).listed = row[1 + index]
    return cells


@dataclass
class Provider:
    agency_id: int
    agency_name: str
    service_id: int
    service_name: str
    open_slots: int | None
    stale: bool
    listed: bool


def providers_in(service_type: ServiceType, segment: Segment, now: datetime, filters: MapFilters) -> list[Provider]:
    """The services behind a cell: those whose providers can receive referrals, then (when asked) listed community
    resources, by agency name."""
    admits = segment.condition()
    extra = [admits] if admits is not None else []
    statuses = ("member", "listed") if filters.community else ("member",)
    rows = db.session.execute(
        select(Agency.id, Agency.name, Service.id, Service.name, Service.open_slots,
               or_(Service.capacity_confirmed_at.is_(None), Service.capacity_confirmed_at < now - STALE_AFTER),
               Agency.membership_status)
        .join(Agency, Agency.id == Service.agency_id)
        .where(Service.service_type_id == service_type.id, *_scope(filters, statuses=statuses), *extra,
               or_(Agency.membership_status == "listed", receiving.receivable_condition(None, now)))
        .order_by(Agency.membership_status == "listed", Agency.name, Service.id)).all()
    return [Provider(agency_id, agency, service_id, name or service_type.name, slots, bool(stale), status == "listed")
            for agency_id, agency, service_id, name, slots, stale, status in rows]


# ----- declines correct the directory ---------------------------------------------------------------------------

CORRECTION_REASONS = ("not_eligible", "no_capacity")
CORRECTION_DECLINES = 3
CORRECTION_WINDOW = timedelta(days=30)


def flag_declined_services(now: datetime) -> str:
    """The `daily` pass: a service declined three times in 30 days as "not eligible" or "no capacity" — since its
    listing was last confirmed or edited — is flagged for correction on the service itself (the agency page and the
    review read the flag), until the agency confirms or edits the listing. Drills never count."""
    since = now - CORRECTION_WINDOW
    rows = db.session.execute(
        select(Offer.service_id, Offer.decline_reason, func.count())
        .join(Referral, Referral.id == Offer.referral_id)
        .join(Service, Service.id == Offer.service_id)
        .where(Offer.state == "declined", Offer.decline_reason.in_(CORRECTION_REASONS),
               Referral.is_drill.is_(False), Offer.answered_at >= since, Service.correction_flagged_at.is_(None),
               or_(Service.capacity_confirmed_at.is_(None), Offer.answered_at > Service.capacity_confirmed_at),
               Offer.answered_at > Service.updated_at)
        .group_by(Offer.service_id, Offer.decline_reason)).all()
    by_service: dict[int, dict[str, int]] = {}
    for service_id, reason, count in rows:
        by_service.setdefault(service_id, {})[reason] = count
    flagged = 0
    for service_id, reasons in sorted(by_service.items()):
        if sum(reasons.values()) < CORRECTION_DECLINES:
            continue
        note = f"{sum(reasons.values())} declines in 30 days (" + ", ".join(
            f"{DECLINE_REASONS[reason].lower()} ×{count}" for reason, count in sorted(reasons.items())) + ")"
        flagged += db.session.execute(
            update(Service).where(Service.id == service_id, Service.correction_flagged_at.is_(None))
            .values(correction_flagged_at=now, correction_note=note[:200])
            .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return f"{flagged} service(s) flagged for correction"


def flagged_services() -> list[Service]:
    """Services flagged for correction, oldest flag first (the committee review)."""
    return db.session.scalars(select(Service).where(Service.correction_flagged_at.is_not(None))
                              .order_by(Service.correction_flagged_at, Service.id)).all()


# ----- recruitment ------------------------------------------------------------------------------------------------

RECRUITABLE = ("prospect", "applicant", "in_training", "listed")


class RecruitmentRefused(Exception):
    """The link cannot be made (why, in a sentence)."""


def recruitable_agencies() -> list[Agency]:
    """Agencies a chair may link to a gap: not yet members (prospects, applicants, in training, listed)."""
    return db.session.scalars(select(Agency).where(Agency.membership_status.in_(RECRUITABLE))
                              .order_by(Agency.name)).all()


def link_prospect(actor, agency_id: int, service_type: ServiceType, segment: Segment, now: datetime) -> GapProspect:
    """A chair links an agency that could fill a gap cell."""
    if not actor.has_role(CHAIR):
        raise RecruitmentRefused("Only chairs link prospects to gaps.")
    agency = db.session.get(Agency, agency_id)
    if agency is None or agency.membership_status not in RECRUITABLE:
        raise RecruitmentRefused("Choose an agency that is not yet a member.")
    found = db.session.scalar(select(GapProspect).where(
        GapProspect.agency_id == agency.id, GapProspect.service_type_id == service_type.id,
        GapProspect.segment == segment.key))
    if found is not None:
        return found
    link = GapProspect(agency_id=agency.id, service_type_id=service_type.id, segment=segment.key,
                       created_by_id=actor.id, created_at=now)
    db.session.add(link)
    db.session.flush()
    audit.record(actor, "gaps.prospect_linked", link, fields=["agency_id", "service_type_id", "segment"], now=now)
    db.session.commit()
    return link


def unlink_prospect(actor, link: GapProspect, now: datetime) -> None:
    if not actor.has_role(CHAIR):
        raise RecruitmentRefused("Only chairs unlink prospects.")
    audit.record(actor, "gaps.prospect_unlinked", link, fields=["agency_id"], now=now)
    db.session.delete(link)
    db.session.commit()


def prospects_for(service_type: ServiceType, segment: Segment) -> list[GapProspect]:
    return db.session.scalars(select(GapProspect).join(Agency, Agency.id == GapProspect.agency_id).where(
        GapProspect.service_type_id == service_type.id, GapProspect.segment == segment.key)
        .order_by(Agency.name)).all()


@dataclass
class Recruitment:
    """A gap cell with its prospects, and whether it is still a gap (closed: a prospect became a member that can
    receive referrals for it)."""

    service_type: ServiceType
    segment: Segment
    prospects: list[GapProspect]
    open: bool


def recruitment(now: datetime) -> tuple[list[Recruitment], list[tuple[ServiceType, Segment]]]:
    """Every linked cell with its prospects and whether it is still open; and the gap cells nobody was linked to."""
    groups = segments(now)
    columns = [segment for _, group in groups for segment in group]
    by_key = {segment.key: segment for segment in columns}
    cells = supply(now, MapFilters(volunteers=True), columns)
    links = db.session.scalars(select(GapProspect).order_by(GapProspect.service_type_id, GapProspect.segment,
                                                            GapProspect.id)).all()
    linked: dict[tuple[int, str], list[GapProspect]] = {}
    for link in links:
        linked.setdefault((link.service_type_id, link.segment), []).append(link)
    result = []
    for (type_id, key), prospects in linked.items():
        segment = by_key.get(key) or Segment(*key.split(":", 1), key)
        receiving_ids = _receiving_agencies(type_id, segment, now)
        closed = any(p.agency_id in receiving_ids for p in prospects)
        result.append(Recruitment(prospects[0].service_type, segment, prospects, not closed))
    unlinked = [(service_type, segment) for service_type in directory_ops.service_types() for segment in columns
                if cells.get((service_type.id, segment.key), Cell()).providers == 0
                and (service_type.id, segment.key) not in linked]
    return result, unlinked


def _receiving_agencies(type_id: int, segment: Segment, now: datetime) -> set[int]:
    """The agencies that can receive referrals of the type for the segment (volunteers included)."""
    admits = segment.condition()
    return set(db.session.scalars(
        select(Service.agency_id).join(Agency, Agency.id == Service.agency_id)
        .where(Service.service_type_id == type_id, *_scope(MapFilters(volunteers=True)),
               receiving.receivable_condition(None, now), *([admits] if admits is not None else []))))
