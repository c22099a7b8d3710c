"""Forms of the volunteer module: the public application, the link request, and the chairs' vetting."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from csrn.directory.languages import language_choices
from csrn.forms import BaseForm, Checkboxes, VersionedForm
from csrn.volunteers.models import PRACTICE_AREAS, PROFESSIONS

EMAIL_MESSAGE = "Enter an e-mail address like name@example.org"
_licensed = [label.lower() + "s" for label, licensed, *_ in PROFESSIONS.values() if licensed]
LICENSED = ", ".join(_licensed[:-1]) + " and " + _licensed[-1]  # "attorneys, physicians, … and mental-health …"


class ApplicationForm(BaseForm):
    """The public application; only these fields are ever read from the request (SECURITY AC3)."""

    name = StringField("Full name", validators=[DataRequired("Enter your full name."), Length(max=200)])
    email = EmailField("E-mail address", description="We send your private status link here.",
                       validators=[DataRequired("Enter your e-mail address."), Length(max=254),
                                   Email(message=EMAIL_MESSAGE)])
    phone = TelField("Phone", validators=[DataRequired("Enter a phone number we can reach you on."),
                                          Length(max=40)])
    profession = RadioField("Profession", choices=[(code, spec[0]) for code, spec in PROFESSIONS.items()],
                            validators=[InputRequired("Choose your profession.")])
    # Required for some professions only (checked in `validate`): the page says when, never "(optional)".
    profession_other = StringField("Your profession", description="Required when you chose “Other” above.",
                                   validators=[Optional(), Length(max=120)])
    licence_number = StringField("Licence or bar number", description=f"Required for {LICENSED}.",
                                 validators=[Optional(), Length(max=80)])
    licence_jurisdiction = StringField("Licensing jurisdiction",
                                       description=f"Required for {LICENSED}: the state bar or board.",
                                       validators=[Optional(), Length(max=120)])
    languages = Checkboxes("Languages you work in", choices=language_choices(),
                           description="Tick every language you can work in with a client.")
    language_pairs = TextAreaField("Language pairs (interpreters and translators)",
                                   description="Required for interpreters and translators, e.g. “Spanish ↔ English, "
                                               "consecutive and sight translation”.",
                                   validators=[Optional(), Length(max=2000)])
    practice_areas = Checkboxes("Areas of practice", choices=list(PRACTICE_AREAS.items()))
    hours_per_month = IntegerField("Hours a month you can offer",
                                   validators=[InputRequired("Enter the hours a month you can offer, e.g. 4."),
                                               NumberRange(1, 200, "Enter a number of hours from 1 to 200.")])
    availability = TextAreaField("Availability", description="e.g. “weekday evenings, on call one weekend a month”.",
                                 validators=[Optional(), Length(max=2000)])
    reference1_name = StringField("First reference: name", validators=[DataRequired("Name a first reference."),
                                                                       Length(max=200)])
    reference1_contact = StringField("First reference: phone or e-mail",
                                     validators=[DataRequired("Say how to reach your first reference."),
                                                 Length(max=254)])
    reference2_name = StringField("Second reference: name", validators=[DataRequired("Name a second reference."),
                                                                        Length(max=200)])
    reference2_contact = StringField("Second reference: phone or e-mail",
                                     validators=[DataRequired("Say how to reach your second reference."),
                                                 Length(max=254)])
    background_check_consent = BooleanField(
        "I consent to a background check",
        validators=[DataRequired("Every volunteer is background checked; tick to consent.")])
    confidentiality_acknowledged = BooleanField(
        "I will keep everything I learn about the people I help confidential, and sign the task force's "
        "confidentiality agreement before I start",
        validators=[DataRequired("Tick to acknowledge the confidentiality expectations.")])
    # Spam protection: people never see this field (hidden by CSS and from screen readers); bots fill it.
    website = StringField("Leave this empty", validators=[Optional(), Length(max=200)])
    started = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        profession = self.profession.data
        licensed = PROFESSIONS.get(profession, ("", False))[1]
        if licensed:
            for field_ in (self.licence_number, self.licence_jurisdiction):
                if not field_.data:
                    field_.errors = [*field_.errors, f"Enter your {field_.label.text.lower()}: "
                                                     "it is required for your profession."]
                    valid = False
        if profession == "interpreter" and not self.language_pairs.data:
            self.language_pairs.errors = [*self.language_pairs.errors, "Enter the language pairs you work in."]
            valid = False
        if profession == "interpreter" and len(self.languages.data or []) < 2:
            self.languages.errors = [*self.languages.errors, "Tick at least the two languages you interpret."]
            valid = False
        if profession == "other" and not self.profession_other.data:
            self.profession_other.errors = [*self.profession_other.errors, "Say what your profession is."]
            valid = False
        return valid


class LinkRequestForm(BaseForm):
    """Ask for the status link again."""

    email = EmailField("E-mail address you applied with",
                       validators=[DataRequired("Enter your e-mail address."), Length(max=254),
                                   Email(message=EMAIL_MESSAGE)])


class ItemForm(BaseForm):
    """A chair records a checklist item as done."""

    done_on = DateField("Done on", validators=[InputRequired("Enter the date it was done.")])
    course_id = SelectField("Course completed", coerce=int, choices=[], validate_choice=False)
    expires_on = DateField("Expires on", validators=[Optional()],
                           description="Leave empty when it does not expire.")
    notes = TextAreaField("Notes (the committee's only; never shown to the applicant)",
                          validators=[Optional(), Length(max=4000)])
    document = FileField("Document (PDF, PNG or JPEG, optional)")


class StatusForm(VersionedForm):
    """A chair moves an application on the board."""

    # No status is preselected: the chair chooses. The choices are the moves open now (the view leaves out
    # "Approved" while a required item is open); `change_status` refuses anything else with its reason.
    to_status = SelectField("Move to", choices=[], validate_choice=False,
                            validators=[DataRequired("Choose the status to move the application to.")])
    reason = TextAreaField("Reason", description="It goes on the application's history.",
                           validators=[Optional(), Length(max=2000)])
    service_type_id = SelectField("Service they will offer", coerce=int, choices=[], validate_choice=False)

