"""CSRN: the Coordinated Service Referral Network of a human-trafficking task force."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

from csrn.config import INSTANCE, ROOT, Config, load_config
from csrn.database import WriteNeedsImmediate, configure_engine, defer_read_transactions, engine_options
from csrn.extensions import csrf, db, htmx, limiter, login_manager, migrate
from csrn.routing import IdConverter

log = logging.getLogger(__name__)


def create_app(config: Config | dict | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, CLI and error pages."""
    base = config if isinstance(config, Config) else load_config(
        (config or {}).get("CSRN_ENV") if isinstance(config, dict) else None
    )
    app = Flask(
        __name__,
        instance_path=str(INSTANCE),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(base)
    if isinstance(config, dict):
        app.config.update(config)
    options = engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    options.update(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///") and "instance" in app.config[
        "SQLALCHEMY_DATABASE_URI"
    ]:
        INSTANCE.mkdir(exist_ok=True)

    hops = app.config.get("CSRN_PROXY_HOPS", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Pages read in parallel; a GET that writes runs again with IMMEDIATE transactions (csrn/database.py).
        app.wsgi_app = defer_read_transactions(app.wsgi_app)

    # Before any blueprint adds its rules: every `<int:...>` id refuses what the database cannot hold.
    app.url_map.converters["int"] = IdConverter
    _init_extensions(app)
    _register_blueprints(app)
    _register_error_pages(app)
    _register_template_helpers(app)

    from csrn.cli import register_cli

    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from csrn import models  # noqa: F401  (every table known to the metadata)
    from csrn.security import set_security_headers

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    from csrn.auth.operations import load_user_from_session_id, unauthorized_response

    login_manager.user_loader(load_user_from_session_id)
    login_manager.unauthorized_handler(unauthorized_response)
    app.after_request(set_security_headers)


def _register_blueprints(app: Flask) -> None:
    # The modules load when an app is built, not when `csrn` is imported: a migration or a script that reads
    # `csrn.config` does not load every module (start-up time, and nothing created at import).
    from csrn import (
        agencies,
        auth,
        cases,
        dashboard,
        directory,
        drills,
        gaps,
        health,
        hsds,
        intake,
        notify,
        oncall,
        pathways,
        protocols,
        referrals,
        schedules,
        settings,
        volunteers,
    )
    from csrn.agencies import trainings, users
    from csrn.auth import account
    from csrn.dashboard import audit_log
    from csrn.directory import profile as directory_profile
    from csrn.hsds import api as hsds_api
    from csrn.hsds import tokens_views as api_tokens
    from csrn.notify import devmail, notifications

    modules = (auth, account, users, agencies, trainings, directory, schedules, intake, pathways, referrals, cases,
               drills, gaps, notifications, oncall, protocols, volunteers, audit_log, dashboard, health, notify,
               settings, hsds, hsds_api, api_tokens)
    for module in modules:
        app.register_blueprint(module.bp)
    if app.config["CSRN_ENV"] == "development":  # mail bodies with live links: never in test or production (A6)
        app.register_blueprint(devmail.bp)
    # Sections higher modules add to lower modules' pages (the start-up registration of docs/new-module.md).
    directory_profile.register(app)


ERROR_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Service unavailable",
}


def render_error(status: int, message: str | None = None):
    """Render an error page (or its fragment for htmx) with the app's layout."""
    if isinstance(request.routing_exception, SecurityError):
        # An untrusted Host header (SECURITY V7): no URL can be built, so no layout; plain text.
        body = f"{status} {ERROR_TITLES.get(status, 'Error')}\n"
        return current_app.response_class(body, status=status, mimetype="text/plain")
    template = "errors/_error.html" if getattr(request, "htmx", False) else "errors/error.html"
    title = ERROR_TITLES.get(status, "Error")
    return render_template(template, status=status, title=title, message=message), status


def _register_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        log.info("CSRF refused: %s", error.description)
        return render_error(
            400,
            "Your form could not be checked (its security token was missing or expired). "
            "Go back, reload the page and try again.",
        )

    @app.errorhandler(WriteNeedsImmediate)
    def write_needs_immediate(error):
        # Not an error: this attempt's response is discarded and the request runs again (csrn/database.py).
        db.session.rollback()
        return current_app.response_class("", status=503)

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code is None or error.code < 400:
            return error
        if request.path.startswith("/api/"):  # a machine's request (no route, wrong method): JSON, not a page
            return {"status": error.code, "error": error.name}, error.code
        return render_error(error.code)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_error(error):
        log.error("database unavailable: %s", error.__class__.__name__, exc_info=error)
        try:
            db.session.rollback()
        except DBAPIError:  # the connection itself is gone
            pass
        # Flask-Login's template context would ask the database again who is logged in.
        g._login_user = login_manager.anonymous_user()
        return render_error(503, "The database is not reachable right now. Try again in a minute.")

    @app.errorhandler(Exception)
    def unexpected_error(error):
        log.exception("unhandled error on %s %s", request.method, request.path)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the page must still render
            log.warning("rollback after an unhandled error failed too")
        return render_error(500)


def _register_template_helpers(app: Flask) -> None:
    from csrn.templating import register

    register(app)
