"""Forms for logging in, two-factor, invitations, resets, the account page and user management."""

from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from csrn.auth.passwords import MAX_LENGTH, password_problem
from csrn.forms import BaseForm, Checkboxes


class LoginForm(BaseForm):
    """E-mail and password."""

    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class CodeForm(BaseForm):
    """A six-digit code from the authenticator app, or a recovery code."""

    code = StringField(
        "Code",
        description="The 6-digit code from your authenticator app, or one of your recovery codes.",
        validators=[DataRequired(), Length(max=20)],
    )


class NewPasswordForm(BaseForm):
    """Choose a password (SECURITY A2): 12 to 1,024 characters, no composition rules."""

    password = PasswordField(
        "New password",
        description="At least 12 characters. A few unrelated words make a strong passphrase; spaces are fine. "
                    "Not your name, your e-mail address, your agency's or the task force's name.",
        validators=[DataRequired(), Length(max=MAX_LENGTH)],
    )
    confirm = PasswordField(
        "Confirm the new password",
        validators=[DataRequired(), EqualTo("password", message="The two passwords do not match.")],
    )
    # What an attacker would know about the person (auth.operations.password_inputs); set by the view.
    user_inputs: list[str] = []

    def validate_password(self, field):
        """Refuse short, over-long and guessable passwords, with zxcvbn's advice as the message."""
        problem = password_problem(field.data or "", self.user_inputs)
        if problem:
            raise ValidationError(problem)


class ChangePasswordForm(NewPasswordForm):
    """The current password, then a new one."""

    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class ReauthForm(BaseForm):
    """Prove it is still you before a sensitive change."""

    password = PasswordField("Your password", validators=[DataRequired(), Length(max=MAX_LENGTH)])
    code = StringField(
        "Two-factor code",
        description="Only if you use two-factor: the 6-digit code or a recovery code.",
        validators=[Length(max=20)],
    )


class ChangeEmailForm(BaseForm):
    """A new login e-mail address."""

    email = EmailField(
        "New e-mail address",
        validators=[DataRequired(), Length(max=254), Email(message="Enter an e-mail address like name@example.org")],
    )


class ResetRequestForm(BaseForm):
    """Ask for a password reset link."""

    email = EmailField(
        "E-mail address",
        validators=[DataRequired(), Length(max=254), Email(message="Enter an e-mail address like name@example.org")],
    )



class InviteForm(BaseForm):
    """Invite a person: e-mail, name, agency and roles (only those the inviter may grant)."""

    email = EmailField(
        "E-mail address",
        validators=[DataRequired(), Length(max=254), Email(message="Enter an e-mail address like name@example.org")],
    )
    name = StringField("Full name", validators=[DataRequired(), Length(max=120)])
    agency_id = SelectField("Agency", coerce=int, choices=[], validate_choice=True)
    roles = Checkboxes("Roles", choices=[], validators=[DataRequired(message="Choose at least one role.")])


class RolesForm(BaseForm):
    """Change a user's roles within what the actor may grant."""

    roles = Checkboxes("Roles", choices=[])
