"""Login form."""

from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from csrn.forms import BaseForm


class LoginForm(BaseForm):
    """E-mail and password."""

    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
