"""Signing in and the console's defences: throttling, sessions, idle timeout, redirects,
headers, cookies, CSRF, local assets, and a permission check on every page."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from models.staff_account import AuditEntry, LoginAttempt
from services import staff_accounts
from tests.conftest import make_settings
from tests.console_kit import PASSWORD, add_staff, csrf_token, post, runtime_of, sign_in
from tests.transcript import Clock
from tests.wechat_peer import INBOUND

WRONG = "用户名或密码不对，请重新输入。"
LOCKED = "尝试次数过多，请15分钟后再试。"
OTHER_PASSWORD = "another-horse-77"


@pytest.fixture
def app(sqlite_url, tmp_path, apps):
    return apps(make_settings(sqlite_url, tmp_path))


def sessions_of(app):
    return runtime_of(app).sessions


def text(response) -> str:
    return response.get_data(as_text=True)


def is_signed_in(client) -> bool:
    response = client.get("/console/")
    if response.status_code == 302:
        assert urlsplit(response.headers["Location"]).path == "/console/login"
        return False
    assert response.status_code == 200
    return True


def failed(client, username: str, password: str = "wrong-password-1") -> str:
    response = sign_in(client, username, password)
    assert response.status_code == 401
    return re.search(r'<p class="flash flash-error" role="alert">([^<]+)</p>', text(response)).group(1)


# --- signing in -------------------------------------------------------------------------------


def test_signing_in_and_the_messages_for_mistakes(settings, apps):
    app = apps(settings)
    add_staff(sessions_of(app), "li", "officer", display_name="李干事")
    client = app.test_client()

    login_page = client.get("/console/login")
    assert login_page.status_code == 200 and "工作人员登录" in text(login_page)
    assert client.get("/console/").headers["Location"].startswith("/console/login")

    assert failed(client, "li") == WRONG
    assert failed(client, "nobody") == WRONG  # an unknown name reads exactly like a wrong password
    empty = client.post("/console/login", data={"username": "", "password": "", "csrf_token": csrf_token(client)})
    assert "请输入用户名" in text(empty) and "请输入密码" in text(empty)

    response = sign_in(client, "li")
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    assert "李干事（经办人）" in text(client.get("/console/"))
    # Signed in already: the login page leads to the work queue.
    assert client.get("/console/login").headers["Location"] == "/console/"
    with sessions_of(app)() as session:
        actions = [(e.action, e.staff_username) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == [("login_failed", "li"), ("login_failed", "nobody"), ("login", "li")]
        assert staff_accounts.by_username(session, "li").last_login_at is not None


def test_five_wrong_passwords_lock_the_name_for_15_minutes_across_app_instances(settings, tmp_path, apps):
    first = apps(settings)
    second = apps(make_settings(settings.database_url, tmp_path / "second"))  # another worker, same database
    clock = Clock()
    runtime_of(first).clock = runtime_of(second).clock = clock
    add_staff(sessions_of(first), "li", "officer")
    add_staff(sessions_of(first), "wang", "officer")
    a, b = first.test_client(), second.test_client()

    for client in (a, b, a, b, a):
        assert failed(client, "li") == WRONG
    assert failed(b, "li", PASSWORD) == LOCKED  # the right password, too late
    assert failed(a, "li", PASSWORD) == LOCKED
    assert sign_in(a, "wang").status_code == 302  # only that name is held up

    clock.advance(minutes=14)
    assert failed(b, "li", PASSWORD) == LOCKED
    clock.advance(minutes=16)  # tries during the lock count too: 15 minutes of quiet
    assert sign_in(b, "li").status_code == 302
    with sessions_of(first)() as session:
        assert session.scalar(select(LoginAttempt).where(LoginAttempt.success.is_(True), LoginAttempt.username == "li"))


def test_a_successful_sign_in_resets_the_count(app):
    add_staff(sessions_of(app), "li", "officer")
    for _round in range(3):
        client = app.test_client()
        for _ in range(4):
            assert failed(client, "li") == WRONG
        assert sign_in(client, "li").status_code == 302


def test_a_disabled_account_cannot_sign_in(app):
    add_staff(sessions_of(app), "admin1", "admin")
    add_staff(sessions_of(app), "li", "officer")
    with sessions_of(app).begin() as session:
        staff_accounts.disable(session, staff_accounts.by_username(session, "li"))
    client = app.test_client()
    assert failed(client, "li", PASSWORD) == "这个账号已停用，请联系管理员。"
    assert failed(client, "li") == WRONG  # without the password, nothing is given away
    assert not is_signed_in(client)


@pytest.mark.parametrize("target, lands_on", [
    ("/console/requests?status=submitted", "/console/requests?status=submitted"),
    ("/console/me", "/console/me"),
    ("//evil.com", "/console/"),
    ("//evil.com/console/", "/console/"),
    ("http://evil.com", "/console/"),
    ("https://evil.com/console/x", "/console/"),
    ("/\\evil.com", "/console/"),
    ("javascript:alert(1)", "/console/"),
    ("/wechat", "/console/"),
])
def test_next_only_leads_inside_the_console(app, target, lands_on):
    add_staff(sessions_of(app), "li", "officer")
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(f"/console/login?next={quote(target, safe='')}",
                           data={"username": "li", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert urlsplit(location).netloc in ("", "localhost")
    assert location == lands_on


def test_a_page_asked_for_before_signing_in_is_shown_after(app):
    add_staff(sessions_of(app), "li", "officer")
    client = app.test_client()
    to_login = client.get("/console/me")
    assert to_login.status_code == 302
    login_url = to_login.headers["Location"]
    assert urlsplit(login_url).path == "/console/login"
    page = client.get(login_url)
    response = client.post(login_url, data={"username": "li", "password": PASSWORD,
                                            "csrf_token": re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                                                                    text(page)).group(1)})
    assert response.headers["Location"] == "/console/me"


def test_logging_out_is_a_post_only(app):
    add_staff(sessions_of(app), "li", "officer")
    client = app.test_client()
    sign_in(client, "li")
    assert client.get("/console/logout").status_code == 405
    assert is_signed_in(client)
    assert client.post("/console/logout").status_code == 400  # no CSRF token: not even a log-out
    assert is_signed_in(client)
    response = post(client, "/console/logout")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/console/login"
    assert "您已退出登录。" in text(client.get(response.headers["Location"]))
    assert not is_signed_in(client)


# --- sessions ---------------------------------------------------------------------------------


class FrozenSigner:
    """The clock of Flask's signed session cookie (itsdangerous), moved by hand."""

    def __init__(self, monkeypatch, start: int = 1_800_000_000):
        self.now = start
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _signer: self.now)

    def advance(self, seconds: int) -> None:
        self.now += seconds


def test_an_idle_session_ends_after_console_idle_minutes(sqlite_url, tmp_path, apps, monkeypatch):
    app = apps(make_settings(sqlite_url, tmp_path, CONSOLE_IDLE_MINUTES=1))
    add_staff(sessions_of(app), "li", "officer")
    cookie_clock = FrozenSigner(monkeypatch)
    client = app.test_client()
    assert sign_in(client, "li").status_code == 302

    for _ in range(3):  # a click every 50 seconds keeps the session alive well past one minute
        cookie_clock.advance(50)
        assert is_signed_in(client)
    cookie_clock.advance(61)
    assert not is_signed_in(client)
    # The login page says why (not a bare 请先登录), and signing in leads back to the page.
    assert "登录已过期，请重新登录。" in text(client.get("/console/login"))


def test_a_new_password_ends_the_other_sessions(settings, apps):
    app = apps(settings)
    add_staff(sessions_of(app), "li", "officer")
    here, there = app.test_client(), app.test_client()
    sign_in(here, "li")
    sign_in(there, "li")
    with sessions_of(app).begin() as session:  # as `python -m bot staff-user passwd` does
        staff_accounts.set_password(session, staff_accounts.by_username(session, "li"), OTHER_PASSWORD,
                                    runtime_of(app).clock())
    assert not is_signed_in(here) and not is_signed_in(there)
    assert sign_in(here, "li", OTHER_PASSWORD).status_code == 302 and is_signed_in(here)


def test_a_session_cookie_from_before_sign_in_is_not_reused(app):
    """No session fixation: signing in starts a fresh session."""
    add_staff(sessions_of(app), "li", "officer")
    client = app.test_client()
    client.get("/console/login")
    before = client.get_cookie("sy_console").value
    sign_in(client, "li")
    after = client.get_cookie("sy_console").value
    assert before != after


# --- headers and cookies ----------------------------------------------------------------------


def _admin(app):
    add_staff(sessions_of(app), "admin1", "admin")
    client = app.test_client()
    assert sign_in(client, "admin1").status_code == 302
    return client


def _pages(app) -> list[str]:
    """Every console page a GET without arguments can open."""
    return sorted(
        rule.rule for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.") and "GET" in rule.methods and not rule.arguments
        and rule.endpoint not in ("console.logout",)
    )


def test_every_console_response_carries_the_security_headers(app):
    client = _admin(app)
    responses = {path: client.get(path) for path in _pages(app)}
    responses["/console/nothing-here"] = missing = client.get("/console/nothing-here")
    assert missing.status_code == 404 and "没有找到这个页面" in text(missing)
    responses["/console/static/console.css"] = client.get("/console/static/console.css")
    responses["/console/static/vendor/chart.umd.min.js"] = client.get("/console/static/vendor/chart.umd.min.js")
    responses["/console/login (anonymous)"] = app.test_client().get("/console/login")
    responses["POST without token"] = client.post("/console/me/password")
    assert len(responses) >= 10
    for path, response in responses.items():
        csp = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, path
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        if "/static/" in path:
            assert response.status_code == 200 and "no-store" not in response.headers.get("Cache-Control", ""), path
        else:
            assert response.headers.get("Cache-Control") == "no-store", path


def _session_cookie(response) -> str:
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("sy_console=")]
    return cookie


def test_the_session_cookie_is_httponly_lax_and_secure_over_https_behind_a_trusted_proxy(sqlite_url, tmp_path, apps):
    plain = apps(make_settings(sqlite_url, tmp_path))
    cookie = _session_cookie(plain.test_client().get("/console/login"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    # Without TRUSTED_PROXIES a forwarded header is anyone's word: not believed.
    untrusted = _session_cookie(plain.test_client().get("/console/login", headers=https))
    assert "Secure" not in untrusted

    proxied = apps(make_settings(sqlite_url, tmp_path / "proxied", TRUSTED_PROXIES=1))
    add_staff(sessions_of(proxied), "li", "officer")
    client = proxied.test_client()
    response = client.get("/console/login", headers=https)
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers.get("Strict-Transport-Security")
    # Signing in over HTTPS: the CSRF check also wants the page to come from this site.
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text(response)).group(1)
    signed = client.post("/console/login", data={"username": "li", "password": PASSWORD, "csrf_token": token},
                         headers={**https, "Referer": "https://localhost/console/login"})
    assert signed.status_code == 302 and "Secure" in _session_cookie(signed)
    with sessions_of(proxied)() as session:
        assert session.scalars(select(AuditEntry.ip).where(AuditEntry.action == "login")).one() == "203.0.113.9"


def test_a_post_without_a_csrf_token_is_refused_and_changes_nothing(settings, apps):
    app = apps(settings)
    client = _admin(app)
    li = add_staff(sessions_of(app), "li", "officer")
    with sessions_of(app)() as session:
        before = staff_accounts.by_id(session, li).password_hash
    attempts = [
        ("/console/staff", {"username": "mallory", "role": "admin", "town": "", "password": OTHER_PASSWORD,
                            "password2": OTHER_PASSWORD}),
        (f"/console/staff/{li}/password", {"reset-password": OTHER_PASSWORD, "reset-password2": OTHER_PASSWORD}),
        (f"/console/staff/{li}/disable", {}),
        (f"/console/staff/{li}", {"role": "admin", "town": ""}),
    ]
    for path, data in attempts:
        for token in (None, "forged-token"):
            response = client.post(path, data={**data, **({"csrf_token": token} if token else {})})
            assert response.status_code == 400, path
            assert "没有做任何修改" in text(response)
    # A token from another session is no good either.
    stranger = app.test_client()
    foreign = csrf_token(stranger)
    assert client.post(f"/console/staff/{li}/disable", data={"csrf_token": foreign}).status_code == 400
    with sessions_of(app)() as session:
        account = staff_accounts.by_id(session, li)
        assert (account.password_hash, account.active, account.role.value) == (before, True, "officer")
        assert staff_accounts.by_username(session, "mallory") is None
        assert [a for (a,) in session.execute(select(AuditEntry.action))] == ["login"]


def test_assets_are_served_by_the_app_and_no_page_points_elsewhere(app):
    client = _admin(app)
    chart = client.get("/console/static/vendor/chart.umd.min.js")
    assert chart.status_code == 200 and "javascript" in chart.content_type and len(chart.data) > 50_000
    css = client.get("/console/static/console.css")
    assert css.status_code == 200 and css.content_type.startswith("text/css")
    assert client.get("/console/static/console.js").status_code == 200

    outside = re.compile(r"https?://(?!localhost[/:\"'])[^\s\"'<>]+")
    pages = {}
    for path in _pages(app):
        if path == "/console/login":
            continue  # signed in: it leads to the work queue; the anonymous page is below
        response = client.get(path)
        assert response.status_code == 200, path
        if response.mimetype == "text/html":  # not the Excel exports
            pages[path] = text(response)
    assert len(pages) >= 7
    with sessions_of(app)() as session:
        admin_id = staff_accounts.by_username(session, "admin1").id
    # Asked after the session above is closed: an open SQLite transaction holds the write lock,
    # and the request would wait out the 10 s busy timeout and answer 500.
    account_page = client.get(f"/console/staff/{admin_id}")
    assert account_page.status_code == 200 and "admin1" in text(account_page)
    pages["/console/staff/<id>"] = text(account_page)
    pages["/console/me/link"] = text(post(client, "/console/me/link"))
    pages["/console/login"] = text(app.test_client().get("/console/login"))
    pages["/console/static/console.css"] = text(css)
    for path, html in pages.items():
        assert not outside.findall(html), (path, outside.findall(html)[:3])
        for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert asset.startswith(("/console/", "#", "?")), (path, asset)


def test_the_webhook_needs_no_csrf_token(app, plain_peer):
    response = plain_peer.post(app.test_client(), (INBOUND / "text.xml").read_text(encoding="utf-8"))
    assert response.status_code == 200
    assert "请问您的姓名" in plain_peer.reply_text(response.data)  # the sample "报名志愿者 …" starts the form


def test_every_console_page_checks_a_permission(app):
    """No page can be added without @require(action): the route table is the list of pages."""
    from bot.console.access import RULES

    open_to_all = {"console.static", "console.login", "console.logout"}
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint in open_to_all:
            continue
        view = app.view_functions[rule.endpoint]
        action = getattr(view, "required_action", None)
        assert action in RULES, f"{rule.endpoint} ({rule.rule}) has no @require(...)"
        checked.append(rule.endpoint)
    assert {"console.dashboard", "console.staff_list", "console.my_account", "console.staff_update"} <= set(checked)

    # And the check really runs: a signed-out visitor is sent to sign in, everywhere.
    anonymous = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console.") and rule.endpoint not in open_to_all:
            path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule)
            method = "GET" if "GET" in rule.methods else "POST"
            response = anonymous.open(path, method=method)
            assert response.status_code in (302, 400), (rule.rule, response.status_code)
            if response.status_code == 302:
                assert urlsplit(response.headers["Location"]).path == "/console/login", rule.rule


def test_the_lock_window_is_what_the_login_page_promises():
    assert staff_accounts.MAX_FAILURES_PER_USER == 5 and staff_accounts.LOCK_WINDOW == timedelta(minutes=15)
