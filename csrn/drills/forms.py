"""The form that starts a drill."""

from __future__ import annotations

from wtforms import DateField, RadioField, SelectField, StringField, TimeField
from wtforms.validators import InputRequired, Length, Optional

from csrn.dimensions import AGE_GROUPS, CITIZENSHIP, TRAFFICKING, URGENCIES
from csrn.forms import BaseForm, Checkboxes


class DrillForm(BaseForm):
    """A drill's settings: who sends it, how urgent, what the person needs, where, and the simulated hour."""

    note = StringField("What it tests", description="For the report, e.g. “Sunday night on a holiday weekend”.",
                       validators=[Optional(), Length(max=200)])
    sending_agency_id = SelectField("Sending agency", coerce=int, choices=[], validate_choice=True,
                                    description="The member agency the test intake comes from.")
    urgency = RadioField("Urgency", choices=list(URGENCIES.items()), default="emergency",
                         validators=[InputRequired(message="Choose how urgent the drill is.")])
    needs = Checkboxes("What the fictional person needs", choices=[],
                       description="Case management is always asked for; needs no provider can receive are "
                                   "counted in the report (never in the statistics).")
    county = SelectField("County", choices=[])
    age_group = RadioField("Age group", choices=list(AGE_GROUPS.items()), default="unknown")
    citizenship = RadioField("Citizenship", choices=list(CITIZENSHIP.items()), default="unknown")
    trafficking_type = RadioField("Type of trafficking", choices=list(TRAFFICKING.items()), default="unknown")
    simulated_date = DateField("Simulated date", validators=[InputRequired(message="Give the simulated date.")],
                               description="The day the drill pretends it is (a weekend, a holiday…).")
    simulated_time = TimeField("Simulated time", validators=[InputRequired(message="Give the simulated time.")],
                               description="In the task force's time zone, e.g. 02:00.")
