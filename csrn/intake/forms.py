"""One form per intake step (DESIGN §4.1), each validated on the server."""

from __future__ import annotations

from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    DateField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from csrn.dimensions import AGE_GROUPS, CITIZENSHIP, CONSIDERATIONS, TRAFFICKING, URGENCIES
from csrn.directory.languages import language_choices
from csrn.forms import BaseForm, Checkboxes
from csrn.intake.operations import CASE_MANAGEMENT
from csrn.referrals.models import CONSENT_CATEGORIES, CONSENT_HOW


class UrgencyForm(BaseForm):
    """Step 1: urgency and place."""

    urgency = RadioField("How urgent is it?", choices=list(URGENCIES.items()),
                         validators=[InputRequired(message="Choose how urgent it is.")])
    county = SelectField("County", description="Where the person is now.", choices=[])


class PersonForm(BaseForm):
    """Step 2: the person, minimally. "Unknown" is always allowed and never excludes a provider."""

    alias = StringField("Alias or initials", description="Never a full legal name.",
                        validators=[Optional(), Length(max=80)])
    age_group = RadioField("Age group", choices=list(AGE_GROUPS.items()), default="unknown")
    gender = SelectField("Gender", choices=[])
    citizenship = RadioField("Citizenship", choices=list(CITIZENSHIP.items()), default="unknown")
    trafficking_type = RadioField("Type of trafficking", choices=list(TRAFFICKING.items()), default="unknown")
    languages = Checkboxes("Languages the person speaks", choices=language_choices(),
                           description="Tick every language the person speaks.")
    interpreter_needed = BooleanField("An interpreter is needed")
    considerations = Checkboxes("Considerations", choices=list(CONSIDERATIONS.items()))


def with_case_management(needs: list | None) -> list:
    """The needs with case management first: every intake asks for it (the referral is for case management)."""
    return [CASE_MANAGEMENT] + [code for code in needs or [] if code != CASE_MANAGEMENT]


class NeedsForm(BaseForm):
    """Step 3: needs, as service types; case management is always among them (ticked and fixed on the page)."""

    needs = Checkboxes("What does the person need?", choices=[], filters=[with_case_management])


class MatchForm(BaseForm):
    """Step 4: the receiver (the top match preselected) and ordered backups."""

    receiver = RadioField("Send to", coerce=int, choices=[], validate_choice=True)
    backups = Checkboxes("Backups, in this order if the first does not answer", coerce=int, choices=[])


def agency_boxes(field, **kwargs) -> Markup:
    """The widget of `AgencyCheckboxes`: each agency's box inside its label, as the step always had them (ids
    `<field id>-<n>`), written in one pass: WTForms' field and widget per option, or a Jinja loop, were most of the
    consent step's time at 1,600 agencies."""
    ticked, box, name = field.ticked(), escape(field.id), escape(field.name)
    # Every value written into the markup is escaped here: the names are the agencies' own text.
    return Markup("".join(  # noqa: S704
        f'<label for="{box}-{n}" class="choice"><input{" checked" if value in ticked else ""} id="{box}-{n}" '
        f'name="{name}" type="checkbox" value="{escape(value)}"> {escape(label)}</label>'
        for n, (value, label) in enumerate(field.choices)))


class AgencyCheckboxes(Checkboxes):
    """Checkboxes over every member agency: `choices` are (id, name) rows, checked against a set on submission."""

    widget = staticmethod(agency_boxes)

    def ticked(self) -> set:
        """The ids ticked."""
        return set(self.data or ())

    def ticked_names(self) -> list[str]:
        """The names of the agencies ticked, in the list's order."""
        ticked = self.ticked()
        return [label for value, label in self.choices if value in ticked] if ticked else []

    def pre_validate(self, form):
        """Refuse an id that is not among the choices, with WTForms' own message."""
        if self.process_errors or not self.data:
            return
        acceptable = {row[0] for row in self.choices}
        unacceptable = [str(value) for value in set(self.data) if value not in acceptable]
        if unacceptable:
            message = self.ngettext("'%(value)s' is not a valid choice for this field.",
                                    "'%(value)s' are not valid choices for this field.", len(unacceptable))
            raise ValidationError(message % dict(value="', '".join(unacceptable)))


class ConsentForm(BaseForm):
    """Step 5: consent and the safe-contact plan. Consent is never a condition of service."""

    consent = RadioField("Did the person agree to share identifying information?",
                         choices=[("yes", "Yes"), ("no", "No — send without identifying information")],
                         validators=[InputRequired(message="Say whether the person agreed.")])
    consent_how = RadioField("How was consent given?", choices=list(CONSENT_HOW.items()), validators=[Optional()])
    consent_with = Checkboxes("With whom", choices=[
        ("receiver", "The chosen receiver"), ("backups", "Its backups"),
        ("onward", "Onward providers the case manager will choose"), ("chairs", "The committee chairs")])
    consent_agencies = AgencyCheckboxes("Also these named agencies", coerce=int, choices=[])
    consent_categories = Checkboxes("Which information", choices=list(CONSENT_CATEGORIES.items()))
    consent_date = DateField("Date consent was given", validators=[Optional()])
    consent_expires = DateField("Consent expires on", description="Leave empty if no end date was agreed.",
                                validators=[Optional()])
    safe_channel = StringField("Safe way to reach the person", description="e.g. only through the shelter's phone.",
                               validators=[Optional(), Length(max=200)])
    safe_times = StringField("Safe times", validators=[Optional(), Length(max=200)])
    do_not_text = BooleanField("Do not text")
    phone_may_be_controlled = BooleanField("The phone may be controlled by the trafficker")
    code_word = StringField("Code word", validators=[Optional(), Length(max=80)])
    contact_phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    contact_other = StringField("Other contact", validators=[Optional(), Length(max=200)])
    narrative = TextAreaField("What happened (only what the receiver needs)", validators=[Optional(), Length(max=5000)])
    immigration_notes = TextAreaField("Immigration details", validators=[Optional(), Length(max=2000)])
    health_notes = TextAreaField("Health", validators=[Optional(), Length(max=2000)])

    def validate(self, extra_validators=None) -> bool:
        """With consent, say how it was given (checked here: `Optional` stops the field's own chain when empty)."""
        valid = super().validate(extra_validators)
        if self.consent.data == "yes" and not self.consent_how.data:
            self.consent_how.errors = [*self.consent_how.errors, "Say how consent was given."]
            valid = False
        return valid

    def validate_consent_categories(self, field):
        """With consent, say which information may be shared."""
        if self.consent.data == "yes" and not field.data:
            raise ValidationError("Choose which information may be shared.")

    def validate_consent_with(self, field):
        """With consent, say with whom."""
        if self.consent.data == "yes" and not field.data and not self.consent_agencies.data:
            raise ValidationError("Choose with whom it may be shared.")

    def validate_consent_expires(self, field):
        """The expiry cannot come before the consent."""
        if field.data and self.consent_date.data and field.data < self.consent_date.data:
            raise ValidationError("The expiry date must be on or after the date consent was given.")
