"""Agency forms: the chair's full form and the agency admin's own-profile form."""

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from csrn.agencies.models import AGENCY_TYPES, MEMBERSHIP_STATUSES
from csrn.forms import BaseForm, HttpUrl, VersionedForm


class AgencyProfileForm(VersionedForm):
    """What an agency admin may change about their own agency."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        "Public description",
        description="What the agency does, for other members. No client information.",
        validators=[Optional(), Length(max=5000)],
    )
    agency_type = SelectField("Type", choices=list(AGENCY_TYPES.items()), validators=[DataRequired()])
    county = SelectField("County", choices=[], validators=[Optional()])
    phone = TelField(
        "Public phone",
        description="The number members call to reach the agency.",
        validators=[Optional(), Length(max=40)],
    )
    website = URLField(
        "Website", description="Starting with https://", validators=[Optional(), Length(max=500), HttpUrl()]
    )
    poc_name = StringField(
        "Point of contact",
        description="The person law enforcement and other members call with questions and requests.",
        validators=[Optional(), Length(max=120)],
    )
    poc_phone = TelField("Point of contact's phone", validators=[Optional(), Length(max=40)])
    poc_email = EmailField(
        "Point of contact's e-mail",
        description="Also receives the monthly link to confirm the directory entries.",
        validators=[Optional(), Length(max=254), Email(message="Enter an e-mail address like name@example.org")],
    )

    def set_counties(self, counties: list[str], stored: str | None = None) -> None:
        """Offer the task force's counties, and the stored value if it is no longer on the list.

        Never the submitted value: that would accept any text, of any length, as a choice.
        """
        choices = [("", "— not stated —")] + [(c, c) for c in counties]
        if stored and stored not in counties:
            choices.append((stored, stored))
        self.county.choices = choices

    def validate_phone(self, field):
        """Allow digits, spaces and the usual phone punctuation only."""
        if field.data and any(ch not in "0123456789 +-().ext" for ch in field.data.lower()):
            raise ValidationError("Enter a phone number using digits, spaces, + - ( ) and ext.")

    validate_poc_phone = validate_phone


class AgencyForm(AgencyProfileForm):
    """What a chair may change besides the profile: internal notes (status and agreement have their own pages)."""

    internal_notes = TextAreaField(
        "Internal notes",
        description="Seen by chairs and this agency's admins only. No client information.",
        validators=[Optional(), Length(max=5000)],
    )


INITIAL_STATUSES = ("prospect", "applicant", "listed")


class AgencyCreateForm(AgencyForm):
    """A new agency starts as a prospect, an applicant, or a listed community resource."""

    membership_status = SelectField(
        "Starting status",
        choices=[(key, MEMBERSHIP_STATUSES[key]) for key in INITIAL_STATUSES],
        description="Agencies then move through training to membership on their status page.",
        validators=[DataRequired()],
    )


class MembershipForm(BaseForm):
    """Move an agency one step through the membership workflow."""

    to_status = SelectField("New status", choices=[], validators=[DataRequired()])
    reason = TextAreaField(
        "Why", description="Recorded on the agency's history with your name and the time.",
        validators=[DataRequired(), Length(max=2000)],
    )


class AgreementForm(BaseForm):
    """The agency's referral agreement (MOU) with the task force."""

    mou_signed_on = DateField("Signed on", validators=[DataRequired()])
    mou_signatory = StringField("Signed by", description="Name and title of the person who signed.",
                                validators=[DataRequired(), Length(max=200)])
    mou_renewal_on = DateField("Renewal due", description="After this date the agency receives no referrals "
                               "until the agreement is renewed.", validators=[DataRequired()])
    document = FileField("Signed agreement (PDF, PNG or JPEG, optional)")

    def validate_mou_renewal_on(self, field):
        """The renewal date cannot come before the signing date."""
        if field.data and self.mou_signed_on.data and field.data < self.mou_signed_on.data:
            raise ValidationError("The renewal date must be on or after the signing date.")


class CourseForm(BaseForm):
    """A training course."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    hours = IntegerField("Hours", validators=[InputRequired(), NumberRange(0, 1000)])
    valid_months = IntegerField("Valid for (months)", description="Leave empty if it never expires.",
                                validators=[Optional(), NumberRange(1, 240)])
    is_core = BooleanField("Core trafficking training",
                           description="A verified, current core certificate is what certifies an agency.")
    active = BooleanField("Offered", default=True)


class CertificateForm(BaseForm):
    """Record a user's completion of a course."""

    user_id = SelectField("Person", coerce=int, choices=[])
    course_id = SelectField("Course", coerce=int, choices=[])
    completed_on = DateField("Completed on", validators=[DataRequired()])
    certificate_number = StringField("Certificate number", validators=[Optional(), Length(max=100)])
    document = FileField("Certificate (PDF, PNG or JPEG, optional)")


class RejectForm(BaseForm):
    """Why a certificate is rejected."""

    reason = TextAreaField("Reason", description="Shown to the agency admin who recorded it.",
                           validators=[DataRequired(), Length(max=2000)])


PROFILE_FIELDS = ("name", "description", "agency_type", "county", "phone", "website", "poc_name", "poc_phone",
                  "poc_email")
CHAIR_FIELDS = PROFILE_FIELDS + ("internal_notes",)
AGREEMENT_FIELDS = ("mou_signed_on", "mou_signatory", "mou_renewal_on")
