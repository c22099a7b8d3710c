"""Matching a person's needs to providers: a pure function, tested without HTTP (DESIGN §4.1 step 4).

Hard filters: the provider can receive referrals (one rule, decided in SQL before this runs), offers the
service type, admits the person ("unknown" and "not stated" never exclude), and for an emergency is open
now or 24/7. Everything else ranks: open slots (stale capacity counts as unknown, between full and open),
language (spoken, else interpreted), same county or service area, fewest pending offers.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Person:
    """The matching dimensions of an intake (nothing identifying)."""

    age_group: str = "unknown"
    gender: str = "unknown"
    citizenship: str = "unknown"
    trafficking_type: str = "unknown"
    languages: tuple[str, ...] = ()
    county: str = ""
    urgency: str = "routine"


@dataclass
class Candidate:
    """One provider's service of the needed type, as the matcher needs to see it."""

    agency_id: int
    agency_name: str
    service_id: int
    service_title: str
    receivable: bool
    facets: dict[str, set[str]] = field(default_factory=dict)
    open_slots: int | None = None
    stale: bool = True
    is_24_7: bool = False
    open_now: bool = False
    pending_offers: int = 0

    def stated(self, kind: str) -> set[str]:
        return self.facets.get(kind, set())


@dataclass
class Match:
    """A ranked candidate with the reasons for its rank and what it does not meet."""

    candidate: Candidate
    score: tuple
    reasons: list[str]
    misses: list[str]


def eligibility_failures(candidate: Candidate, person: Person) -> list[str]:
    """Why the provider cannot admit the person (empty: it can)."""
    failures = []
    for kind, value, label in (("age", person.age_group, "age group"), ("gender", person.gender, "gender"),
                               ("citizenship", person.citizenship, "citizenship")):
        stated = candidate.stated(kind)
        if value != "unknown" and stated and value not in stated:
            failures.append(f"does not serve this {label}")
    stated = candidate.stated("trafficking")
    if person.trafficking_type != "unknown" and stated:
        wanted = {"sex", "labour"} if person.trafficking_type == "both" else {person.trafficking_type}
        if not wanted <= stated:
            failures.append("does not serve this type of trafficking")
    return failures


def hard_failures(candidate: Candidate, person: Person) -> list[str]:
    """Every reason the candidate is filtered out."""
    failures = [] if candidate.receivable else ["cannot receive referrals (not certified or no current agreement)"]
    failures += eligibility_failures(candidate, person)
    if person.urgency == "emergency" and not (candidate.open_now or candidate.is_24_7):
        failures.append("not open now and not 24/7")
    return failures


def _rank(candidate: Candidate, person: Person) -> Match:
    reasons, misses = [], []
    if candidate.open_slots is not None and candidate.open_slots > 0 and not candidate.stale:
        slots = 2
        reasons.append(f"{candidate.open_slots} open slot{'s' if candidate.open_slots != 1 else ''}")
    elif candidate.open_slots is None or candidate.stale:
        slots = 1
        misses.append("capacity unknown or not confirmed in 30 days")
    else:
        slots = 0
        misses.append("no open slots")
    spoken, interpreted = candidate.stated("language"), candidate.stated("interpretation")
    wanted = set(person.languages)
    if not wanted:
        language = 1
    elif wanted & spoken:
        language = 2
        reasons.append("speaks the person's language")
    elif wanted & interpreted:
        language = 1
        reasons.append("serves the person's language through interpreters")
    else:
        language = 0
        misses.append("does not list the person's language")
    counties = candidate.stated("county")
    if not person.county or not counties or person.county in counties:
        area = 1
        if person.county and counties:
            reasons.append(f"serves {person.county} County")
    else:
        area = 0
        misses.append(f"does not list {person.county} County in its service area")
    if candidate.is_24_7:
        reasons.append("open 24/7")
    elif candidate.open_now:
        reasons.append("open now")
    reasons.append(f"{candidate.pending_offers} pending offer{'s' if candidate.pending_offers != 1 else ''}")
    return Match(candidate, (slots, language, area, -candidate.pending_offers), reasons, misses)


def match(person: Person, candidates: list[Candidate]) -> list[Match]:
    """Filter and rank: one entry per provider (its best service), best first, ties by name."""
    best: dict[int, Match] = {}
    for candidate in candidates:
        if hard_failures(candidate, person):
            continue
        ranked = _rank(candidate, person)
        current = best.get(candidate.agency_id)
        if current is None or ranked.score > current.score:
            best[candidate.agency_id] = ranked
    return sorted(best.values(), key=lambda m: (tuple(-part for part in m.score), m.candidate.agency_name,
                                                m.candidate.agency_id))
