"""Agency forms: the chair's full form and the agency admin's own-profile form."""

from wtforms import DateField, SelectField, StringField, TelField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from csrn.agencies.models import AGENCY_TYPES, MEMBERSHIP_STATUSES
from csrn.forms import HttpUrl, VersionedForm


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

    def set_counties(self, counties: list[str]) -> None:
        """Offer the task force's counties (and keep a value no longer on the list)."""
        choices = [("", "— not stated —")] + [(c, c) for c in counties]
        if self.county.data and self.county.data not in counties:
            choices.append((self.county.data, self.county.data))
        self.county.choices = choices

    def validate_phone(self, field):
        """Allow digits, spaces and the usual phone punctuation only."""
        if field.data and any(ch not in "0123456789 +-().ext" for ch in field.data.lower()):
            raise ValidationError("Enter a phone number using digits, spaces, + - ( ) and ext.")


class AgencyForm(AgencyProfileForm):
    """What a chair may change: everything, including membership and agreement dates."""

    membership_status = SelectField(
        "Membership status", choices=list(MEMBERSHIP_STATUSES.items()), validators=[DataRequired()]
    )
    mou_signed_on = DateField(
        "Referral agreement signed", description="The date the MOU with the task force was signed.",
        validators=[Optional()],
    )
    mou_renewal_on = DateField(
        "Referral agreement renewal due", validators=[Optional()]
    )
    internal_notes = TextAreaField(
        "Internal notes",
        description="Seen by chairs and this agency's admins only. No client information.",
        validators=[Optional(), Length(max=5000)],
    )

    def validate_mou_renewal_on(self, field):
        """The renewal date cannot come before the signing date."""
        if field.data and self.mou_signed_on.data and field.data < self.mou_signed_on.data:
            raise ValidationError("The renewal date must be on or after the signing date.")


PROFILE_FIELDS = ("name", "description", "agency_type", "county", "phone", "website")
CHAIR_FIELDS = PROFILE_FIELDS + ("membership_status", "mou_signed_on", "mou_renewal_on", "internal_notes")
