"""Import every module's models so the metadata (and Alembic) sees all tables: a module's tables are listed here
when the module is added (docs/new-module.md)."""

from csrn.agencies.models import Agency, Certificate, MembershipChange, TrainingCourse
from csrn.audit.models import AuditEvent
from csrn.auth.models import (
    AccessRequest,
    AccessToken,
    AuthToken,
    RecoveryCode,
    ResetRequest,
    User,
    UserRole,
    UserSession,
)
from csrn.cases.models import (
    Appointment,
    AppointmentSupport,
    CaseEvent,
    CaseFile,
    CaseNeed,
    Concern,
    Message,
    PlanStep,
)
from csrn.directory.models import CapacityConfirmation, GenderOption, Location, Service, ServiceFacet, ServiceType
from csrn.drills.models import Drill
from csrn.gaps.models import GapProspect
from csrn.hsds.models import ImportedObject
from csrn.intake.models import Intake, IntakeDraft, IntakeLanguage, IntakeNeed, UnmetNeed
from csrn.notify.models import Notification, OutboxMessage
from csrn.oncall.models import ResponseKind, Shift, ShiftException
from csrn.pathways.models import Pathway, PathwayStep
from csrn.protocols.models import ProtocolAcknowledgement, ProtocolPage, ProtocolVersion
from csrn.referrals.models import Consent, Offer, Referral, ReferralContact, ReferralEvent
from csrn.schedules.models import Holiday, ScheduleRule
from csrn.settings.models import TaskForceSettings
from csrn.volunteers.models import FormStamp, VettingItem, VolunteerApplication, VolunteerEvent

__all__ = [
    "AccessToken", "Agency", "Certificate", "MembershipChange", "TrainingCourse", "AuditEvent", "AuthToken",
    "RecoveryCode", "User", "UserRole", "UserSession", "CapacityConfirmation", "GenderOption", "Location", "Service",
    "ServiceFacet", "ServiceType", "Intake", "IntakeDraft", "UnmetNeed", "Notification", "OutboxMessage",
    "ResponseKind", "Shift", "ShiftException", "Pathway", "PathwayStep", "ProtocolAcknowledgement", "ProtocolPage",
    "ProtocolVersion", "Consent", "Offer", "Referral", "ReferralContact", "ReferralEvent", "Holiday", "ScheduleRule",
    "TaskForceSettings", "VettingItem", "VolunteerApplication", "VolunteerEvent", "ResetRequest", "FormStamp",
    "AccessRequest", "CaseEvent", "CaseFile", "CaseNeed", "PlanStep",
    "Appointment", "AppointmentSupport", "Concern", "Message", "Drill", "IntakeNeed", "IntakeLanguage", "GapProspect",
    "ImportedObject",
]
