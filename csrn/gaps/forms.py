"""The chair's form linking a prospect to a gap."""

from __future__ import annotations

from wtforms import SelectField

from csrn.forms import BaseForm


class ProspectForm(BaseForm):
    agency_id = SelectField("An agency that could fill this gap", coerce=int, choices=[], validate_choice=True,
                            description="Prospects, applicants, agencies in training and listed resources.")
