"""Protocol forms: the chair's page form, the Markdown preview, and the one-button forms."""

from wtforms import DateField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from csrn.forms import BaseForm, VersionedForm
from csrn.protocols.models import AUDIENCES

BODY_MAX = 100_000
MARKDOWN_HINT = (
    "Markdown: a blank line between paragraphs; ## for a heading; - or 1. for lists; "
    "**bold**; [link text](https://…). Put [[oncall-now]] or [[oncall-week]] on a line of its own "
    "to show who is on call. No client information."
)


def single_line(form, field):
    """Refuse line breaks and other control characters in a one-line answer."""
    if field.data and any(ord(ch) < 32 or ord(ch) == 127 for ch in field.data if ch != "\x00"):
        raise ValidationError("Keep this to one line, without tabs or line breaks.")


class NewProtocolForm(BaseForm):
    """A chair writes a protocol page: the text, a note for the history, and its settings."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200), single_line])
    body = TextAreaField("Protocol text", description=MARKDOWN_HINT,
                         validators=[DataRequired(), Length(max=BODY_MAX)])
    change_note = StringField(
        "What changed",
        description="One line for the version history, for example “Added the after-hours number”.",
        validators=[Optional(), Length(max=500), single_line],
    )
    audience = RadioField("Who is it for", choices=list(AUDIENCES.items()), validators=[InputRequired()])
    owner_id = SelectField(
        "Owner", coerce=int, choices=[], validators=[InputRequired()],
        description="The chair who keeps this protocol current and gets the review reminders.",
    )
    review_due_on = DateField(
        "Review due", validators=[DataRequired(message="Enter the date the next review is due.")],
        description="The date by which the owner reads it through again.",
    )

    def set_owners(self, chairs) -> None:
        """Offer the active chairs as owners."""
        self.owner_id.choices = [(chair.id, f"{chair.name} ({chair.email})") for chair in chairs]


class ProtocolForm(NewProtocolForm, VersionedForm):
    """A chair edits a protocol page; the form carries the page version it was loaded with (R7)."""


class PreviewForm(BaseForm):
    """The Markdown sent for a live preview (nothing is saved)."""

    body = TextAreaField("Protocol text", validators=[Optional(), Length(max=BODY_MAX)])


class VersionNumberForm(BaseForm):
    """A POST button naming the version it acts on (publish, acknowledge)."""

    number = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class PublishForm(VersionNumberForm):
    """The publish button: the version it publishes and the next review date (publishing is a read-through)."""

    review_due_on = DateField(
        "Next review", validators=[InputRequired(message="Enter the date of the next review.")],
        description="Publishing is a read-through: the next one is due on this date (after today).",
    )
