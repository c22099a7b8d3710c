"""Form helpers every module uses: NUL refusal, safe URLs, 422 on invalid submissions."""

from __future__ import annotations

import unicodedata

from flask import current_app, redirect, render_template, request
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectMultipleField
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget


def _single_line(field) -> bool:
    return getattr(field.widget, "input_type", None) in ("text", "email", "search", "url", "tel")


def _has_control(value: str) -> bool:
    return any(unicodedata.category(character) == "Cc" for character in value)


def _strip(value):
    if value is None:  # a text field missing from the submission is empty text, never NULL
        return ""
    return value.strip() if isinstance(value, str) else value


class BaseForm(FlaskForm):
    """A CSRF-protected form that trims text and refuses NUL characters in any field."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            filters = list(unbound_field.kwargs.get("filters", ()))
            if unbound_field.field_class.__name__ in {"StringField", "TextAreaField", "EmailField",
                                                       "URLField", "TelField", "SearchField"}:
                filters.append(_strip)
            return unbound_field.bind(form=form, filters=filters, **options)

    def validate(self, extra_validators=None) -> bool:
        """Run the field validators, then refuse NUL characters anywhere (PostgreSQL cannot store them)."""
        valid = super().validate(extra_validators)
        for field in self:
            data = field.data
            values = data if isinstance(data, list) else [data]
            if any(isinstance(value, str) and "\x00" in value for value in values):
                if "contains a NUL character" not in " ".join(field.errors):
                    field.errors = [*field.errors, "This answer contains a NUL character; remove it."]
                valid = False
            elif _single_line(field) and any(isinstance(value, str) and _has_control(value) for value in values):
                # A one-line answer (a name, a subject, an address) never holds a line break: it would end up in
                # a mail header, a calendar line or a download's name, where a line break is not text.
                field.errors = [*field.errors, "This answer must be on one line, without control characters."]
                valid = False
        return valid


class VersionedForm(BaseForm):
    """A form for a record two people may edit: carries the version it was loaded with."""

    # Empty on a form for a new record: allowed (Optional), or a browser's empty hidden value would be refused.
    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])


class Checkboxes(SelectMultipleField):
    """A multiple choice shown as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class EmptyForm(BaseForm):
    """Just the CSRF token, for POST-only buttons."""


class HttpUrl:
    """Accept only http:// and https:// addresses (never javascript:, data: or relative)."""

    def __init__(self, message: str | None = None):
        self.message = message or "Enter a web address starting with https:// or http://"

    def __call__(self, form, field):
        value = (field.data or "").strip()
        if not value:
            return
        lowered = value.lower()
        if not (lowered.startswith("https://") or lowered.startswith("http://")) or len(value) < 10:
            raise ValidationError(self.message)
        if any(ch.isspace() for ch in value) or "." not in value.split("//", 1)[1].split("/")[0]:
            raise ValidationError(self.message)


def render_form(template: str, form, **context):
    """Render a form page, answering 422 when the submission was invalid (htmx swaps 422)."""
    status = 422 if form.errors else 200
    return render_template(template, form=form, **context), status


def redirect_after_post(location: str):
    """Redirect after a successful POST: HX-Redirect for htmx (a full page load), 303 otherwise."""
    if getattr(request, "htmx", False):
        response = current_app.response_class("", status=204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)
