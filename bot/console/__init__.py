"""The staff console (/console/): server-rendered pages over `services/`, like the chat and scheduler.

Views parse a form, call one service function, commit, and redirect; no business
rule lives here. This module wires the blueprint: the database session of a request,
sign-in (Flask-Login), CSRF (Flask-WTF) and cookies (bot/security.py sets the headers).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, abort, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from bot import webhook
from bot.runtime import runtime

blueprint = Blueprint(
    "console", __name__, url_prefix="/console",
    template_folder="templates", static_folder="static", static_url_path="/static",
)
login_manager = LoginManager()
csrf = CSRFProtect()



class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (behind a proxy too)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure

    def open_session(self, app: Flask, request):
        # WeChat's POSTs carry no cookie and the webhook keeps no session: a null session, not
        # the cookie signer Flask would build for every message (issue 16).
        if request.path == webhook.PATH:
            return None
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    settings = runtime_settings(app)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="sy_console",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.console_idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,  # the lifetime counts from the last click: an idle timeout
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which the idle timeout ends
        WTF_CSRF_SSL_STRICT=True,
    )
    app.session_interface = _SessionInterface()
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.login_message = "请先登录。"
    login_manager.session_protection = "basic"

    app.register_blueprint(blueprint)


def runtime_settings(app: Flask):
    from bot.runtime import EXTENSION

    return app.extensions[EXTENSION].settings


def db():
    """The request's database session, opened on first use and closed after the response."""
    if "console_db" not in g:
        g.console_db = runtime().sessions()
    return g.console_db


@blueprint.teardown_app_request
def _close_db(_exc) -> None:
    session = g.pop("console_db", None)
    if session is not None:
        session.close()


@blueprint.url_value_preprocessor
def _ids_in_range(_endpoint, values) -> None:
    """/console/requests/99999999999999999999 names no record: 404, not a database overflow."""
    from bot.console.common import MAX_ID

    for value in (values or {}).values():
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            abort(404)


# Each module adds its routes, filters and hooks to the blueprint when imported (once per process).
from bot.console import templating  # noqa: E402

templating.register(blueprint)
from bot.console import (  # noqa: E402,F401
    accounts,
    areas,
    activities,
    audit_log,
    auth,
    calendar_rules,
    dashboard,
    deliveries,
    exports,
    faq,
    handover,
    notices,
    personal_data,
    publicity,
    registrations,
    requests,
    roster,
    roster_import,
    statistics,
    visits,
    volunteers,
)
