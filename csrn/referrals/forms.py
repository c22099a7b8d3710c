"""Referral action forms."""

from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from csrn.forms import BaseForm
from csrn.referrals.models import DECLINE_REASONS, OUTCOMES


class DeclineForm(BaseForm):
    """Why the offer is declined."""

    reason = SelectField("Reason", choices=[("", "Choose a reason")] + list(DECLINE_REASONS.items()),
                         validators=[DataRequired(message="Choose a reason.")])
    text = TextAreaField("More detail (no client information)", validators=[Optional(), Length(max=2000)])


class OfferByHandForm(BaseForm):
    """A chair chooses a provider for a referral in the queue."""

    agency_id = SelectField("Offer to", coerce=int, choices=[])


class CloseForm(BaseForm):
    """How the referral ended."""

    outcome = SelectField("Outcome", choices=[("", "Choose an outcome")] + list(OUTCOMES.items()),
                          validators=[DataRequired(message="Choose an outcome.")])
