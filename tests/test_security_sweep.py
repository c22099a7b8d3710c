"""Sweeps over every URL rule of the app: the SECURITY.md requirements that hold for all routes at once.

AC1 object scope, AC2 login everywhere, AC5 no writes on GET, H1 CSRF, H2/HD1/H4/P9 headers and
page hygiene, H3/V1 the payload corpus, H5 spoofed htmx headers, V7 the Host allow-list.

The sweeps are driven by `app.url_map`. A new route is swept without anyone touching this file,
unless it takes arguments: then ID_FILLERS must say what to put in the URL (a function of the World,
the set of objects the sweep points at) and SCOPES must say whether the object is shared,
agency-scoped or role-gated. Both tables fail loudly when a rule is missing from them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import secrets
from collections.abc import Callable
from datetime import time
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from flask import Flask, url_for
from sqlalchemy import inspect, select, table, text
from werkzeug.routing import AnyConverter, IntegerConverter, Rule

from csrn.agencies.models import Agency, Certificate, TrainingCourse
from csrn.auth import operations as auth_ops
from csrn.auth import tokens
from csrn.auth.models import User, UserSession
from csrn.clock import utcnow
from csrn.extensions import db
from csrn.security import PUBLIC_ENDPOINTS
from csrn.uploads import upload_folder
from tests.conftest import NOW, Browser, csrf_from
from tests.corpus import (
    BIG_PAYLOAD,
    DANGEROUS_URLS,
    NUL_FREE_PAYLOADS,
    NUL_PAYLOAD,
    PAYLOADS,
    TEMPLATE_PAYLOADS,
    fit,
    payload_id,
    storable,
)

ROLES = ("staff", "case_manager", "agency_admin", "chair", "admin")
LOW_ROLES = ("staff", "case_manager", "agency_admin", "chair")  # everyone but the administrator
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
HX = {"HX-Request": "true"}

# SECURITY HD1, word for word.
HD1_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# The one directive the app adds to HD1: Pico CSS draws its select arrows and check marks as
# `url("data:image/svg+xml,...")` backgrounds, which `default-src 'self'` would block. Images cannot
# run script, so this widens nothing that matters; any other difference from HD1 fails the test.
CSP_ADDITIONS = {"img-src": "'self' data:"}
HTMX_CONFIG = {
    "selfRequestsOnly": True,
    "allowEval": False,
    "allowScriptTags": False,
    "historyCacheSize": 0,
    "includeIndicatorStyles": False,
}


# ----- the sweep machinery: rules, the World their ids point into, and the id fillers -----------

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


class World:
    """The objects a sweep's URLs point at, all owned by one agency (the owner) and its user (the owner user)."""

    def __init__(self, app, create_agency, create_user, login_as):
        self.app = app
        self.create_agency = create_agency
        self.create_user = create_user
        self.login_as = login_as
        self.owner_agency_id = create_agency(
            name="Owner Agency",
            description="Shelter and case management.",
            phone="555 0100",
            website="https://owner.example.org/",
            internal_notes="Renewal talk in March.",
        )
        self.owner = create_user(roles=("staff", "case_manager", "agency_admin"), agency_id=self.owner_agency_id)
        self._values: dict = {}
        self._browsers: dict = {}

    def value(self, key, make: Callable[[World], object]):
        """Make a URL value once per World, so every rule naming it points at the same object."""
        if key not in self._values:
            self._values[key] = make(self)
        return self._values[key]

    def browser(self, who: str) -> Browser:
        """A logged-in client: "owner" (the owner user), or a new "chair" or "admin" of another agency."""
        if who not in self._browsers:
            if who == "owner":
                self._browsers[who] = Browser(self.app.test_client())
                self._browsers[who].login(self.owner.email)
            else:
                self._browsers[who] = self.login_as(roles=(who,))
        return self._browsers[who]

    def add(self, row) -> int:
        """Insert a row (committed to the test's transaction) and return its id."""
        with self.app.app_context():
            db.session.add(row)
            db.session.commit()
            row_id = row.id
            db.session.remove()
        return row_id

    def stored_file(self) -> str:
        """Put a small PDF in the upload folder and return its stored name."""
        with self.app.app_context():
            name = secrets.token_hex(16)
            (upload_folder() / name).write_bytes(PDF)
        return name


def _owner_session(world: World) -> int:
    world.browser("owner")  # logging in starts the session
    with world.app.app_context():
        session_id = db.session.scalar(
            select(UserSession.id).where(UserSession.user_id == world.owner.id).order_by(UserSession.id.desc())
        )
        db.session.remove()
    return session_id


def _course(world: World) -> int:
    return world.add(TrainingCourse(name="Sweep course", description="", hours=6, valid_months=24,
                                    is_core=True, active=True, created_at=NOW))


def _certificate(world: World) -> int:
    return world.add(Certificate(
        user_id=world.owner.id, agency_id=world.owner_agency_id, course_id=world.value("course_id", _course),
        completed_on=NOW.date(), certificate_number="C-1", file_name=world.stored_file(),
        file_original_name="certificate.pdf", file_mime="application/pdf", status="pending", recorded_at=NOW,
    ))


def _agency_with_agreement_file(world: World) -> int:
    name = world.stored_file()
    with world.app.app_context():
        agency = db.session.get(Agency, world.owner_agency_id)
        agency.mou_signed_on, agency.mou_renewal_on = NOW.date(), NOW.date().replace(year=NOW.year + 2)
        agency.mou_file_name, agency.mou_file_original_name, agency.mou_file_mime = name, "mou.pdf", "application/pdf"
        db.session.commit()
        db.session.remove()
    return world.owner_agency_id


def _link_token(purpose: str) -> Callable[[World], str]:
    def make(world: World) -> str:
        with world.app.app_context():
            if purpose == "invite":
                user = auth_ops.create_user(None, f"invited-{secrets.token_hex(4)}@example.org", "Invited Person",
                                            ["staff"], world.owner_agency_id, NOW)
                raw = tokens.issue(purpose, user, None, utcnow())
            elif purpose == "capacity":
                raw = tokens.issue_for_agency(purpose, db.session.get(Agency, world.owner_agency_id), utcnow())
            else:
                raw = tokens.issue(purpose, db.session.get(User, world.owner.id), None, utcnow())
            db.session.commit()
            db.session.remove()
        return raw

    return make


def _access_request(world: World) -> int:
    """A chair's invitation into the owner agency, waiting for its agency admin (the owner user)."""
    chair = world.create_user(roles=("chair",), agency_id=None)
    with world.app.app_context():
        invitation = auth_ops.invite_user(db.session.get(User, chair.id), f"asked-{secrets.token_hex(4)}@example.org",
                                          "Asked For", world.owner_agency_id, ["case_manager"], NOW)
        request_id = invitation.request.id
        db.session.remove()
    return request_id


def _service_type(world: World) -> int:
    from csrn.directory.models import ServiceType

    with world.app.app_context():
        type_id = db.session.scalar(select(ServiceType.id).order_by(ServiceType.id))
        db.session.remove()
    return type_id or world.add(ServiceType(code="sweep", name="Sweep type"))


def _service(world: World) -> int:
    from csrn.directory.models import Service

    return world.add(Service(agency_id=world.owner_agency_id, service_type_id=world.value("type_id", _service_type),
                             name="Sweep shelter beds", open_slots=2, created_at=NOW, updated_at=NOW))


def _location(world: World) -> int:
    from csrn.directory.models import Location

    return world.add(Location(agency_id=world.owner_agency_id, name="Sweep office", address_1="1 Sweep Street",
                              city="Alder", visibility="members", created_at=NOW, updated_at=NOW))


def _public_location(world: World) -> int:
    """A public front door of the owner agency (what the HSDS API shows)."""
    from csrn.directory.models import Location

    return world.add(Location(agency_id=world.owner_agency_id, name="Sweep front door", address_1="3 Sweep Street",
                              city="Alder", visibility="public", created_at=NOW, updated_at=NOW))


def _hsds_id(kind: str) -> Callable[[World], str]:
    """The HSDS id of the owner agency's object of this kind, as the API names it."""

    def make(world: World) -> str:
        from csrn.directory.models import Location, Service, ServiceType
        from csrn.hsds import export

        service_id, location_id = world.value("service_id", _service), world.value("public_location", _public_location)
        with world.app.app_context():
            service, location = db.session.get(Service, service_id), db.session.get(Location, location_id)
            ids = {"service": service.uuid, "organization": service.agency.uuid,
                   "service_at_location": export.service_at_location_id(service.uuid, location.uuid),
                   "taxonomy": export.derived_id("taxonomy", "csrn-service-types"),
                   "taxonomy_term": db.session.get(ServiceType, service.service_type_id).uuid}
            db.session.remove()
        return ids[kind]

    return make


def _api_token_id(world: World) -> int:
    """An HSDS API token (an outside system's, issued from the command line)."""
    from csrn.hsds.access import issue_token

    with world.app.app_context():
        _, token = issue_token(None, "Sweep 211", utcnow())
        token_id = token.id
        db.session.remove()
    return token_id


def api_headers(world: World) -> dict:
    """The header an outside system sends to read the HSDS API (its endpoints answer 401 to anyone without it)."""

    def make(world: World) -> str:
        from csrn.hsds.access import issue_token

        with world.app.app_context():
            raw, _ = issue_token(None, "Sweep reader", utcnow())
            db.session.remove()
        return raw

    return {"Authorization": f"Bearer {world.value('api_bearer', make)}"}


def needs_api_token(rule: Rule) -> bool:
    """Whether the rule is an HSDS API endpoint that reads the directory (with a bearer token, not a login)."""
    return rule.endpoint.startswith("hsds_api.") and rule.endpoint not in ("hsds_api.openapi", "hsds_api.schema")


def _holiday(world: World) -> int:
    from csrn.schedules.models import Holiday

    return world.add(Holiday(day=NOW.date().replace(year=NOW.year + 5, month=1, day=2), name="Sweep day"))


def _published_protocol(world: World) -> str:
    """The slug of a protocol for everyone: version 1 published, version 2 a draft."""
    from csrn.protocols import operations as protocol_ops

    chair = world.create_user(roles=("chair",), agency_id=None)
    with world.app.app_context():
        owner = db.session.get(User, chair.id)
        values = {"title": "Sweep protocol", "body": "Call the advocate.", "change_note": "", "audience": "both",
                  "owner_id": owner.id, "review_due_on": NOW.date()}
        page = protocol_ops.create_page(owner, values, NOW, publish=True)
        protocol_ops.save_page(owner, page, {**values, "body": "A draft."}, page.version, NOW)
        slug = page.slug
        db.session.remove()
    return slug


INTAKE_ANSWERS = {"urgency": "routine", "county": "", "age_group": "25_plus", "gender": "female",
                  "citizenship": "unknown", "trafficking_type": "sex", "languages": ["en"],
                  "needs": ["case_management"], "consent": "no", "receiver": None, "backups": []}


def _draft(world: World) -> int:
    from csrn.intake import operations as intake_ops

    with world.app.app_context():
        draft = intake_ops.start_draft(db.session.get(User, world.owner.id), {"urgency": "routine", "county": ""},
                                       utcnow())
        draft_id = draft.id
        db.session.remove()
    return draft_id


def _referral(world: World) -> int:
    """A referral the owner user sent (no provider matched: it waits in the chairs' queue)."""
    from csrn.intake import operations as intake_ops

    with world.app.app_context():
        owner, now = db.session.get(User, world.owner.id), utcnow()
        draft = intake_ops.start_draft(owner, {}, now)
        intake_ops.save_draft(draft, dict(INTAKE_ANSWERS), 5, now)
        referral_id = intake_ops.submit(owner, draft, draft.submission_key, now).id
        db.session.remove()
    return referral_id


def _referral_to_owner(accepted: bool) -> Callable[[World], int]:
    """A referral another agency sent, offered to the owner agency (and accepted by the owner user, if asked)."""

    def make(world: World) -> int:
        from csrn.directory.models import ServiceType
        from csrn.intake import operations as intake_ops
        from csrn.referrals import operations as referral_ops

        sender = world.create_user(roles=("staff",), agency_id=world.create_agency(name="Sending Agency"))
        with world.app.app_context():
            actor, now = db.session.get(User, sender.id), utcnow()
            draft = intake_ops.start_draft(actor, {}, now)
            intake_ops.save_draft(draft, dict(INTAKE_ANSWERS), 5, now)
            intake = intake_ops.submit(actor, draft, draft.submission_key, now).intake
            type_id = db.session.scalar(select(ServiceType.id).where(ServiceType.code == "case_management"))
            referral = referral_ops.create_referral(actor, intake, type_id, [world.owner_agency_id], now)
            db.session.commit()
            if accepted:
                referral_ops.accept(db.session.get(User, world.owner.id), referral, now)
            referral_id = referral.id
            db.session.remove()
        return referral_id

    return make


def _case(closed: bool) -> Callable[[World], int]:
    """A case of the owner agency (a referral another agency sent, accepted by the owner user) with its needs
    assessment and a one-step plan; closed, if asked (the reopen page)."""

    def make(world: World) -> int:
        from csrn.cases import operations as case_ops
        from csrn.referrals import operations as referral_ops
        from csrn.referrals.models import Referral

        case_id = _referral_to_owner(True)(world)
        with world.app.app_context():
            owner, now, case = db.session.get(User, world.owner.id), utcnow(), db.session.get(Referral, case_id)
            case_ops.start_assessment(owner, case, now)
            case_ops.start_plan(owner, case, None, now)
            case_ops.add_step(owner, case, world.value("type_id", _service_type), "", now)
            if closed:
                referral_ops.close(owner, db.session.get(Referral, case_id), "engaged", now)
            db.session.remove()
        return case_id

    return make


def _plan_step(world: World) -> int:
    from csrn.cases import operations as case_ops
    from csrn.referrals.models import Referral

    with world.app.app_context():
        step_id = case_ops.steps_of(db.session.get(Referral, world.value("case", _case(False))))[0].id
        db.session.remove()
    return step_id


def _pathway(world: World) -> int:
    from csrn.pathways import operations as pathway_ops

    with world.app.app_context():
        steps = [(world.value("type_id", _service_type), "Start here.")]
        pathway = pathway_ops.save_pathway(None, None, {"name": "Sweep pathway", "description": ""}, {}, steps,
                                           None, NOW)
        pathway_id = pathway.id
        db.session.remove()
    return pathway_id


VOLUNTEER_ANSWERS = {
    "name": "Sweep Volunteer", "email": "sweep-volunteer@example.org", "phone": "555 0199", "profession": "attorney",
    "profession_other": "", "licence_number": "B-1", "licence_jurisdiction": "State Bar", "languages": ["en", "es"],
    "language_pairs": "", "practice_areas": ["immigration"], "hours_per_month": 4, "availability": "",
    "reference1_name": "Ref One", "reference1_contact": "one@example.org", "reference2_name": "Ref Two",
    "reference2_contact": "two@example.org", "background_check_consent": True, "confidentiality_acknowledged": True,
}


def _volunteer(world: World) -> tuple[int, str, int]:
    """A volunteer application: (id, raw status token, id of a checklist item with a document)."""
    from csrn.volunteers import operations as volunteer_ops

    name = world.stored_file()
    with world.app.app_context():
        submitted = volunteer_ops.submit_application(dict(VOLUNTEER_ANSWERS), utcnow())
        item = submitted.application.items[0]
        item.done_on, item.notes = NOW.date(), "Seen in person."
        item.file_name, item.file_original_name, item.file_mime = name, "id.pdf", "application/pdf"
        db.session.commit()
        result = (submitted.application.id, submitted.raw_token, item.id)
        db.session.remove()
    return result


# What to put in a URL argument: keyed by argument name, or by (endpoint, argument) when one rule
# needs something special. Each function gets the World and returns the id of an object owned by
# world.owner_agency_id (or world.owner). Later modules add theirs (offer_id, consent_id, ...).
def _kind(world: World) -> int:
    from csrn.oncall.models import ResponseKind

    return world.add(ResponseKind(name="Sweep crisis response", required_24_7=True, created_at=NOW, updated_at=NOW))


def _shift(world: World) -> int:
    from csrn.oncall.models import Shift

    return world.add(Shift(agency_id=world.owner_agency_id, kind_id=world.value("kind_id", _kind),
                           user_id=world.owner.id, phone="555 0100", role="primary", pattern="weekly",
                           weekdays="0 1 2 3 4 5 6", starts=time(8), ends=time(8), created_at=NOW, updated_at=NOW))


def _shift_exception(world: World) -> int:
    from csrn.oncall.models import ShiftException

    return world.add(ShiftException(shift_id=world.value("shift_id", _shift), start_date=NOW.date(),
                                    end_date=NOW.date(), note="Sweep leave"))


def _feed_token(world: World) -> str:
    with world.app.app_context():
        raw = tokens.issue_access("oncall-mine", db.session.get(User, world.owner.id), utcnow())
        db.session.commit()
        db.session.remove()
    return raw


def _appointments_feed_token(world: World) -> str:
    with world.app.app_context():
        raw = tokens.issue_access("appointments-mine", db.session.get(User, world.owner.id), utcnow())
        db.session.commit()
        db.session.remove()
    return raw


def _court_date(world: World) -> tuple[int, int]:
    """A court appointment on the owner agency's case (with its checklist), and its first support item."""
    from datetime import timedelta

    from csrn.cases import coordination
    from csrn.referrals.models import Referral

    with world.app.app_context():
        owner, now = db.session.get(User, world.owner.id), utcnow()
        case = db.session.get(Referral, world.value("case", _case(False)))
        appointment = coordination.save_appointment(owner, case, None, {
            "kind": "court", "provider_agency_id": None, "starts_at": now + timedelta(days=3),
            "duration_minutes": 60, "place": "Sweep court", "accompaniment_needed": True,
            "interpreter_needed": False}, now)
        ids = appointment.id, coordination.supports_of(appointment)[0].id
        db.session.remove()
    return ids


def _concern(world: World) -> int:
    """A concern the owner user raised on the owner agency's case."""
    from csrn.cases import coordination
    from csrn.referrals.models import Referral

    with world.app.app_context():
        owner = db.session.get(User, world.owner.id)
        case = db.session.get(Referral, world.value("case", _case(False)))
        concern_id = coordination.raise_concern(owner, case, "question", "Sweep concern", utcnow()).id
        db.session.remove()
    return concern_id


def _drill(running: bool) -> Callable[[World], int]:
    """A drill a chair started, sent for the owner agency: with no provider to offer it, it ends in the queue; a
    running one has an offer to the owner agency still waiting (the stop page)."""

    def make(world: World) -> int:
        from datetime import timedelta

        from csrn.drills import operations as drill_ops
        from csrn.referrals.models import Offer

        chair_record = world.create_user(roles=("chair",))
        with world.app.app_context():
            chair, now = db.session.get(User, chair_record.id), utcnow()
            drill = drill_ops.start_drill(chair, {
                "sending_agency_id": world.owner_agency_id, "urgency": "emergency", "needs": [], "county": "",
                "note": "Sweep drill", "simulated_start": now}, now)
            if running:
                db.session.add(Offer(referral_id=drill.referral_id, agency_id=world.owner_agency_id, state="pending",
                                     offered_at=now, deadline_at=now + timedelta(hours=1)))
                drill.referral.state = "offered"
                drill.state, drill.end_reason, drill.report_json = "running", "", ""
                db.session.commit()
            drill_id = drill.id
            db.session.remove()
        return drill_id

    return make


def _prospect(world: World) -> int:
    """A prospect agency a chair linked to the dental gap."""
    from csrn.directory.models import ServiceType
    from csrn.gaps.models import GapProspect

    prospect_id = world.create_agency(name="Prospect Clinic", membership_status="prospect")
    chair = world.create_user(roles=("chair",))
    with world.app.app_context():
        type_id = db.session.scalar(select(ServiceType.id).where(ServiceType.code == "dental"))
        db.session.remove()
    return world.add(GapProspect(agency_id=prospect_id, service_type_id=type_id, segment="any:",
                                 created_by_id=chair.id, created_at=NOW))


ID_FILLERS: dict[str | tuple[str, str], Callable[[World], object]] = {
    "agency_id": lambda world: world.owner_agency_id,
    ("agencies.agreement_document", "agency_id"): _agency_with_agreement_file,
    "user_id": lambda world: world.owner.id,
    ("users.act", "action"): lambda world: "deactivate",
    "request_id": _access_request,
    ("users.decide", "decision"): lambda world: "approve",
    "session_id": _owner_session,
    "course_id": _course,
    "certificate_id": _certificate,
    "type_id": _service_type,
    "service_id": _service,
    "location_id": _location,
    "holiday_id": _holiday,
    "slug": _published_protocol,
    "number": lambda world: 1,  # a protocol's first version; an intake draft's first step
    "draft_id": _draft,
    "referral_id": _referral,
    ("referrals.decline", "referral_id"): lambda world: world.value("offered_to_owner", _referral_to_owner(False)),
    ("referrals.close", "referral_id"): lambda world: world.value("accepted_by_owner", _referral_to_owner(True)),
    "pathway_id": _pathway,
    "case_id": lambda world: world.value("case", _case(False)),
    ("cases.reopen", "case_id"): lambda world: world.value("closed_case", _case(True)),
    "step_id": _plan_step,
    "appointment_id": lambda world: world.value("court", _court_date)[0],
    "support_id": lambda world: world.value("court", _court_date)[1],
    "concern_id": _concern,
    ("cases.feed", "token"): _appointments_feed_token,
    ("cases.move_step", "direction"): lambda world: "up",
    ("auth.accept_invitation", "token"): _link_token("invite"),
    ("auth.reset_password", "token"): _link_token("reset"),
    ("directory.confirm_link", "token"): _link_token("capacity"),
    ("static", "filename"): lambda world: "css/csrn.css",
    "application_id": lambda world: world.value("volunteer", _volunteer)[0],
    "item_id": lambda world: world.value("volunteer", _volunteer)[2],
    ("volunteers.status", "token"): lambda world: world.value("volunteer", _volunteer)[1],
    ("volunteers.withdraw", "token"): lambda world: world.value("volunteer", _volunteer)[1],
    "kind_id": _kind,
    "shift_id": _shift,
    "exception_id": _shift_exception,
    "drill_id": lambda world: world.value("ended_drill", _drill(False)),
    ("drills.stop", "drill_id"): lambda world: world.value("running_drill", _drill(True)),
    "prospect_id": _prospect,
    "purpose": lambda world: "oncall-mine",
    ("oncall.feed", "token"): _feed_token,
    ("api_tokens.revoke", "token_id"): _api_token_id,
    ("hsds_api.service", "hsds_id"): _hsds_id("service"),
    ("hsds_api.organization", "hsds_id"): _hsds_id("organization"),
    ("hsds_api.service_at_location", "hsds_id"): _hsds_id("service_at_location"),
    ("hsds_api.taxonomy", "hsds_id"): _hsds_id("taxonomy"),
    ("hsds_api.taxonomy_term", "hsds_id"): _hsds_id("taxonomy_term"),
    ("hsds_api.schema", "name"): lambda world: "compiled/service.json",
}

SHARED = "shared"  # shown to every logged-in user (agency profiles, courses, services, published protocols)
AGENCY_SCOPED = "agency-scoped"  # never shown outside the owning agency (SECURITY AC1): 404
ROLE_GATED = "role-gated"  # tools of one role (chairs, administrators): 403 or 404 to every other role
# Every endpoint with an id in its URL, except the public ones, says which it is. Edit routes of
# shared objects count as agency-scoped: they answer 404 to other agencies. An agency-scoped route
# may also refuse by role (403), provided it does so for a made-up id too: before the lookup.
SCOPES: dict[str, str] = {
    "agencies.show": SHARED,
    "agencies.edit": AGENCY_SCOPED,
    "agencies.membership": ROLE_GATED,
    "agencies.agreement": ROLE_GATED,
    "agencies.agreement_document": AGENCY_SCOPED,
    "account.end_session": AGENCY_SCOPED,  # one's own sessions only
    "trainings.edit_course": ROLE_GATED,
    "trainings.certificate": AGENCY_SCOPED,
    "trainings.certificate_file": AGENCY_SCOPED,
    "trainings.reject_certificate": AGENCY_SCOPED,
    "trainings.verify_certificate": AGENCY_SCOPED,
    "users.show": AGENCY_SCOPED,
    "users.act": AGENCY_SCOPED,
    "users.change_roles": AGENCY_SCOPED,
    "users.decide": AGENCY_SCOPED,  # the agency's own agency admins decide what outsiders ask
    "directory.new_service": AGENCY_SCOPED,
    "directory.new_location": AGENCY_SCOPED,
    "directory.confirm_entries": AGENCY_SCOPED,
    "directory.edit_service": AGENCY_SCOPED,
    "directory.capacity": AGENCY_SCOPED,
    "directory.edit_location": AGENCY_SCOPED,
    "directory.delete_location": AGENCY_SCOPED,
    "directory.edit_type": ROLE_GATED,
    "schedules.delete_holiday": ROLE_GATED,
    "protocols.show": SHARED,
    "protocols.history": SHARED,
    "protocols.version": SHARED,
    "protocols.compare": SHARED,
    "protocols.acknowledge": SHARED,
    "protocols.edit": ROLE_GATED,
    "protocols.publish": ROLE_GATED,
    "protocols.restore": ROLE_GATED,
    "protocols.acknowledgements": ROLE_GATED,
    "intake.step": AGENCY_SCOPED,  # drafts are their author's own
    "intake.unmet": AGENCY_SCOPED,
    "intake.send": AGENCY_SCOPED,
    "intake.discard": AGENCY_SCOPED,
    "referrals.show": AGENCY_SCOPED,
    "referrals.sent": AGENCY_SCOPED,
    "referrals.accept": AGENCY_SCOPED,
    "referrals.decline": AGENCY_SCOPED,
    "referrals.withdraw": AGENCY_SCOPED,
    "referrals.offer_by_hand": AGENCY_SCOPED,
    "referrals.close": AGENCY_SCOPED,
    "referrals.revoke_consent": AGENCY_SCOPED,
    "referrals.contact": AGENCY_SCOPED,
    "pathways.edit": ROLE_GATED,
    # A case record is the accepting agency's alone (DESIGN §5), its case managers' and admins'.
    "cases.show": AGENCY_SCOPED,
    "cases.start_assessment": AGENCY_SCOPED,
    "cases.assessment": AGENCY_SCOPED,
    "cases.start_plan": AGENCY_SCOPED,
    "cases.add_step": AGENCY_SCOPED,
    "cases.move_step": AGENCY_SCOPED,
    "cases.remove_step": AGENCY_SCOPED,
    "cases.onward": AGENCY_SCOPED,
    "cases.transfer": AGENCY_SCOPED,
    "cases.reopen": AGENCY_SCOPED,
    "cases.edit_appointment": AGENCY_SCOPED,
    "cases.delete_appointment": AGENCY_SCOPED,
    "cases.new_appointment": AGENCY_SCOPED,
    "cases.record_support": AGENCY_SCOPED,
    # A referral's messages and concerns: its involved agencies only; a concern's outline also to chairs.
    "cases.coordination": AGENCY_SCOPED,
    "cases.post_message": AGENCY_SCOPED,
    "cases.raise_concern": AGENCY_SCOPED,
    "cases.concern": AGENCY_SCOPED,
    "cases.resolve_concern": AGENCY_SCOPED,
    "volunteers.show": ROLE_GATED,  # the vetting board is the chairs' alone
    "volunteers.record_item": ROLE_GATED,
    "volunteers.clear_item": ROLE_GATED,
    "volunteers.item_document": ROLE_GATED,
    "volunteers.change_status": ROLE_GATED,
    "oncall.edit_kind": ROLE_GATED,
    "oncall.edit_shift": AGENCY_SCOPED,
    "oncall.delete_shift": AGENCY_SCOPED,
    "oncall.add_exception": AGENCY_SCOPED,
    "oncall.remove_exception": AGENCY_SCOPED,
    # Drills are the chairs' alone (issue 19): everyone else 403.
    "drills.show": ROLE_GATED,
    "drills.jump": ROLE_GATED,
    "drills.stop": ROLE_GATED,
    "drills.clean_up": ROLE_GATED,
    "gaps.unlink_prospect": ROLE_GATED,
    "oncall.make_feed": SHARED,  # one's own feed: every user makes and stops their own
    "oncall.revoke_feed": SHARED,
    "api_tokens.revoke": ROLE_GATED,  # the HSDS API's tokens are the administrators' to revoke
}
KINDS = {SHARED, AGENCY_SCOPED, ROLE_GATED}

# What a GET may change (SECURITY AC5): table -> None (anything) or the columns it may touch.
GET_MAY_CHANGE: dict[str, set[str] | None] = {
    "audit_event": None,
    # Session bookkeeping: the idle timer, and new recovery codes cleared once their page has shown them.
    "user_session": {"last_seen_at", "recovery_codes_to_show"},
    "app_user": {"totp_pending_secret"},  # opening two-factor set-up draws the secret it will show
    "access_token": {"last_used_at"},  # a calendar feed read: when its token was last used
}
MISSING_ID = 2_000_000_000


class MissingFiller(AssertionError):
    """A rule takes an argument that ID_FILLERS does not know how to fill."""


def sweep_rules(app: Flask) -> list[Rule]:
    """Every URL rule of the app, in a stable order."""
    return sorted(app.url_map.iter_rules(), key=lambda rule: (rule.rule, rule.endpoint))


def methods_of(rule: Rule) -> list[str]:
    """The methods of a rule that the sweeps exercise (HEAD and OPTIONS come with GET)."""
    return [method for method in ("GET", *WRITE_METHODS) if method in rule.methods]


def is_public(rule: Rule) -> bool:
    """Whether the rule is on the allow-list of endpoints reachable without logging in."""
    return rule.endpoint in PUBLIC_ENDPOINTS


def url_args(rule: Rule) -> set[str]:
    """The variables in the rule's path (not the defaults a second rule of the endpoint supplies)."""
    return set(rule.arguments) - set(rule.defaults or ())


def fill_args(rule: Rule, world: World) -> dict:
    """Values for every argument of the rule, from ID_FILLERS; a clear failure when one is unknown."""
    values = {}
    for arg in sorted(url_args(rule)):
        for key in ((rule.endpoint, arg), arg):
            if key in ID_FILLERS:
                values[arg] = world.value(key, ID_FILLERS[key])
                break
        else:
            raise MissingFiller(
                f"{rule.rule} (endpoint {rule.endpoint}) takes <{arg}>, and ID_FILLERS in "
                f"tests/test_security_sweep.py does not say what to put there. Add "
                f"ID_FILLERS[{arg!r}] (or ID_FILLERS[({rule.endpoint!r}, {arg!r})]): a function of the "
                f"World returning the id of an object owned by world.owner_agency_id."
            )
    return values


def rule_url(rule: Rule, world: World) -> str:
    """The path of the rule with its arguments filled."""
    built = rule.build(fill_args(rule, world), append_unknown=False)
    assert built is not None, f"{rule.rule}: the values from ID_FILLERS do not fit its converters"
    return built[1]


def get_urls(app: Flask, world: World) -> list[tuple[Rule, str]]:
    """(rule, filled path) for every rule that answers GET."""
    return [(rule, rule_url(rule, world)) for rule in sweep_rules(app) if "GET" in rule.methods]


def anonymous_sweep_problems(app: Flask, world: World, login_path: str, public=PUBLIC_ENDPOINTS):
    """Request every non-public rule anonymously, by every method; list what did not go to the login."""
    problems = []
    client = app.test_client()
    token = None
    for rule in sweep_rules(app):
        if rule.endpoint in public:
            continue
        url = rule_url(rule, world)
        if "GET" not in rule.methods:
            response = client.get(url)
            if response.status_code != 405:
                problems.append(f"GET {url} ({rule.endpoint}, no GET): {response.status_code}, not 405")
        for method in methods_of(rule):
            kwargs = {}
            if method != "GET":
                if token is None:  # a valid token, so the CSRF check cannot be what stops the request
                    token = csrf_from(client.get(login_path).get_data(as_text=True))
                kwargs = {"data": {"csrf_token": token}, "headers": {"X-CSRFToken": token}}
            response = client.open(url, method=method, **kwargs)
            where = urlsplit(response.headers.get("Location", "")).path
            if response.status_code not in (302, 303) or where != login_path:
                problems.append(
                    f"{method} {url} ({rule.endpoint}) answered {response.status_code} "
                    f"(Location {response.headers.get('Location')!r}), not a redirect to {login_path}"
                )
            hx_kwargs = dict(kwargs, headers={**kwargs.get("headers", {}), **HX})
            response = client.open(url, method=method, **hx_kwargs)
            hx_where = urlsplit(response.headers.get("HX-Redirect", "")).path
            if response.status_code != 401 or hx_where != login_path or response.get_data():
                problems.append(
                    f"{method} {url} ({rule.endpoint}) with HX-Request answered {response.status_code} "
                    f"(HX-Redirect {response.headers.get('HX-Redirect')!r}, {len(response.get_data())} "
                    f"bytes), not an empty 401 with HX-Redirect to {login_path}"
                )
    return problems


def database_state(app: Flask) -> dict[str, tuple[int, list[str]]]:
    """Row count and contents of every table in the database, minus what GET_MAY_CHANGE allows."""
    state = {}
    with app.app_context():
        connection = db.session.connection()
        for name in sorted(inspect(connection).get_table_names()):
            allowed = GET_MAY_CHANGE.get(name, set())
            if allowed is None:
                continue
            result = connection.execute(select(text("*")).select_from(table(name)))
            keys = [key for key in result.keys() if key not in allowed]
            rows = sorted(repr([row._mapping[key] for key in keys]) for row in result)
            state[name] = (len(rows), rows)
        db.session.remove()
    return state


def state_changes(before: dict, after: dict) -> list[str]:
    """What differs between two database states, table by table."""
    changes = []
    for name in sorted(set(before) | set(after)):
        count_before, rows_before = before.get(name, (0, []))
        count_after, rows_after = after.get(name, (0, []))
        if count_before != count_after:
            changes.append(f"{name}: {count_before} rows before, {count_after} after")
        elif rows_before != rows_after:
            changes.append(f"{name}: row contents changed")
    return changes


# ----- reading pages ------------------------------------------------------------------------------

URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "poster", "data", "srcset", "cite", "background",
    "xlink:href", "ping", "manifest", "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete",
    "data-hx-get", "data-hx-post", "data-hx-put", "data-hx-patch", "data-hx-delete",
}


class Page(HTMLParser):
    """A parsed page: its elements with their attributes, inline script text and headings."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], bool]] = []  # tag, attributes, in <head>
        self.inline_scripts: list[str] = []
        self.h1: list[str] = []
        self._in_head = False
        self._in_script = False
        self._h1_depth = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        self.elements.append((tag, dict(attrs), self._in_head))
        if tag == "script":
            self._in_script = True
            self.inline_scripts.append("")
        elif tag == "h1":
            self._h1_depth += 1
            self.h1.append("")

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), self._in_head))

    def handle_endtag(self, tag):
        if tag == "head":
            self._in_head = False
        elif tag == "script":
            self._in_script = False
        elif tag == "h1" and self._h1_depth:
            self._h1_depth -= 1

    def handle_data(self, data):
        if self._in_script:
            self.inline_scripts[-1] += data
        if self._h1_depth:
            self.h1[-1] += data

    def skeleton(self) -> list[tuple[str, tuple[str, ...]]]:
        """Each element's tag and attribute names: what a payload must never add to."""
        return [(tag, tuple(sorted(attrs))) for tag, attrs, _ in self.elements]


def is_local(url: str) -> bool:
    """A path on this site (`/...`, `?...` or `#...`), never another host, scheme or a bare relative."""
    if url.startswith(("#", "?")):
        return True
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        return False
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc


def page_problems(html: str | Page, external_links: set[str], full_page: bool) -> list[str]:
    """What is wrong with a page under H2, H3, P9 and the no-inline-script rule (an empty list if nothing)."""
    page = html if isinstance(html, Page) else Page(html)
    problems = []
    for tag, attrs, _ in page.elements:
        for name, value in attrs.items():
            value = (value or "").strip()
            if name.startswith(("on", "hx-on", "data-hx-on")):
                problems.append(f"<{tag}> has an inline handler attribute {name}={value!r}")
            if name == "style":
                problems.append(f"<{tag}> has a style attribute {value!r}")
            if value == "None":  # a Python None printed into the page (type="None" shows a password)
                problems.append(f"<{tag}> has {name}='None': a None printed as text")
            if name in ("hx-vars",) or (name in ("hx-vals", "data-hx-vals") and "js:" in value.lower()):
                problems.append(f"<{tag}> evaluates script through {name}={value!r}")
            if name not in URL_ATTRIBUTES:
                continue
            lowered = "".join(value.split()).lower()
            if lowered.startswith(("javascript:", "data:", "vbscript:")):
                problems.append(f"<{tag} {name}={value!r}>: a script URL")
            elif tag == "a" and name == "href" and not is_local(value):
                if lowered.startswith(("tel:", "mailto:")):
                    continue
                rel = set((attrs.get("rel") or "").split())
                if value not in external_links:
                    problems.append(f"<a href={value!r}> leads off the site and is no agency's website")
                elif not {"noopener", "noreferrer"} <= rel:
                    problems.append(f"<a href={value!r}> leads off the site without rel=noopener noreferrer")
            elif value and not is_local(value):
                problems.append(f"<{tag} {name}={value!r}> is not a path on this site")
        if tag == "style":
            problems.append("an inline <style> element")
        if tag == "script" and not attrs.get("src"):
            problems.append("a <script> without src")
        if tag == "base":
            problems.append("a <base> element")
    problems += [f"inline script text {text_!r}" for text_ in page.inline_scripts if text_.strip()]
    configs = [
        attrs for tag, attrs, _ in page.elements if tag == "meta" and attrs.get("name") == "htmx-config"
    ]
    if full_page:
        if len(configs) != 1:
            problems.append(f"{len(configs)} <meta name=htmx-config> elements, not one")
        else:
            in_head = [head for tag, attrs, head in page.elements if attrs is configs[0]][0]
            if not in_head:
                problems.append("<meta name=htmx-config> is not in <head>")
            try:
                config = json.loads(configs[0].get("content") or "")
            except ValueError:
                problems.append(f"htmx-config is not JSON: {configs[0].get('content')!r}")
            else:
                for key, wanted in HTMX_CONFIG.items():
                    found = config.get(key, "missing")
                    if found != wanted or type(found) is not type(wanted):
                        problems.append(f"htmx-config {key} is {found!r}, not {wanted!r}")
        scripts = [attrs["src"] for tag, attrs, _ in page.elements if tag == "script" and attrs.get("src")]
        if not any(urlsplit(src).path.startswith("/static/js/htmx-2.") for src in scripts):
            problems.append(f"htmx is not loaded from /static/js/htmx-2.x (scripts: {scripts})")
    elif configs:
        problems.append("a fragment carries a <meta name=htmx-config>")
    return problems


def csp_directives(value: str) -> dict[str, str]:
    """A CSP header as {directive: sources}."""
    directives = {}
    for part in value.split(";"):
        name, _, sources = part.strip().partition(" ")
        if name:
            directives[name] = " ".join(sources.split())
    return directives


# Stored uploads are served as attachments under a stricter policy of their own (SECURITY V5).
ATTACHMENT_CSP = {"default-src": "'none'", "sandbox": ""}


def header_problems(response, what: str) -> list[str]:
    """HD1 on every response; H4 no-store and Vary: HX-Request on every HTML response."""
    problems = []
    csp = csp_directives(response.headers.get("Content-Security-Policy", ""))
    attachment = response.headers.get("Content-Disposition", "").startswith("attachment")
    if csp != {**csp_directives(HD1_CSP), **CSP_ADDITIONS} and not (attachment and csp == ATTACHMENT_CSP):
        problems.append(f"{what}: CSP {response.headers.get('Content-Security-Policy')!r} differs from HD1")
    if response.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{what}: X-Content-Type-Options {response.headers.get('X-Content-Type-Options')!r}")
    if response.headers.get("Referrer-Policy") != "same-origin":
        problems.append(f"{what}: Referrer-Policy {response.headers.get('Referrer-Policy')!r}")
    if response.mimetype == "text/html":
        if not response.cache_control.no_store:
            problems.append(f"{what}: Cache-Control {response.headers.get('Cache-Control')!r}, not no-store")
        if "hx-request" not in {value.lower() for value in response.vary}:
            problems.append(f"{what}: Vary {response.headers.get('Vary')!r} lacks HX-Request")
    return problems


def agency_websites(app: Flask) -> set[str]:
    """The agency website links a page may carry: the only external links allowed."""
    with app.app_context():
        websites = set(db.session.scalars(select(Agency.website)))
        db.session.remove()
    return {site.strip() for site in websites if site.strip().lower().startswith(("https://", "http://"))}


def crawl(client, start: list[tuple[str, dict]], external_links: set[str], limit: int = 160):
    """Visit the start URLs and every local link found, checking each response; return (problems, seen)."""
    queue = list(start)
    seen: dict[tuple[str, str], int] = {}
    problems: list[str] = []
    while queue and len(seen) < limit:
        url, headers = queue.pop(0)
        key = (url, json.dumps(headers, sort_keys=True))
        if key in seen:
            continue
        response = client.get(url, headers=headers)
        seen[key] = response.status_code
        what = f"GET {url}{' (htmx)' if headers else ''} -> {response.status_code}"
        if response.status_code >= 500:
            problems.append(f"{what}: server error")
        problems += header_problems(response, what)
        if response.status_code in (301, 302, 303, 307, 308):
            location = response.headers["Location"]
            if not is_local(location):
                problems.append(f"{what}: redirects off the site to {location!r}")
            else:
                queue.append((location, {}))
            continue
        if response.mimetype != "text/html" or not response.get_data():
            continue
        html = response.get_data(as_text=True)
        full_page = "<html" in html[:200].lower()
        if not headers and not full_page:
            problems.append(f"{what}: a page request answered a fragment")
        page = Page(html)
        problems += [f"{what}: {problem}" for problem in page_problems(page, external_links, full_page)]
        for tag, attrs, _ in page.elements:
            href = (attrs.get("href") or "").strip()
            if tag == "a" and is_local(href) and not href.startswith(("#", "?")):
                path = href.split("#", 1)[0]
                if not path.startswith("/static/"):
                    queue.append((path, {}))
    return problems, seen


def report(problems: list[str]) -> str:
    """Problems as a readable assertion message."""
    return "\n  " + "\n  ".join(problems)


# ----- fixtures -----------------------------------------------------------------------------------

@pytest.fixture
def world(app, create_agency, create_user, login_as, tmp_path, monkeypatch):
    """A World of objects owned by one agency, for the sweeps' URLs to point at (uploads in tmp).

    Every filler runs here, before any test takes its "before" snapshot of the database: objects
    made on demand in the middle of a sweep would look like data changed by the requests.
    """
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    world = World(app, create_agency, create_user, login_as)
    for rule in sweep_rules(app):
        with contextlib.suppress(MissingFiller):  # reported by the test that builds the URL
            fill_args(rule, world)
    return world


@pytest.fixture
def login_path(app):
    """Where anonymous visitors are sent."""
    with app.test_request_context():
        return url_for("auth.login")


# ----- AC2: login everywhere except the allow-list ------------------------------------------------

def test_every_endpoint_but_the_allow_list_sends_anonymous_visitors_to_login(app, world, login_path):
    """AC2: anonymous GET/POST on every non-public rule redirects to the login (htmx: 401 + HX-Redirect)."""
    problems = anonymous_sweep_problems(app, world, login_path)
    assert not problems, "endpoints reachable without login (add login_required):" + report(problems)


def test_the_allow_list_names_real_endpoints_that_answer_anonymously(app, world):
    """AC2: each public endpoint exists and answers an anonymous GET (the sweep skipped the right ones)."""
    endpoints = {rule.endpoint for rule in sweep_rules(app)}
    assert PUBLIC_ENDPOINTS <= endpoints, f"stale allow-list entries: {PUBLIC_ENDPOINTS - endpoints}"
    client = app.test_client()
    for rule in sweep_rules(app):
        if is_public(rule) and "GET" in rule.methods:
            response = client.get(rule_url(rule, world))
            if needs_api_token(rule):  # no login page: 401 and a bearer challenge, then 200 with a token
                assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer"), (
                    f"public {rule.endpoint} answered {response.status_code} to a visitor without a token")
                response = client.get(rule_url(rule, world), headers=api_headers(world))
            # 302 only for the second-factor step, which sends a visitor without a pending login back
            assert response.status_code == 200 or (response.status_code == 302 and rule.endpoint.startswith("auth.")), (
                f"public {rule.endpoint} answered {response.status_code} to an anonymous visitor"
            )


def test_the_sweep_catches_an_unprotected_endpoint_and_an_unknown_id(world):
    """The sweep itself: an endpoint without login is reported; an id no filler knows fails clearly."""
    toy = Flask(__name__)
    toy.add_url_rule("/leak", "leak", lambda: "client list")
    toy.add_url_rule("/widgets/<int:widget_id>", "widget", lambda widget_id: "widget")
    problems = anonymous_sweep_problems(toy, world, "/login", public={"static", "widget"})
    assert any("GET /leak (leak) answered 200" in problem for problem in problems), problems
    toy_rules = {rule.endpoint: rule for rule in toy.url_map.iter_rules()}
    with pytest.raises(MissingFiller, match=r"takes <widget_id>.*ID_FILLERS\['widget_id'\]"):
        rule_url(toy_rules["widget"], world)


# ----- AC1: object scope --------------------------------------------------------------------------

def test_every_id_bearing_endpoint_is_classified_shared_or_agency_scoped(app):
    """AC1: SCOPES covers every endpoint whose URL carries an id, and nothing else."""
    id_bearing = {rule.endpoint for rule in sweep_rules(app) if url_args(rule) and not is_public(rule)}
    unclassified = sorted(id_bearing - SCOPES.keys())
    assert not unclassified, (
        f"id-bearing endpoints missing from SCOPES in tests/test_security_sweep.py: {unclassified}; "
        f"say whether each is {SHARED!r}, {AGENCY_SCOPED!r} or {ROLE_GATED!r}"
    )
    stale = sorted(SCOPES.keys() - id_bearing)
    assert not stale, f"SCOPES names endpoints that take no id or do not exist: {stale}"
    assert set(SCOPES.values()) <= KINDS


def missing_url(rule: Rule, world: World) -> str:
    """The rule's URL with every id (not a choice of an `any()` converter) replaced by one that does not exist."""
    values = fill_args(rule, world)
    for arg, value in values.items():
        if not isinstance(rule._converters[arg], AnyConverter):
            values[arg] = MISSING_ID if isinstance(value, int) else "no-such-thing-0"
    return rule.build(values, append_unknown=False)[1]


def outsider_problem(kind: str, real: int, absent: int) -> str | None:
    """Why an outsider's answers (for the real id and a made-up one) break AC1, or None."""
    if kind == SHARED and real != 200 and not real == absent == 403:
        return f"answered {real}, not 200 (a shared object) nor a 403 by role ({absent} for a made-up id)"
    if kind == AGENCY_SCOPED and real != 404 and not real == absent == 403:
        return f"answered {real} ({absent} for a made-up id), not 404"
    if kind == ROLE_GATED and real not in (403, 404):
        return f"answered {real}, not 403 or 404"
    return None


@pytest.mark.parametrize(
    "roles",
    [("case_manager",), ("agency_admin",), ("staff", "case_manager", "agency_admin")],
    ids=lambda roles: "+".join(roles),
)
def test_an_uninvolved_agency_gets_404_on_every_agency_scoped_id(app, world, login_as, roles):
    """AC1: another agency's user gets 404 on every method of every agency-scoped id rule; shared ids show.

    A 403 is accepted from an agency-scoped rule only when a made-up id gets the same 403: a refusal by
    role, before the lookup, which says nothing about the object.
    """
    targets = [
        (rule, rule_url(rule, world), missing_url(rule, world))
        for rule in sweep_rules(app)
        if url_args(rule) and not is_public(rule)
    ]
    outsider = login_as(roles=roles)  # of an agency of its own, not the owner
    token = csrf_from(outsider.get("/").get_data(as_text=True))
    before = database_state(app)
    problems = []
    for rule, url, missing in targets:
        kind = SCOPES[rule.endpoint]
        for method in methods_of(rule):
            if kind == SHARED and method != "GET":
                continue  # what a shared object's own actions allow is for the module's tests
            for hx in ({}, HX) if method == "GET" else ({},):
                kwargs = {"headers": hx} if method == "GET" else {
                    "headers": {**hx, "X-CSRFToken": token}, "data": {"csrf_token": token}
                }
                real = outsider.client.open(url, method=method, **kwargs).status_code
                absent = outsider.client.open(missing, method=method, **kwargs).status_code
                if problem := outsider_problem(kind, real, absent):
                    problems.append(f"{kind} {method} {url}{' (htmx)' if hx else ''} as another agency's "
                                    f"{'+'.join(roles)}: {problem}")
    assert any(SCOPES[rule.endpoint] == AGENCY_SCOPED for rule, _, _ in targets), "nothing agency-scoped swept"
    assert not problems, report(problems)
    changes = state_changes(before, database_state(app))
    assert not changes, "another agency's requests changed data:" + report(changes)


def test_every_id_rule_points_at_a_real_object(app, world):
    """The sweeps' ids are real: each id-bearing GET rule answers 200 to the owner user, a chair or an admin."""
    targets = [(rule, rule_url(rule, world)) for rule in sweep_rules(app) if url_args(rule) and "GET" in rule.methods]
    entitled = {who: world.browser(who) for who in ("owner", "chair", "admin")}
    problems = []
    for rule, url in targets:
        headers = api_headers(world) if needs_api_token(rule) else {}
        answers = {who: browser.get(url, headers=headers).status_code for who, browser in entitled.items()}
        if 200 not in answers.values():
            problems.append(f"GET {url} ({rule.endpoint}): {answers}; fix its entry in ID_FILLERS")
    assert not problems, "no entitled user gets 200:" + report(problems)


# ----- V3: numbers the database cannot hold ------------------------------------------------------

# Just past PostgreSQL's integer (the id columns), past what SQLite can bind, past an unsigned 64-bit number,
# and far past them all.
HUGE_NUMBERS = (2**31, 2**63, 2**64, 10**30)
LARGEST_ID = 2**31 - 1  # the largest id a URL takes: the lookup runs, and finds nothing
ENTITLED = ("owner", "chair", "admin")  # between them, past every role check to the lookup itself


def int_args(rule: Rule) -> list[str]:
    """The rule's arguments read by an `<int:...>` converter (ids, version and step numbers)."""
    return sorted(arg for arg in url_args(rule) if isinstance(rule._converters[arg], IntegerConverter))


def number_url(rule: Rule, world: World, number: int) -> str:
    """The rule's URL with every int argument set to `number` (the others filled as usual)."""
    values = {**fill_args(rule, world), **dict.fromkeys(int_args(rule), number)}
    return rule.build(values, append_unknown=False)[1]


def write_kwargs(method: str, token: str) -> dict:
    """What a request of this method carries: nothing for GET, a valid CSRF token otherwise."""
    return {} if method == "GET" else {"headers": {"X-CSRFToken": token}, "data": {"csrf_token": token}}


@pytest.mark.parametrize("number", [*HUGE_NUMBERS, LARGEST_ID])
def test_ids_past_the_id_columns_range_answer_404_never_500(app, world, number):
    """V3: every rule with an int id, by every method, as the owner user, a chair and an admin: an id past
    2^31 - 1 (PostgreSQL's integer) is a 404 (no query runs); the largest id that fits is answered as any
    unknown id is."""
    targets = [(rule, number_url(rule, world, number), number_url(rule, world, MISSING_ID))
               for rule in sweep_rules(app) if int_args(rule)]
    problems = []
    for who in ENTITLED:
        browser = world.browser(who)
        token = csrf_from(browser.get("/").get_data(as_text=True))
        for rule, url, unknown_url in targets:
            for method in methods_of(rule):
                status = browser.client.open(url, method=method, **write_kwargs(method, token)).status_code
                if number > LARGEST_ID:
                    wanted = 404
                else:
                    wanted = browser.client.open(unknown_url, method=method, **write_kwargs(method, token)).status_code
                if status != wanted or status >= 500:
                    problems.append(f"{method} {url} ({rule.endpoint}) as {who}: {status}, not {wanted}")
    assert len(targets) >= 25, [rule.endpoint for rule, _, _ in targets]
    assert not problems, report(problems)


HUGE_QUERIES = [
    {"page": 10**30, "new": 2**64, "old": 2**63},  # list pages read `page`; the protocol comparison `new`, `old`
    {"page": 2**63, "new": 1, "old": 2**31},
    {"page": 2**31, "new": 2**31 - 1, "old": 1},
]


@pytest.mark.parametrize("query", HUGE_QUERIES, ids=lambda query: urlencode(query)[:40])
def test_huge_page_numbers_and_query_ids_never_answer_500(app, world, query):
    """V3: every GET rule with a huge `?page=` (and `?new=`/`?old=`), as the owner user, a chair and an admin:
    never a 500 (list pages clamp the number; an out-of-range version number is a 404)."""
    urls = [url for _, url in get_urls(app, world)]
    problems = []
    for who in ENTITLED:
        browser = world.browser(who)
        for url in urls:
            status = browser.get(f"{url}?{urlencode(query)}").status_code
            if status >= 500:
                problems.append(f"GET {url}?{urlencode(query)} as {who}: {status}")
    assert not problems, report(problems)


# ----- AC5: no state change on GET ----------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_no_get_changes_data(app, world, login_as, role):
    """AC5: every GET rule leaves every table as it was, but the audit log and session bookkeeping."""
    urls = get_urls(app, world)
    user = login_as(roles=(role,), agency_id=world.owner_agency_id)
    before = database_state(app)
    for _, url in urls:
        assert user.get(url).status_code < 500, url
    changes = state_changes(before, database_state(app))
    assert not changes, f"GET requests as {role} changed data:" + report(changes)


def test_the_state_check_sees_a_changed_row(app, world):
    """The AC5 check itself: an edit that keeps every count is still seen."""
    before = database_state(app)
    with app.app_context():
        db.session.get(Agency, world.owner_agency_id).phone = "555 0199"
        db.session.commit()
        db.session.remove()
    assert state_changes(before, database_state(app)) == ["agency: row contents changed"]


# ----- H1: CSRF on every write --------------------------------------------------------------------

@pytest.mark.parametrize("who", ["anonymous", "admin+chair"])
def test_every_write_without_a_valid_csrf_token_answers_400(app, world, login_as, who):
    """H1: every POST/PUT/PATCH/DELETE rule refuses a missing or forged token with 400, htmx included."""
    targets = [(rule, rule_url(rule, world)) for rule in sweep_rules(app) if set(WRITE_METHODS) & rule.methods]
    client = app.test_client() if who == "anonymous" else login_as(roles=("admin", "chair")).client
    client.get("/login")  # a session with a token of its own, so the forged one is really compared
    before = database_state(app)
    problems = []
    for rule, url in targets:
        for method in methods_of(rule):
            if method == "GET":
                continue
            for headers in ({}, HX, {**HX, "X-CSRFToken": "forged"}):
                for data in ({}, {"csrf_token": "forged"}):
                    response = client.open(url, method=method, headers=headers, data=data)
                    if response.status_code != 400 or "security token" not in response.get_data(as_text=True):
                        problems.append(
                            f"{method} {url} headers={headers} data={data} answered "
                            f"{response.status_code}, not the 400 CSRF refusal"
                        )
    assert len(targets) >= 5, "fewer write rules than the skeleton had"
    assert not problems, report(problems)
    changes = state_changes(before, database_state(app))
    assert not changes, "a refused write changed data:" + report(changes)


# ----- H2, HD1, H4, P9: headers and page hygiene on every page, as every role ----------------------

def crawl_start(app: Flask, world: World) -> list[tuple[str, dict]]:
    """Every GET rule, the list as an htmx fragment, and error pages in both forms."""
    start = [(url, {}) for _, url in get_urls(app, world)]
    start += [
        ("/agencies/", HX),
        ("/agencies/?q=a&status=member&type=legal", HX),
        ("/no-such-page", {}),
        ("/no-such-page", HX),
        (f"/agencies/{MISSING_ID}", {}),
        (f"/agencies/{MISSING_ID}", HX),
        ("/admin/settings/", HX),  # 403 to everyone but the administrator
        ("/logout", {}),  # 405
    ]
    return start


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_every_page_carries_the_headers_and_htmx_config_and_only_local_urls(app, world, login_as, role):
    """H2/HD1/H4/P9: every page crawled as each role: headers, htmx meta, no inline code, local URLs."""
    start = crawl_start(app, world)
    client = app.test_client() if role == "anonymous" else login_as(
        roles=(role,), agency_id=world.owner_agency_id
    ).client
    problems, seen = crawl(client, start, agency_websites(app))
    assert not problems, f"as {role}:" + report(problems)
    statuses = set(seen.values())
    assert {404, 405} <= statuses, f"error pages were not crawled: {seen}"
    if role not in ("anonymous", "admin"):
        assert 403 in statuses, f"no 403 page was crawled as {role}: {seen}"
    if role != "anonymous":
        assert seen[("/agencies/", json.dumps(HX))] == 200, "the htmx fragment was not crawled"
        assert seen[(f"/agencies/{world.owner_agency_id}", "{}")] == 200, "the agency page was not crawled"


def test_error_responses_carry_the_headers(app, login_as, world):
    """HD1: 400, 403, 404 and 405 responses, page and fragment, carry every header; pages the meta."""
    staff = login_as(roles=("staff",))
    websites = agency_websites(app)
    requests = [
        ("GET", "/admin/outbox/", 403),
        ("GET", "/nowhere", 404),
        ("GET", f"/agencies/{world.owner_agency_id}/edit", 404),
        ("GET", "/logout", 405),
        ("POST", "/logout", 400),
        ("POST", f"/agencies/{world.owner_agency_id}/edit", 400),
    ]
    for method, url, status in requests:
        for headers in ({}, HX):
            response = staff.client.open(url, method=method, headers=headers)
            what = f"{method} {url} {headers}"
            assert response.status_code == status, what
            assert not header_problems(response, what), header_problems(response, what)
            html = response.get_data(as_text=True)
            assert ("<html" in html) is not bool(headers), f"{what}: page/fragment mix-up"
            found = page_problems(html, websites, full_page=not headers)
            assert not found, (what, found)


def test_the_page_check_catches_what_it_names():
    """The page check itself: each forbidden construct is reported."""
    base = (
        "<!doctype html><html><head><meta name=\"htmx-config\" content='{\"selfRequestsOnly\":true,"
        "\"allowEval\":false,\"allowScriptTags\":false,\"historyCacheSize\":0,"
        "\"includeIndicatorStyles\":false}'><script src=\"/static/js/htmx-2.0.11.min.js\"></script>"
        "</head><body>{}</body></html>"
    )
    assert page_problems(base.replace("{}", "<a href='/x'>x</a>"), set(), True) == []
    bad = {
        "<script>alert(1)</script>": "without src",
        "<p style='color:red'>x</p>": "style attribute",
        "<style>p{}</style>": "inline <style>",
        "<img src=x onerror=alert(1)>": "inline handler",
        "<button hx-on:click='alert(1)'>x</button>": "inline handler",
        "<div hx-vals='js:{a: alert(1)}'></div>": "evaluates script",
        "<a href='javascript:alert(1)'>x</a>": "script URL",
        "<a href=' JaVaScRiPt:alert(1)'>x</a>": "script URL",
        "<a href='https://evil.example/'>x</a>": "no agency's website",
        "<script src='https://cdn.example/x.js'></script>": "not a path on this site",
        "<link rel=stylesheet href='//cdn.example/x.css'>": "not a path on this site",
        "<div hx-get='https://evil.example/'></div>": "not a path on this site",
        "<form action='https://evil.example/'></form>": "not a path on this site",
        "<img src='x'>": "not a path on this site",
        "<meta name='htmx-config' content='{\"allowEval\":true}'>": "2 <meta",
        "<input name=password type='None'>": "printed as text",
    }
    for snippet, expected in bad.items():
        found = page_problems(base.replace("{}", snippet), set(), True)
        assert any(expected in problem for problem in found), (snippet, found)
    loose = base.replace('"allowEval":false', '"allowEval":true').replace("{}", "")
    assert any("allowEval" in problem for problem in page_problems(loose, set(), True))
    external = "<a href='https://owner.example.org/'>site</a>"
    found = page_problems(base.replace("{}", external), {"https://owner.example.org/"}, True)
    assert len(found) == 1 and "rel=noopener" in found[0], found


# ----- H5: spoofed htmx headers choose a template, never a permission ------------------------------

SPOOFS = [
    {"HX-Request": "true", "HX-Current-URL": "http://localhost/admin/settings/", "HX-Target": "body",
     "HX-Boosted": "true", "HX-Trigger": "main"},
    {"HX-Request": "false", "HX-Current-URL": "http://localhost/admin/outbox/", "HX-Target": "agency-list"},
]


def test_spoofed_htmx_headers_give_anonymous_visitors_nothing(app, world, login_path):
    """H5: anonymous with HX-* headers: 401 + HX-Redirect to the login (htmx) or a redirect, never content."""
    urls = [url for rule, url in get_urls(app, world) if not is_public(rule)]
    client = app.test_client()
    problems = []
    for url in urls:
        for headers in SPOOFS:
            response = client.get(url, headers=headers)
            if headers.get("HX-Request") == "true":
                ok = (response.status_code == 401 and not response.get_data()
                      and urlsplit(response.headers.get("HX-Redirect", "")).path == login_path)
            else:
                ok = (response.status_code == 302
                      and urlsplit(response.headers.get("Location", "")).path == login_path)
            if not ok:
                problems.append(f"GET {url} {headers}: {response.status_code} {response.get_data()[:80]!r}")
    assert not problems, report(problems)


@pytest.mark.parametrize("role", LOW_ROLES)
def test_spoofed_htmx_headers_change_no_permission(app, world, login_as, role):
    """H5: as each role, every GET rule answers the same status with and without spoofed HX-* headers."""
    urls = [url for _, url in get_urls(app, world)]
    user = login_as(roles=(role,))  # of another agency than the World's owner
    token = csrf_from(user.get("/").get_data(as_text=True))
    problems = []
    for url in urls:
        baseline = user.get(url)
        if baseline.status_code == 200 and baseline.mimetype != "text/html":
            continue  # a download the role may have: nothing for a header to unlock
        status = user.get(url, headers=SPOOFS[0]).status_code
        if status != baseline.status_code:
            problems.append(f"GET {url}: {baseline.status_code} plainly, {status} with {SPOOFS[0]}")
    for url in ("/admin/settings/", "/admin/outbox/", "/admin/audit/"):
        for headers in ({}, *SPOOFS):
            response = user.get(url, headers=headers)
            if response.status_code != 403:
                problems.append(f"GET {url} as {role} {headers}: {response.status_code}, not 403")
            if headers.get("HX-Request") == "true" and "<html" in response.get_data(as_text=True):
                problems.append(f"GET {url} {headers}: a full page for an htmx request")
    posts = [("/admin/settings/", 403)]
    if role != "chair":
        posts += [("/agencies/new", 403), (f"/agencies/{world.owner_agency_id}/edit", 404)]
    for url, wanted in posts:
        for headers in ({}, *SPOOFS):
            response = user.client.post(url, data={"csrf_token": token}, headers=headers)
            if response.status_code != wanted:
                problems.append(f"POST {url} as {role} {headers}: {response.status_code}, not {wanted}")
    assert not problems, report(problems)


# ----- H3/V1: the payload corpus renders inert everywhere -----------------------------------------

TEXT_FIELDS = ("name", "description", "county", "phone", "website", "internal_notes")
CONTROL = "Plain control text"
PAYLOAD_ATTRIBUTES = {("hx-get", "/admin"), ("hx-post", "/referrals/1/accept"), ("data-hx-post", "/x")}
QUERY_PARAMETERS = ("q", "status", "type", "page", "next")  # what list pages and the login read


def insert_agency(app, value: str) -> tuple[int, dict[str, str]]:
    """Insert an agency with `value` in every text field, bypassing the forms; return its id and values."""
    with app.app_context():
        dialect = db.session.get_bind().dialect.name
        values = {}
        for field in TEXT_FIELDS:
            length = getattr(Agency.__table__.c[field].type, "length", None)
            values[field] = fit(storable(value, dialect), length)
        agency = Agency(
            agency_type="victim_service_provider", membership_status="member",
            created_at=NOW, updated_at=NOW, **values,
        )
        db.session.add(agency)
        db.session.commit()
        agency_id = agency.id
        db.session.remove()
    return agency_id, values


def set_agency_text(app, agency_id: int, value: str) -> None:
    """Put `value` in every text field of the agency (the plain twin a hostile page is compared with)."""
    with app.app_context():
        agency = db.session.get(Agency, agency_id)
        for field in TEXT_FIELDS:
            setattr(agency, field, value)
        db.session.commit()
        db.session.remove()


def inertness_problems(html: str, values, websites: set[str]) -> list[str]:
    """Where a page shows one of the stored values as markup rather than text."""
    page = Page(html)
    problems = page_problems(page, websites, full_page="<html" in html[:300].lower())
    for value in set(values):
        if any(ch in value for ch in "<>\"'") and value in html:
            problems.append(f"{value[:50]!r} appears unescaped")
    telling = {value for value in values if len(value.strip()) >= 4}
    for tag, attrs, _ in page.elements:
        for name, attr in attrs.items():
            if (name, attr) in PAYLOAD_ATTRIBUTES or (name == "hx-trigger" and attr == "load"):
                problems.append(f"<{tag} {name}={attr!r}> came from a payload")
            if name.startswith(("hx-", "data-hx-")) and any(value in (attr or "") for value in telling):
                problems.append(f"<{tag} {name}={(attr or '')[:60]!r}> carries user data (H3)")
        if tag in ("svg", "iframe", "object", "embed"):
            problems.append(f"a <{tag}> element (from a payload?)")
    return problems


def csv_problems(text_: str) -> list[str]:
    """Cells a spreadsheet would run as a formula (SECURITY V6)."""
    return [
        f"CSV cell {value[:40]!r} would run as a formula"
        for row in csv.reader(io.StringIO(text_))
        for value in row
        if value.startswith(("=", "+", "-", "@", "\t", "\r"))
    ]


def response_problems(response, what: str, values, websites: set[str]) -> list[str]:
    """Everything the corpus tests check on one response: headers, no 500, inert HTML, safe CSV."""
    problems = header_problems(response, what)
    if response.status_code >= 500:
        problems.append(f"{what}: server error")
    elif response.mimetype == "text/csv":
        problems += [f"{what}: {p}" for p in csv_problems(response.get_data(as_text=True))]
    elif response.mimetype == "text/html" and response.status_code not in (301, 302, 303):
        problems += [f"{what}: {p}" for p in inertness_problems(response.get_data(as_text=True), values, websites)]
    return problems


def pages_of_agency(app: Flask, agency_id: int) -> list[tuple[str, str]]:
    """(endpoint, path) of every login-only GET rule that takes nothing but an agency id."""
    return [
        (rule.endpoint, rule.build({"agency_id": agency_id}, append_unknown=False)[1])
        for rule in sweep_rules(app)
        if "GET" in rule.methods and not is_public(rule) and url_args(rule) == {"agency_id"}
    ]


def pages_without_ids(app: Flask, public: bool = False) -> list[str]:
    """The path of every GET rule that takes no argument (login-only ones, or the public ones)."""
    return [
        rule.build({}, append_unknown=False)[1]
        for rule in sweep_rules(app)
        if "GET" in rule.methods and not url_args(rule) and is_public(rule) is public
    ]


def agency_viewers(login_as, agency_id: int) -> dict[str, Browser]:
    """A chair of another agency, and the agency's own agency admin and staff member, logged in."""
    return {
        "chair": login_as(roles=("chair",)),
        "agency_admin": login_as(roles=("agency_admin",), agency_id=agency_id),
        "staff": login_as(roles=("staff",), agency_id=agency_id),
    }


@pytest.mark.parametrize("payload", PAYLOADS, ids=payload_id)
def test_a_hostile_agency_renders_inert_to_each_viewer(app, login_as, payload):
    """H3/V1: a payload in every text field of an agency: its pages show it as text, to chair, admin and staff.

    Each page must also have the same elements and attributes as when the fields hold plain text.
    """
    hostile_id, stored = insert_agency(app, payload)
    viewers = agency_viewers(login_as, hostile_id)
    websites = agency_websites(app)
    pages = [("dashboard.index", "/"), *pages_of_agency(app, hostile_id)]
    problems = []
    seen = {}
    for viewer, browser in viewers.items():
        for endpoint, url in pages:
            response = browser.get(url)
            seen[(viewer, endpoint)] = (response.status_code, response.get_data(as_text=True))
            problems += response_problems(response, f"{viewer} GET {url}", stored.values(), websites)
    for viewer, url, headers in [
        ("chair", f"/agencies/?{urlencode({'q': stored['name']})}", HX),
        ("staff", "/agencies/", HX),
        ("agency_admin", "/agencies/", {}),
    ]:
        response = viewers[viewer].get(url, headers=headers)
        problems += response_problems(response, f"{viewer} GET {url[:60]} {headers}", stored.values(), websites)
    set_agency_text(app, hostile_id, CONTROL)
    for (viewer, endpoint), (status, html) in seen.items():
        if viewer == "staff":
            continue
        url = dict(pages)[endpoint]
        plain = viewers[viewer].get(url)
        if plain.status_code != status:
            problems.append(f"{viewer} {url}: {status} with the payload, {plain.status_code} with plain text")
        elif status == 200 and plain.mimetype == "text/html":
            if Page(html).skeleton() != Page(plain.get_data(as_text=True)).skeleton():
                problems.append(f"{viewer} {url}: the payload changed the page's elements or attributes")
    assert not problems, report(problems)
    show = seen[("chair", "agencies.show")][1]
    assert Page(show).h1 == [stored["name"]], "the name is not shown, literally, as the heading"
    if payload in TEMPLATE_PAYLOADS:
        assert "{{" in Page(show).h1[0] and "49" not in Page(show).h1[0]
        assert app.config["SECRET_KEY"] not in show and "&lt;Config" not in show


SOUP = " ".join(payload for payload in PAYLOADS if payload != BIG_PAYLOAD)  # every payload in one value


def test_every_page_shows_hostile_agencies_and_queries_inert(app, login_as, create_user):
    """H3/V1/V3: every payload in some agency and user; every page without ids, and every query, stays inert."""
    stored = []
    for payload in PAYLOADS:
        agency_id, values = insert_agency(app, payload)
        stored += values.values()
        with app.app_context():
            dialect = db.session.get_bind().dialect.name
            name = fit(storable(payload, dialect), User.__table__.c.name.type.length).strip() or "x"
            auth_ops.create_user(None, f"{secrets.token_hex(6)}@example.org", name, ["staff"], agency_id, NOW)
            db.session.commit()
            db.session.remove()
        stored.append(name)
    viewers = agency_viewers(login_as, agency_id)
    websites = agency_websites(app)
    query = urlencode({name: SOUP for name in QUERY_PARAMETERS})
    visits = [(viewer, url) for viewer in viewers for url in pages_without_ids(app)]
    visits += [("chair", f"{url}?{query}") for url in pages_without_ids(app)]
    visits += [(None, f"{url}?{query}") for url in pages_without_ids(app, public=True)]
    anonymous = app.test_client()
    problems = []
    seen = []
    while visits:
        viewer, url = visits.pop(0)
        seen.append(url)
        client = viewers[viewer].client if viewer else anonymous
        response = client.get(url)
        what = f"{viewer or 'anonymous'} GET {url[:60]}"
        problems += response_problems(response, what, [*stored, SOUP], websites)
        if response.mimetype != "text/html" or response.status_code != 200:
            continue
        if "?" in url:
            response = client.get(url, headers=HX)
            problems += response_problems(response, f"{what} (htmx)", [*stored, SOUP], websites)
        for tag, attrs, _ in Page(response.get_data(as_text=True)).elements:
            if tag == "a" and attrs.get("rel") == "next" and "page=2" in (attrs.get("href") or ""):
                visits.append((viewer, attrs["href"]))  # the second page of a list
    assert not problems, report(problems)
    assert any("page=2" in url for url in seen), "no list reached a second page"


def agency_form(**overrides) -> dict[str, str]:
    """A valid chair's agency form, with some fields replaced."""
    form = {
        "name": "Harbor Legal Aid",
        "description": "Immigration and labour law.",
        "agency_type": "legal",
        "county": "",
        "phone": "555 0142",
        "website": "https://harbor.example.org",
        "membership_status": "applicant",
        "internal_notes": "",
    }
    form.update(overrides)
    return form


@pytest.mark.parametrize("payload", NUL_FREE_PAYLOADS, ids=payload_id)
def test_a_payload_posted_through_the_agency_form_never_breaks_it(app, login_as, payload):
    """V3/H3: each payload in each text field of the chair's create form: 422 or a redirect, never a 500."""
    chair = login_as(roles=("chair",))
    token = csrf_from(chair.get("/agencies/new").get_data(as_text=True))
    websites = {"https://harbor.example.org"}
    problems = []
    for field in TEXT_FIELDS:
        for headers in ({}, HX):
            data = agency_form(**{field: payload}, csrf_token=token)
            response = chair.client.post("/agencies/new", data=data, headers=headers)
            what = f"{field}={payload_id(payload)!r}{' (htmx)' if headers else ''} -> {response.status_code}"
            where = response.headers.get("HX-Redirect" if headers else "Location", "")
            redirected = response.status_code == (204 if headers else 303) and is_local(where)
            if response.status_code != 422 and not redirected:
                problems.append(f"{what}: not 422 or a redirect")
            elif response.status_code == 422:
                html = response.get_data(as_text=True)
                stored = [value for name, value in data.items() if name in TEXT_FIELDS]
                problems += [f"{what}: {p}" for p in inertness_problems(html, stored, websites)]
            else:
                page = chair.get(where)
                html = page.get_data(as_text=True)
                if page.status_code != 200:
                    problems.append(f"{what}: the new agency's page answered {page.status_code}")
                problems += [f"{what} then GET: {p}" for p in page_problems(html, websites, True)]
                if any(ch in payload for ch in "<>\"'") and payload in html:
                    problems.append(f"{what}: the saved {field} appears unescaped")
    assert not problems, report(problems)


@pytest.mark.parametrize("url", DANGEROUS_URLS)
def test_the_website_field_refuses_script_and_data_urls(login_as, url):
    """V1: javascript:, JaVaScRiPt: and data: websites are refused with 422 and a message."""
    chair = login_as(roles=("chair",))
    token = csrf_from(chair.get("/agencies/new").get_data(as_text=True))
    response = chair.client.post("/agencies/new", data=agency_form(website=url, csrf_token=token))
    assert response.status_code == 422
    assert "Enter a web address starting with https://" in response.get_data(as_text=True)


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_a_nul_character_is_refused_with_a_message(login_as, field):
    """V3: NUL in any text field of the agency form: 422 and a message saying so, on either database."""
    chair = login_as(roles=("chair",))
    token = csrf_from(chair.get("/agencies/new").get_data(as_text=True))
    response = chair.client.post("/agencies/new", data=agency_form(**{field: NUL_PAYLOAD}, csrf_token=token))
    assert response.status_code == 422
    assert "contains a NUL character" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["Harbor\r\nBcc: x@evil.example", "Harbor\nHouse", "Harbor\rHouse", "Tab\there"])
def test_a_line_break_in_a_one_line_field_is_refused(login_as, value):
    """A name ends up in mail subjects, calendar lines and downloads, where a line break is not text (the hostile
    database's F1, F2): one-line fields refuse control characters; a text area keeps its line breaks."""
    chair = login_as(roles=("chair",))
    token = csrf_from(chair.get("/agencies/new").get_data(as_text=True))
    response = chair.client.post("/agencies/new", data=agency_form(name=value, csrf_token=token))
    assert response.status_code == 422
    assert "must be on one line" in response.get_data(as_text=True)
    token = csrf_from(chair.get("/agencies/new").get_data(as_text=True))
    fine = chair.client.post("/agencies/new", data=agency_form(description="Line one\r\nLine two",
                                                               csrf_token=token))
    assert fine.status_code in (302, 303)


# ----- V7: the Host allow-list --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("method", "url", "headers"),
    [
        ("GET", "/login", {}),
        ("GET", "/", {}),
        ("GET", "/agencies/", HX),
        ("GET", "/no-such-page", {}),
        ("POST", "/login", {}),
        ("POST", "/logout", HX),
    ],
)
def test_an_untrusted_host_answers_400(app, method, url, headers):
    """V7: `Host: evil.example` answers 400 (never a page with links built from that host)."""
    client = app.test_client()
    response = client.open(url, method=method, headers={**headers, "Host": "evil.example"})
    assert response.status_code == 400
    assert b"evil.example" not in response.get_data()
    assert not header_problems(response, f"{method} {url}")
    assert client.get("/login", headers={"Host": "127.0.0.1"}).status_code == 200


def test_a_forwarded_host_does_not_leak_into_links(app):
    """V7: X-Forwarded-Host is not trusted: redirects keep to this site's paths."""
    response = app.test_client().get("/agencies/", headers={"X-Forwarded-Host": "evil.example"})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    assert parse_qsl(urlsplit(response.headers["Location"]).query) == [("next", "/agencies/")]
