"""Directory forms: services (with hours), capacity, locations, taxonomy and genders."""

from __future__ import annotations

import re
from datetime import date

from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from csrn.directory.languages import language_choices
from csrn.directory.models import AGE_GROUPS, CITIZENSHIP, COSTS, TRAFFICKING_TYPES, VISIBILITY
from csrn.forms import BaseForm, Checkboxes, VersionedForm
from csrn.schedules.engine import WEEKDAYS

CLOSURE_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s*(?:to|–|-{1,2})\s*(\d{4}-\d{2}-\d{2}))?\s*(.*)$")


class ServiceForm(VersionedForm):
    """A service: what, for whom, where, when, at what cost and capacity."""

    service_type_id = SelectField("Type of service", coerce=int, choices=[])
    name = StringField("Name", description="Only if it differs from the type, e.g. “Youth crisis beds”.",
                       validators=[Optional(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    status = SelectField("Status", choices=[("active", "Active"), ("inactive", "Inactive (hidden)")])
    ages = Checkboxes("Age groups served", choices=list(AGE_GROUPS.items()),
                      description="Tick none if you do not limit by age.")
    genders = Checkboxes("Genders served", choices=[], description="Tick none if you serve every gender.")
    citizenship = Checkboxes("Citizenship", choices=list(CITIZENSHIP.items()),
                             description="Tick none if citizenship does not matter.")
    trafficking = Checkboxes("Trafficking types", choices=list(TRAFFICKING_TYPES.items()),
                             description="Tick both if you serve both.")
    languages = SelectMultipleField("Languages spoken by staff", choices=language_choices(),
                                    description="Hold Ctrl (or ⌘) to choose several.")
    interpretation = SelectMultipleField("Languages served through interpreters", choices=language_choices())
    counties = Checkboxes("Service area", choices=[], description="Tick none if you serve the whole task force area.")
    accessibility = TextAreaField("Accessibility", validators=[Optional(), Length(max=2000)])
    cost = SelectField("Cost", choices=list(COSTS.items()))
    how_to_refer = TextAreaField("How to refer", description="What another member should do to refer someone.",
                                 validators=[Optional(), Length(max=2000)])
    is_24_7 = BooleanField("Open 24 hours, 7 days a week")
    closed_on_holidays = BooleanField("Closed on the task force's holidays")
    closures = TextAreaField(
        "Closures",
        description="One per line: 2026-12-24 to 2026-12-26 Winter break (or a single date).",
        validators=[Optional(), Length(max=5000)],
    )
    open_slots = IntegerField("Open slots", description="Leave empty if you do not track slots.",
                              validators=[Optional(), NumberRange(0, 10000)])
    waitlist = IntegerField("People waiting", default=0, validators=[InputRequired(), NumberRange(0, 10000)])

    def closure_ranges(self) -> list[tuple[date, date, str]]:
        """The closures as (start, end, note); validate_closures has checked them."""
        ranges = []
        for line in (self.closures.data or "").splitlines():
            line = line.strip()
            if not line:
                continue
            match = CLOSURE_LINE.match(line)
            start = date.fromisoformat(match.group(1))
            end = date.fromisoformat(match.group(2)) if match.group(2) else start
            ranges.append((start, end, match.group(3).strip()))
        return ranges

    def validate_closures(self, field):
        """Every line is a date or a date range, in order."""
        for number, line in enumerate((field.data or "").splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            match = CLOSURE_LINE.match(line)
            try:
                start = date.fromisoformat(match.group(1)) if match else None
                end = date.fromisoformat(match.group(2)) if match and match.group(2) else start
            except ValueError:
                start = end = None
            if start is None:
                raise ValidationError(f"Line {number}: write a date like 2026-12-24, or 2026-12-24 to 2026-12-26.")
            if end < start:
                raise ValidationError(f"Line {number}: the end date comes before the start date.")


# Opening hours: one span per weekday, added to the class so each has its own field.
for _index, _day in enumerate(WEEKDAYS):
    setattr(ServiceForm, f"opens_{_index}", TimeField(f"{_day} opens", validators=[Optional()]))
    setattr(ServiceForm, f"closes_{_index}", TimeField(f"{_day} closes", validators=[Optional()]))


def hours_errors(form: ServiceForm) -> bool:
    """Add an error to any weekday with only one of its two times; True if there were any."""
    found = False
    for index in range(7):
        opens, closes = getattr(form, f"opens_{index}"), getattr(form, f"closes_{index}")
        if (opens.data is None) != (closes.data is None):
            opens.errors = [*opens.errors, "Give both the opening and the closing time, or neither."]
            found = True
    return found


class CapacityForm(BaseForm):
    """Open slots and waitlist, confirmed as of now."""

    open_slots = IntegerField("Open slots", validators=[Optional(), NumberRange(0, 10000)])
    waitlist = IntegerField("Waiting", default=0, validators=[InputRequired(), NumberRange(0, 10000)])


class LocationForm(VersionedForm):
    """A place of the agency, and who may see its address."""

    name = StringField("Name", description="e.g. “Main office” or “Shelter”.",
                       validators=[DataRequired(), Length(max=200)])
    address_1 = StringField("Street address", validators=[DataRequired(), Length(max=200)])
    address_2 = StringField("Address line 2", validators=[Optional(), Length(max=200)])
    city = StringField("City", validators=[DataRequired(), Length(max=100)])
    state = StringField("State", validators=[Optional(), Length(max=60)])
    postal_code = StringField("ZIP code", validators=[Optional(), Length(max=20)])
    county = SelectField("County", choices=[], validators=[Optional()])
    visibility = SelectField("Who may see this address", choices=list(VISIBILITY.items()),
                             description="A confidential address (a shelter's) is shown only to your agency's users "
                                         "— never in search, print, exports or the API.")


class ServiceTypeForm(BaseForm):
    """A taxonomy term."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    code = StringField("Code", description="Lower-case letters and underscores; used in links and exports.",
                       validators=[DataRequired(), Length(max=40)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    sort_order = IntegerField("Order", default=0, validators=[InputRequired(), NumberRange(0, 1000)])
    active = BooleanField("Offered in intakes and the directory", default=True)

    def validate_code(self, field):
        """Codes are simple identifiers."""
        if not re.fullmatch(r"[a-z][a-z0-9_]*", field.data or ""):
            raise ValidationError("Use lower-case letters, digits and underscores, starting with a letter.")


class GenderForm(BaseForm):
    """A gender a service may state it serves."""

    label = StringField("Gender", validators=[DataRequired(), Length(max=80)])
