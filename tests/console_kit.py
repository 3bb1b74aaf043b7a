"""Helpers for console tests: an app on a test database, staff accounts, signing in, CSRF tokens.

Console tests use Flask's test client in-process (the browser tests are separate).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from models.staff_account import StaffRole
from services import staff_accounts

PASSWORD = "correct-horse-42"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 Tuesday in Shanghai
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def add_staff(sessions, username: str, role: str = "officer", town: str | None = None, **extra):
    with sessions.begin() as session:
        account = staff_accounts.create(session, username, PASSWORD, NOW, role=StaffRole(role), town=town,
                                        display_name=extra.get("display_name"))
        return account.id


def csrf_token(client, path: str = "/console/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, username: str, password: str = PASSWORD):
    token = csrf_token(client)
    return client.post("/console/login", data={"username": username, "password": password, "csrf_token": token})


def post(client, path: str, data: dict | None = None, token_from: str = "/console/", **kwargs):
    """POST a console form with a valid CSRF token, as the browser would after loading a page."""
    token = csrf_token(client, token_from)
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)


def runtime_of(app):
    return app.extensions["shuangyong"]
