"""`python -m bot staff-user …` through click's runner on the real command group."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.security import check_password_hash

from bot.cli.main import cli
from models.database import make_engine, make_session_factory
from models.staff_account import AuditEntry, StaffAccount, StaffRole
from services import staff_accounts
from tests.conftest import DATA_KEY, TOKEN

PASSWORD = "correct-horse-42"
OTHER = "another-horse-77"


@pytest.fixture
def database(sqlite_url, tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("WECHAT_", "REDIS_", "SCHEDULER_", "CONSOLE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "test-secret-key-0123456789")
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", DATA_KEY)
    monkeypatch.setenv("WECHAT_TOKEN", TOKEN)
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    engine = make_engine(sqlite_url)
    yield make_session_factory(engine)
    engine.dispose()


def staff(*args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, ["staff-user", *args], input=stdin, catch_exceptions=False)


def account(sessions, username: str) -> StaffAccount | None:
    with sessions() as session:
        return staff_accounts.by_username(session, username)


def test_add_with_the_password_on_stdin_or_typed_twice(database):
    added = staff("add", "wang", "--role", "admin", "--name", "王主任", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "created wang (admin)" in added.output
    wang = account(database, "wang")
    assert (wang.role, wang.town, wang.display_name, wang.active) == (StaffRole.ADMIN, None, "王主任", True)
    assert check_password_hash(wang.password_hash, PASSWORD) and PASSWORD not in wang.password_hash

    typed = staff("add", "li", "--town", "城关镇", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert typed.exit_code == 0, typed.output
    assert typed.output.count("Password") == 1 and "Repeat for confirmation" in typed.output
    assert PASSWORD not in typed.output  # hidden input
    li = account(database, "li")
    assert (li.role, li.town) == (StaffRole.OFFICER, "城关镇")
    assert check_password_hash(li.password_hash, PASSWORD)

    # Two different entries: asked again, nothing stored until they agree.
    retried = staff("add", "zhao", stdin=f"{PASSWORD}\n{OTHER}\n{OTHER}\n{OTHER}\n")
    assert retried.exit_code == 0 and "do not match" in retried.output
    assert check_password_hash(account(database, "zhao").password_hash, OTHER)


def test_add_refuses_a_taken_name_a_weak_password_and_an_unknown_town(database):
    assert staff("add", "li", "--password-stdin", stdin=PASSWORD).exit_code == 0

    taken = staff("add", "li", "--password-stdin", stdin=OTHER)
    assert taken.exit_code == 1 and "用户名li已存在。" in taken.output

    short = staff("add", "wang", "--password-stdin", stdin="abc123")
    assert short.exit_code == 1 and "密码至少10位。" in short.output
    letters = staff("add", "wang", "--password-stdin", stdin="abcdefghijkl")
    assert letters.exit_code == 1 and "密码请同时包含字母和数字。" in letters.output

    town = staff("add", "wang", "--town", "火星镇", "--password-stdin", stdin=PASSWORD)
    assert town.exit_code == 2 and "unknown town '火星镇'" in town.output and "城关镇" in town.output

    role = staff("add", "wang", "--role", "boss", "--password-stdin", stdin=PASSWORD)
    assert role.exit_code == 2

    with database() as session:
        assert [a.username for a in session.scalars(select(StaffAccount))] == ["li"]


def test_passwd_changes_the_hash_and_ends_sessions(database):
    staff("add", "li", "--password-stdin", stdin=PASSWORD)
    before = account(database, "li")

    changed = staff("passwd", "li", "--password-stdin", stdin=OTHER + "\n")
    assert changed.exit_code == 0 and "password of li changed" in changed.output
    after = account(database, "li")
    assert after.password_hash != before.password_hash and check_password_hash(after.password_hash, OTHER)
    assert after.session_version == before.session_version + 1

    typed = staff("passwd", "li", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert typed.exit_code == 0 and check_password_hash(account(database, "li").password_hash, PASSWORD)

    weak = staff("passwd", "li", "--password-stdin", stdin="short")
    assert weak.exit_code == 1 and "密码至少10位。" in weak.output
    assert check_password_hash(account(database, "li").password_hash, PASSWORD)
    missing = staff("passwd", "nobody", stdin=f"{OTHER}\n{OTHER}\n")
    assert missing.exit_code == 1 and "no account nobody" in missing.output
    assert "Password" not in missing.output  # told before typing a password twice for nothing


def test_disable_refuses_the_last_admin_and_enable_brings_an_account_back(database):
    staff("add", "wang", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    staff("add", "li", "--password-stdin", stdin=PASSWORD)

    last = staff("disable", "wang")
    assert last.exit_code == 1 and "这是最后一个启用的管理员账号，不能停用。" in last.output
    assert account(database, "wang").active

    version = account(database, "li").session_version
    disabled = staff("disable", "li")
    assert disabled.exit_code == 0 and "li disabled" in disabled.output
    assert account(database, "li").active is False and account(database, "li").session_version == version + 1
    with database.begin() as session:  # nor can it sign in
        result = staff_accounts.sign_in(session, "li", PASSWORD, "127.0.0.1", staff_accounts.by_username(session, "li").created_at)
        assert result.account is None

    enabled = staff("enable", "li")
    assert enabled.exit_code == 0 and "li enabled" in enabled.output
    assert account(database, "li").active is True

    # With a second admin the first may be disabled.
    staff("add", "zhao", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    assert staff("disable", "wang").exit_code == 0
    assert staff("disable", "ghost").exit_code == 1


def test_list_shows_role_area_state_and_wechat_but_never_a_password(database):
    empty = staff("list")
    assert empty.exit_code == 0 and "no accounts" in empty.output

    staff("add", "wang", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    staff("add", "li", "--town", "青石镇", "--password-stdin", stdin=PASSWORD)
    staff("add", "zhao", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    with database.begin() as session:
        staff_accounts.by_username(session, "li").wechat_openid = "oStaffLi0001"
    staff("disable", "zhao")

    listed = staff("list")
    assert listed.exit_code == 0
    lines = {line.split()[0]: line.split() for line in listed.output.splitlines()}
    assert lines["wang"][:5] == ["wang", "admin", "全县", "active", "wechat:-"]
    assert lines["li"][:5] == ["li", "officer", "青石镇", "active", "wechat:linked"]
    assert lines["zhao"][:4] == ["zhao", "viewer", "全县", "disabled"]
    assert all(line[-1] == "never" for line in lines.values())
    hashes = [a.password_hash for a in (account(database, n) for n in ("wang", "li", "zhao"))]
    assert PASSWORD not in listed.output and not any(h in listed.output for h in hashes)
    assert "pbkdf2" not in listed.output and "scrypt" not in listed.output and "oStaffLi0001" not in listed.output


def test_changes_from_the_terminal_are_in_the_audit_log(database):
    staff("add", "wang", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    staff("add", "li", "--town", "城关镇", "--password-stdin", stdin=PASSWORD)
    staff("passwd", "li", "--password-stdin", stdin=OTHER)
    staff("disable", "li")
    staff("enable", "li")
    staff("disable", "wang")  # refused: nothing recorded
    with database() as session:
        rows = session.execute(select(AuditEntry.staff_username, AuditEntry.action, AuditEntry.subject_id, AuditEntry.detail)
                               .order_by(AuditEntry.id)).all()
    li = account(database, "li").id
    assert [tuple(r) for r in rows] == [
        ("cli", "staff.create", account(database, "wang").id, "角色：管理员；范围：全县"),
        ("cli", "staff.create", li, "角色：经办人；范围：城关镇"),
        ("cli", "staff.password", li, "命令行重设密码"),
        ("cli", "staff.disable", li, None),
        ("cli", "staff.enable", li, None),
    ]
