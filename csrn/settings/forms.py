"""The admin settings form."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from wtforms import IntegerField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from csrn.forms import VersionedForm


class SettingsForm(VersionedForm):
    """What an operator changes at run time."""

    name = StringField("Task force name", validators=[DataRequired(), Length(max=200)])
    timezone = StringField(
        "Time zone",
        description="An IANA time zone name, e.g. America/Chicago. Times are shown in this zone.",
        validators=[DataRequired(), Length(max=64)],
    )
    counties = TextAreaField(
        "Counties",
        description="One county per line. Intakes, services and shifts choose from this list.",
        validators=[Optional(), Length(max=10000)],
    )
    fallback_phone = TelField(
        "Fallback phone number",
        description="Shown when nobody is on call: the number to ring at any hour.",
        validators=[Optional(), Length(max=40)],
    )
    emergency_minutes = IntegerField(
        "Emergency offer deadline (minutes)", validators=[InputRequired(), NumberRange(1, 1440)]
    )
    urgent_hours = IntegerField(
        "Urgent offer deadline (hours)", validators=[InputRequired(), NumberRange(1, 168)]
    )
    routine_business_hours = IntegerField(
        "Routine offer deadline (business hours)", validators=[InputRequired(), NumberRange(1, 400)]
    )
    retention_days = IntegerField(
        "Retention of identifying information (days)",
        description="Identifying fields are purged this many days after a referral closes.",
        validators=[InputRequired(), NumberRange(30, 3650)],
    )

    def validate_timezone(self, field):
        """Accept only time zones the server knows."""
        try:
            if field.data not in available_timezones():
                raise ZoneInfoNotFoundError(field.data)
            ZoneInfo(field.data)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError("Enter a time zone name such as America/Chicago.") from exc

    def validate_counties(self, field):
        """Refuse over-long county names."""
        for line in (field.data or "").splitlines():
            if len(line.strip()) > 100:
                raise ValidationError("Each county name must be 100 characters or fewer.")

    def county_list(self) -> list[str]:
        """The counties as a list, blank lines and duplicates dropped."""
        seen: list[str] = []
        for line in (self.counties.data or "").splitlines():
            name = line.strip()
            if name and name not in seen:
                seen.append(name)
        return seen
