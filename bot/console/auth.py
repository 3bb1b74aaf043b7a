"""Signing in and out. Sessions end after CONSOLE_IDLE_MINUTES without a click, when the
password changes or when the account is disabled (the session carries a version)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from bot.console import blueprint, db, login_manager
from bot.console.common import client_ip, commit, now, record
from models.staff_account import StaffAccount
from services import audit, staff_accounts


class SignedIn(UserMixin):
    """What Flask-Login holds for a request: the account row, looked up fresh each time."""

    def __init__(self, account: StaffAccount):
        self.account = account

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_version}"

    def __getattr__(self, name):
        return getattr(self.account, name)


@login_manager.user_loader
def _load(user_id: str) -> SignedIn | None:
    try:
        account_id, version = (int(part) for part in user_id.split(":"))
    except ValueError:
        return None
    account = staff_accounts.by_id(db(), account_id)
    if account is None or not account.active or account.session_version != version:
        return None
    return SignedIn(account)


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=40)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=200)])


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if (target and target.startswith(("/console/", "/simulator/")) and target.isprintable() and "\\" not in target
            and "/../" not in target):  # a line break in a Location header is a crash (or a header injection)
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("console.dashboard")


# A cookie without an expiry (the browser drops it when it closes) saying "signed in on this
# browser": when the session has ended but this is still here, the session timed out or was
# ended by a new password, and the login page says so instead of a bare 请先登录.
SIGNED_IN_MARK = "sy_console_was_in"
EXPIRED = "登录已过期，请重新登录。登录后会回到原来的页面。"


def _session_expired() -> bool:
    return request.cookies.get(SIGNED_IN_MARK) == "1" and not current_user.is_authenticated


def _here() -> str:
    """Where to come back to after signing in: this page, or for a form post the page that held the form."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith(blueprint.url_prefix + "/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for("console.dashboard")


def _to_login():
    if request.endpoint == "console.login":  # the login form itself (cookies were cleared): keep where it leads
        return redirect(url_for("console.login", next=request.args.get("next") or None))
    if not _session_expired():
        flash(login_manager.login_message, "info")
    return redirect(url_for("console.login", next=_here()))


login_manager.unauthorized_handler(_to_login)


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("console.dashboard"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        result = staff_accounts.sign_in(db(), form.username.data, form.password.data, client_ip(), now())
        if result.account is None:
            audit.record(db(), None, "login_failed", username=(form.username.data or "")[:40], ip=client_ip(), at=now())
            commit()
            error = result.error
        else:
            session.clear()  # a fresh session on sign-in: no fixation
            login_user(SignedIn(result.account))
            session.permanent = True
            record("login")
            commit()
            response = redirect(_safe_next(request.args.get("next")))
            response.set_cookie(SIGNED_IN_MARK, "1", httponly=True, samesite="Lax", secure=request.is_secure,
                                path=blueprint.url_prefix)
            return response
    return render_template("console/login.html", form=form, error=error,
                           expired=EXPIRED if _session_expired() else None), 200 if error is None else 401


@blueprint.route("/logout", methods=["POST"])
@login_required
def logout():
    record("logout")
    commit()
    logout_user()
    session.clear()
    flash("您已退出登录。", "info")
    response = redirect(url_for("console.login"))
    response.delete_cookie(SIGNED_IN_MARK, path=blueprint.url_prefix)
    return response


# --- error pages: plain Chinese, inside the console's frame --------------------------


def _error(title: str, message: str, status: int):
    return render_template("console/error.html", title=title, message=message), status


@blueprint.errorhandler(CSRFError)
def _csrf_failed(_error_):
    if not current_user.is_authenticated:  # the session ended while the form was open: sign in, then back
        return _to_login()
    return _error("请刷新页面", "页面已过期或表单无效，没有做任何修改。请返回上一页，刷新后再试一次。", 400)


@blueprint.errorhandler(403)
def _forbidden(_error_):
    return _error("没有权限", "您的账号没有这项权限。如需要，请联系管理员。", 403)


@blueprint.app_errorhandler(404)  # app-wide: a mistyped /console/… address matches no console route
def _not_found(error):
    if not request.path.startswith(blueprint.url_prefix):
        return error
    return _error("没有找到", "没有找到这个页面或记录，可能已被删除，或不在您负责的范围内。", 404)
