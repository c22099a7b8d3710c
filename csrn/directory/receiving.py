"""The one rule of who may be offered a referral (DESIGN §4.4): `can_receive_referrals` and its SQL.

It lives in `directory` because it needs the provider's services, and nothing above it: the directory (its
certified filter and result badges), the intake's matching, offers by hand and the gap analysis all read it from
here. A pro bono volunteer's vetting is part of the rule, yet the rule imports nothing of `volunteers`: the
volunteers module keeps its verdict as data on the provider (`Agency.vetting_required` and `Agency.vetted_until`,
the last day every required item is current, rewritten whenever an item or the application's status changes).
Being a date, it stops the provider the day after an item expires, without waiting for any job.
"""

from __future__ import annotations

import functools
from datetime import date, datetime

from sqlalchemy import Date, and_, bindparam, case, exists, func, or_, select

from csrn.agencies.models import Agency
from csrn.agencies.operations import agreement_current_condition, certified_condition, local_date
from csrn.directory.models import Service, ServiceFacet
from csrn.extensions import db


def offers_service_condition(service_type_id: int):
    """SQL: the agency in the outer query has an active service of that type."""
    return exists(
        select(Service.id).where(
            Service.agency_id == Agency.id,
            Service.service_type_id == service_type_id,
            Service.status == "active",
        )
    )


def vetting_current_condition(on: date):
    """SQL: the agency needs no vetting, or (a volunteer's provider) its vetting is current on `on`."""
    return or_(Agency.vetting_required.is_(False), Agency.vetted_until >= on)


def receivable_condition(service_type_id: int | None, t: datetime):
    """SQL for `can_receive_referrals`: certified, agreement current, vetting current, and (if given) offering the
    service type."""
    condition = receivable_on(local_date(t))
    if service_type_id is not None:
        condition = and_(condition, offers_service_condition(service_type_id))
    return condition


def receivable_on(on):
    """`receivable_condition` without a service type, on a date (a value, or a parameter such as `bindparam("on",
    type_=Date)`)."""
    return and_(certified_condition(on), agreement_current_condition(on), vetting_current_condition(on))


def receivable_among(agency_ids, t: datetime) -> set[int]:
    """Which of these agencies may be offered a referral at time t (the one rule, for a page of results at once)."""
    if not agency_ids:
        return set()
    return set(db.session.scalars(_receivable_among_query(), {"ids": list(agency_ids), "on": local_date(t)}))


@functools.cache
def _receivable_among_query():
    # Built once per process, the date a parameter: building and keying it costs more than answering it.
    return select(Agency.id).where(Agency.id.in_(bindparam("ids", expanding=True)),
                                   receivable_on(bindparam("on", type_=Date)))


def can_receive_referrals(provider: Agency, service_type_id: int | None, t: datetime) -> bool:
    """The one rule: may this provider be offered a referral for that service type at time t?"""
    return bool(
        db.session.scalar(
            select(exists().where(Agency.id == provider.id, receivable_condition(service_type_id, t)))
        )
    )


def wanted_facets(age_group: str = "unknown", gender: str = "unknown", citizenship: str = "unknown",
                  trafficking_type: str = "unknown") -> tuple[tuple[str, tuple[str, ...]], ...]:
    """What a person with these answers needs a service to admit, kind by kind: nothing for an unknown (or empty)
    answer; both sex and labour for "both"."""
    wanted = tuple((kind, (value,)) for kind, value in (("age", age_group), ("gender", gender),
                                                        ("citizenship", citizenship))
                   if value and value != "unknown")
    if trafficking_type and trafficking_type != "unknown":
        wanted += (("trafficking", ("labour", "sex") if trafficking_type == "both" else (trafficking_type,)),)
    return wanted


def fits(stated, fitting, needed: int):
    """SQL, the one rule of eligibility by facets (`intake.matching.eligibility_failures`, held to it by the tests):
    of one kind, a service that states nothing (`stated` values: 0) admits everyone; otherwise it must state every
    one of the `needed` values the person needs (`fitting` of them)."""
    return or_(stated == 0, fitting == needed)


def admits_condition(age_group: str = "unknown", gender: str = "unknown", citizenship: str = "unknown",
                     trafficking_type: str = "unknown"):
    """SQL: the service in the outer query admits a person with these answers (`wanted_facets`, `fits`). None when
    nothing is asked (every service admits). The intake's matching and unmet needs and the directory search read it
    here; the resource map applies `fits` to all its columns at once."""
    wanted = wanted_facets(age_group, gender, citizenship, trafficking_type)
    return _facets_fit(wanted) if wanted else None


@functools.lru_cache(maxsize=512)
def _facets_fit(wanted: tuple[tuple[str, tuple[str, ...]], ...]):
    """SQL: the service's facets fit what is wanted (built once per combination of answers). One pass over its own
    facets of those kinds (an index range) counting, per kind, what it states and how much of it fits; not EXISTS
    OR NOT EXISTS per kind, which PostgreSQL answers by hashing every service's facets."""
    return _facets_fit_sql(tuple((kind, values, len(values)) for kind, values in wanted))


def admits_shape(wanted: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, int], ...]:
    """What the SQL of `admits_bound` depends on: the kinds asked and how many values each needs."""
    return tuple((kind, len(values)) for kind, values in wanted)


def admits_params(wanted: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, list[str]]:
    """The values of `admits_bound`'s parameters, by name."""
    return {f"facet_{kind}": list(values) for kind, values in wanted}


@functools.lru_cache(maxsize=512)
def admits_bound(shape: tuple[tuple[str, int], ...]):
    """`admits_condition` for an `admits_shape`, each kind's values the expanding parameter `facet_<kind>`
    (`admits_params`): one statement serves every answer of the same shape."""
    return _facets_fit_sql(tuple((kind, bindparam(f"facet_{kind}", expanding=True), needed)
                                 for kind, needed in shape))


def _facets_fit_sql(wanted):
    conditions = [fits(func.count(case((ServiceFacet.kind == kind, 1))),
                       func.count(case((and_(ServiceFacet.kind == kind, ServiceFacet.value.in_(values)), 1))),
                       needed)
                  for kind, values, needed in wanted]
    # Only the wanted kinds' facets (an index range on service_id, kind): the counts look at nothing else.
    kinds = [kind for kind, _, _ in wanted]
    return (select(and_(*conditions))
            .where(ServiceFacet.service_id == Service.id, ServiceFacet.kind.in_(kinds))
            .scalar_subquery())


def serves_county_condition(county: str):
    """SQL: the service in the outer query lists the county in its service area, or lists no area (an unstated area
    never excludes)."""
    def has(value=None):
        condition = and_(ServiceFacet.service_id == Service.id, ServiceFacet.kind == "county")
        if value is not None:
            condition = and_(condition, ServiceFacet.value == value)
        return exists(select(ServiceFacet.id).where(condition))
    return or_(~has(), has(county))


def speaks_condition(language: str):
    """SQL: the service in the outer query speaks the language or serves it through interpreters."""
    return exists(select(ServiceFacet.id).where(
        ServiceFacet.service_id == Service.id, ServiceFacet.kind.in_(("language", "interpretation")),
        ServiceFacet.value == language))
