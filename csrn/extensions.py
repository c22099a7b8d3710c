"""Extension objects, created once here and bound to the app in create_app."""

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose metadata names every constraint predictably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, honouring an explicit `bind` (tests join an outer transaction)."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and self.bind is not None:
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
htmx = Htmx()


@limiter.request_filter
def _bench_user_passes() -> bool:
    """Let the load harness's users past every rate limit, and nobody else (BENCH_UNLIMITED_USERS; production refuses
    the setting). The user is the one logged in, or on a login or reset form the e-mail address typed."""
    listed = current_app.config.get("BENCH_UNLIMITED_USERS")
    if not listed or current_app.config.get("CSRN_ENV") == "production":
        return False  # production refuses the setting at start; should it arrive another way, it is ignored
    email = current_user.email if current_user.is_authenticated else request.form.get("email", "")
    return email.strip().lower() in {item.lower() for item in listed}
