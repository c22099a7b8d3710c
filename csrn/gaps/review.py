"""The committee review: one page for the meeting — the largest gaps, on-call holes of the coming weeks, stale and
flagged listings, certificates and agreements running out, protocols due, volunteers due for renewal, open concerns.
Aggregate only; every client count under the rule of small numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from csrn.agencies.models import Agency, Certificate
from csrn.agencies.operations import local_date
from csrn.auth.models import User
from csrn.cases.models import Concern
from csrn.directory import operations as directory_ops
from csrn.directory.models import STALE_AFTER, Service
from csrn.extensions import db
from csrn.gaps import demand
from csrn.gaps import operations as ops
from csrn.gaps.suppression import Shown, protect
from csrn.oncall import operations as oncall_ops
from csrn.protocols import operations as protocol_ops
from csrn.volunteers.models import VolunteerApplication

LOOKAHEAD = timedelta(days=60)
COVERAGE_DAYS = 28
LARGEST = 10


@dataclass
class GapRow:
    service: str
    code: str
    needs: Shown
    unmet: Shown
    providers: int


@dataclass
class Review:
    period: demand.Period
    gaps: list[GapRow] = field(default_factory=list)
    coverage: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    stale: list[Service] = field(default_factory=list)
    flagged: list[Service] = field(default_factory=list)
    certificates: list[tuple[str, int, date]] = field(default_factory=list)  # agency, how many, first expiry
    agreements: list[Agency] = field(default_factory=list)
    protocols: list = field(default_factory=list)
    volunteers: list[VolunteerApplication] = field(default_factory=list)
    open_concerns: int = 0


def largest_gaps(period: demand.Period, now: datetime) -> list[GapRow]:
    """Service types by most unmet demand and least supply: needs asked for and unmet over the period (protected as
    one table), and the providers that can receive them now."""
    needs = {type_id: n for (type_id, _), n in demand.by_measure(period, "need", "all").items()}
    unmet = {type_id: n for (type_id, _), n in demand.by_measure(period, "unmet", "all").items()}
    anyone = ops.Segment("any", "", "Anyone")
    supply = ops.supply(now, ops.MapFilters(), [anyone])
    types = [t for t in directory_ops.service_types() if needs.get(t.id) or unmet.get(t.id)]
    # Ranked by the true numbers (the order shows no number), then protected for showing.
    types.sort(key=lambda t: (-unmet.get(t.id, 0), supply.get((t.id, anyone.key), ops.Cell()).providers,
                              -needs.get(t.id, 0), t.name))
    types = types[:LARGEST]
    shown = protect([[needs.get(t.id, 0), unmet.get(t.id, 0)] for t in types]).cells if types else []
    return [GapRow(t.name, t.code, row[0], row[1], supply.get((t.id, anyone.key), ops.Cell()).providers)
            for t, row in zip(types, shown, strict=True)]


def build(now: datetime, period: demand.Period) -> Review:
    today = local_date(now)
    review = Review(period=period, gaps=largest_gaps(period, now))
    for kind in oncall_ops.coverage(now, now + timedelta(days=COVERAGE_DAYS)):
        review.coverage += [(kind.kind.name, start, end) for start, end in kind.no_primary]
    review.stale = db.session.scalars(
        select(Service).join(Agency, Agency.id == Service.agency_id)
        .where(Service.status == "active", Agency.membership_status == "member",
               (Service.capacity_confirmed_at.is_(None)) | (Service.capacity_confirmed_at < now - STALE_AFTER))
        .order_by(Agency.name, Service.id)).all()
    review.flagged = ops.flagged_services()
    review.certificates = [tuple(row) for row in db.session.execute(
        select(Agency.name, func.count(Certificate.id), func.min(Certificate.expires_on))
        .join(User, User.id == Certificate.user_id).join(Agency, Agency.id == Certificate.agency_id)
        .where(Certificate.status == "verified", Certificate.expires_on >= today,
               Certificate.expires_on <= today + LOOKAHEAD, User.active.is_(True))
        .group_by(Agency.name).order_by(func.min(Certificate.expires_on), Agency.name))]
    review.agreements = db.session.scalars(
        select(Agency).where(Agency.mou_renewal_on >= today, Agency.mou_renewal_on <= today + LOOKAHEAD)
        .order_by(Agency.mou_renewal_on, Agency.name)).all()
    review.protocols = protocol_ops.pages_due_for_review(today)
    review.volunteers = db.session.scalars(
        select(VolunteerApplication).where(VolunteerApplication.status == "renewal_due")
        .order_by(VolunteerApplication.id)).all()
    review.open_concerns = db.session.scalar(
        select(func.count()).select_from(Concern).where(Concern.resolved_at.is_(None))) or 0
    return review


def pdf(review: Review, task_force: str, now: datetime, zone) -> bytes:
    """The review as a PDF (the directory's PDF pages: a vendored Unicode font)."""
    from csrn.directory.pdf import ReferralListPDF  # fpdf2 loads only when a PDF is asked for (start-up time)

    printed = now.astimezone(zone).strftime("%d %B %Y %H:%M")
    document = ReferralListPDF(f"{task_force} — committee review", printed,
                               subtitle=f"Printed {printed}. Aggregate figures only: counts 1–4 show as <5.")
    document.alias_nb_pages()
    document.add_page()
    width = document.epw

    def heading(text: str) -> None:
        document.ln(2)
        document.set_font("DejaVu", "B", 11)
        document.multi_cell(width, 7, text, new_x="LMARGIN", new_y="NEXT")
        document.set_font("DejaVu", "", 9)

    def line(text: str) -> None:
        document.multi_cell(width, 5, text, new_x="LMARGIN", new_y="NEXT")

    def local(value: datetime) -> str:
        return value.astimezone(zone).strftime("%a %d %b %H:%M")

    heading(f"Largest gaps ({review.period.first:%d %b %Y} to {review.period.last:%d %b %Y})")
    for row in review.gaps or []:
        line(f"{row.service}: asked for {row.needs.text}, unmet {row.unmet.text}, providers now {row.providers}")
    if not review.gaps:
        line("No need asked for in this period.")
    sections = [
        ("On-call gaps in the next four weeks", [f"{kind}: nobody on call {local(start)} – {local(end)}"
                                                 for kind, start, end in review.coverage]),
        ("Listings not confirmed in 30 days", [f"{s.agency.name}: {s.title}" for s in review.stale]),
        ("Listings flagged by declines", [f"{s.agency.name}: {s.title} — {s.correction_note}" for s in review.flagged]),
        ("Certificates expiring within 60 days", [f"{name}: {count} certificate(s), the first on {first:%d %b %Y}"
                                                  for name, count, first in review.certificates]),
        ("Agreements up for renewal within 60 days", [f"{a.name}: {a.mou_renewal_on:%d %b %Y}"
                                                      for a in review.agreements]),
        ("Protocols due for review", [f"{version.title}: due {page.review_due_on:%d %b %Y}"
                                      for page, version in review.protocols]),
        ("Volunteers due for renewal", [f"Application #{a.id}" for a in review.volunteers]),
        ("Open concerns", [f"{review.open_concerns} open"]),
    ]
    for title, lines in sections:
        heading(title)
        for text in lines or ["None."]:
            line(text)
    return bytes(document.output())
