"""Forms of the on-call roster: a kind of response, a shift, an exception."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from csrn.forms import BaseForm, Checkboxes, VersionedForm
from csrn.oncall.models import PATTERNS, SHIFT_ROLES
from csrn.schedules.engine import WEEKDAYS


class KindForm(VersionedForm):
    """A kind of response: its name, whether it must be covered around the clock, the services it answers for."""

    name = StringField("Name", description="For example “Crisis response” or “Case management”.",
                       validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("What the person on call does", validators=[Optional(), Length(max=2000)])
    required_24_7 = BooleanField("Must be covered 24 hours a day, 7 days a week",
                                 description="The coverage check lists every hour this kind has nobody on call.")
    service_type_ids = Checkboxes("Services it answers for", coerce=int, choices=[],
                                  description="An escalated referral for one of these reaches the person on call.")
    position = IntegerField("Order on the page", default=0, validators=[Optional(), NumberRange(0, 999)])
    active = BooleanField("In use", default=True)


class ShiftForm(VersionedForm):
    """A shift: who (a user of the agency or a name), how to reach them, and when."""

    agency_id = SelectField("Agency", coerce=int, choices=[], validate_choice=False)
    kind_id = SelectField("Kind of response", coerce=int, choices=[], validate_choice=False)
    user_id = SelectField("Person on call", coerce=int, choices=[], validate_choice=False,
                          description="A user of the agency is notified of escalations; or leave “none” and give "
                                      "a name below.")
    display_name = StringField("Or a name callers ask for", validators=[Optional(), Length(max=120)],
                               description="For example “Hotline desk”. Nobody is notified on such a shift.")
    phone = StringField("Phone on this shift", validators=[DataRequired(), Length(max=40)],
                        description="The number a caller dials, for example 555-0100.")
    role = RadioField("Primary or backup", choices=list(SHIFT_ROLES.items()), default="primary",
                      validators=[InputRequired()])
    pattern = RadioField("When", choices=list(PATTERNS.items()), default="weekly", validators=[InputRequired()])
    weekdays = Checkboxes("Days it starts on", coerce=int, choices=list(enumerate(WEEKDAYS)))
    starts = TimeField("Starts at", validators=[Optional()])
    ends = TimeField("Ends at", validators=[Optional()],
                     description="At or before the start: the shift runs past midnight into the next day.")
    valid_from = DateField("First day", validators=[Optional()])
    valid_until = DateField("Last day", validators=[Optional()])
    skip_holidays = BooleanField("Not on the task force's holidays")
    start_date = DateField("Cover starts on", validators=[Optional()])
    start_time = TimeField("at", validators=[Optional()])
    end_date = DateField("Cover ends on", validators=[Optional()])
    end_time = TimeField("at", validators=[Optional()])
    note = StringField("Note", validators=[Optional(), Length(max=200)])


class ExceptionForm(BaseForm):
    """Days a weekly shift does not run."""

    start_date = DateField("From", validators=[InputRequired()])
    end_date = DateField("Through", validators=[InputRequired()])
    note = StringField("Why", validators=[Optional(), Length(max=200)],
                       description="For example “leave” or “covered by a swap”.")
