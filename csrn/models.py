"""Import every module's models so the metadata (and Alembic) sees all tables."""

from csrn.agencies.models import Agency, Certificate, MembershipChange, TrainingCourse  # noqa: F401
from csrn.audit.models import AuditEvent  # noqa: F401
from csrn.auth.models import AuthToken, RecoveryCode, User, UserRole, UserSession  # noqa: F401
from csrn.directory.models import (  # noqa: F401
    CapacityConfirmation,
    GenderOption,
    Location,
    Service,
    ServiceFacet,
    ServiceType,
)
from csrn.intake.models import Consent, Intake, IntakeDraft, Pathway, PathwayStep, UnmetNeed  # noqa: F401
from csrn.notify.models import (
    Notification,  # noqa: F401
    OutboxMessage,  # noqa: F401
)
from csrn.protocols.models import ProtocolAcknowledgement, ProtocolPage, ProtocolVersion  # noqa: F401
from csrn.referrals.models import Offer, Referral, ReferralEvent  # noqa: F401
from csrn.schedules.models import Holiday, ScheduleRule  # noqa: F401
from csrn.settings.models import TaskForceSettings  # noqa: F401
