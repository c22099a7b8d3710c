"""Case-work forms: the assessment, the plan, onward referrals, transfer and reopening."""

from __future__ import annotations

import secrets

from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from csrn.cases.models import APPOINTMENT_KINDS, CONCERN_KINDS, NEED_STATUSES, SUPPORT_STATUSES
from csrn.cases.operations import URGENCIES
from csrn.dimensions import URGENCIES as URGENCY_LABELS
from csrn.forms import BaseForm, Checkboxes, VersionedForm

NOTES_MAX = 4000


def optional_int(value):
    """A select's value as an id, or None for its empty choice."""
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class NeedEntry(Form):
    """One need of the assessment (a subform: the CSRF token is the outer form's)."""

    need_id = IntegerField(widget=HiddenField.widget)
    status = SelectField("Status", choices=list(NEED_STATUSES.items()))
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=NOTES_MAX)])


class AssessmentForm(VersionedForm):
    """The needs assessment: each need's status and notes, a need found later, the person's goals."""

    needs = FieldList(FormField(NeedEntry))
    new_type = SelectField("A need found in the assessment", coerce=optional_int, choices=[],
                           validators=[Optional()],
                           description="Added with the status “in progress”; change it once saved.")
    goals = TextAreaField("The person's goals, in their words", validators=[Optional(), Length(max=NOTES_MAX)])


class PlanStartForm(BaseForm):
    """Start the plan from a pathway that fits, or from scratch."""

    pathway_id = SelectField("Start from", coerce=optional_int, choices=[], validators=[Optional()])


class StepForm(BaseForm):
    """A step added to the plan."""

    service_type_id = SelectField("Service", coerce=optional_int, choices=[],
                                  validators=[DataRequired(message="Choose a service.")])
    note = TextAreaField("Note for your agency", validators=[Optional(), Length(max=NOTES_MAX)])


URGENCY_CHOICES = [(key, URGENCY_LABELS[key]) for key in URGENCIES]


def new_submission_key() -> str:
    """A one-time key for a form that creates a referral: submitted twice, it creates one."""
    return secrets.token_hex(16)


class OnwardForm(BaseForm):
    """An onward referral: the service, how urgent, the provider and its backups."""

    submission_key = HiddenField(default=new_submission_key, validators=[Length(max=64)])
    service_type_id = SelectField("Service needed", coerce=optional_int, choices=[],
                                  validators=[DataRequired(message="Choose a service.")])
    urgency = SelectField("Urgency", choices=URGENCY_CHOICES, default="routine",
                          validators=[DataRequired(message="Choose how urgent it is.")])
    step_id = IntegerField(widget=HiddenField.widget, validators=[Optional()])
    support_id = IntegerField(widget=HiddenField.widget, validators=[Optional()])
    receiver = RadioField("Send to", coerce=int, choices=[], validate_choice=False)
    backups = Checkboxes("Backups", coerce=int, choices=[], validate_choice=False)


class TransferForm(BaseForm):
    """A transfer of the case to another case-management provider."""

    submission_key = HiddenField(default=new_submission_key, validators=[Length(max=64)])
    receiver = RadioField("Transfer to", coerce=int, choices=[], validate_choice=False)
    backups = Checkboxes("Backups", coerce=int, choices=[], validate_choice=False)
    reason = TextAreaField("Why the case is transferred (kept in your agency's case record)",
                           validators=[DataRequired(message="Say why the case is transferred."),
                                       Length(max=NOTES_MAX)])


class ReopenForm(BaseForm):
    """Reopening a closed case."""

    reason = TextAreaField("Why the case is reopened (kept in your agency's case record)",
                           validators=[DataRequired(message="Say why the case is reopened."), Length(max=NOTES_MAX)])


# ----- coordination ------------------------------------------------------------------------------

class AppointmentForm(BaseForm):
    """An appointment of the person on the case."""

    kind = SelectField("Kind", choices=[("", "Choose the kind")] + list(APPOINTMENT_KINDS.items()),
                       validators=[DataRequired(message="Choose the kind of appointment.")])
    provider_agency_id = SelectField("With", coerce=optional_int, choices=[], validators=[Optional()])
    day = DateField("Date", validators=[DataRequired(message="Enter the date.")])
    start = TimeField("Time", validators=[DataRequired(message="Enter the time.")])
    duration_minutes = IntegerField("Duration in minutes", default=60,
                                    validators=[InputRequired(message="Enter how long it lasts."),
                                                NumberRange(min=5, max=720, message="Between 5 and 720 minutes.")])
    place = StringField("Place", validators=[Optional(), Length(max=300)],
                        description="Identifying: shown only to your agency, and to the provider it is with as "
                                    "the person's consent allows. Never in calendar feeds.")
    accompaniment_needed = BooleanField("Someone should go with the person")
    interpreter_needed = BooleanField("An interpreter is needed")


class SupportForm(BaseForm):
    """One item of a legal appointment's checklist."""

    status = SelectField("Status", choices=list(SUPPORT_STATUSES.items()))
    accompanist_id = SelectField("Who goes", coerce=optional_int, choices=[], validators=[Optional()])


class MessageForm(BaseForm):
    body = TextAreaField("Message", validators=[DataRequired(message="Write a message."), Length(max=NOTES_MAX)])


class ConcernForm(BaseForm):
    kind = SelectField("Kind", choices=[("", "Choose")] + list(CONCERN_KINDS.items()),
                       validators=[DataRequired(message="Choose question, dispute or request.")])
    text = TextAreaField("What it is about", validators=[DataRequired(message="Say what the concern is."),
                                                        Length(max=NOTES_MAX)],
                         description="Seen by the involved users of the two agencies; chairs see only its kind.")


class ResolveForm(BaseForm):
    note = TextAreaField("How it was resolved", validators=[DataRequired(message="Say how it was resolved."),
                                                           Length(max=NOTES_MAX)])
