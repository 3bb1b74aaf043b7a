"""账号管理 and 我的账号: accounts, roles, areas, passwords, sessions ending, WeChat linking."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models import Recipient
from models import OutboxStatus
from models.staff_account import AuditEntry, StaffAccount, StaffRole
from services import staff_accounts
from tests.conftest import make_settings
from tests.console_kit import PASSWORD, add_staff, post, runtime_of, sign_in
from tests.conversation_fixtures import chat_app, clock, db, new_chat  # noqa: F401
from tests.transcript import Clock

NEW_PASSWORD = "another-horse-77"
WRONG_CODE = "绑定码不对或已过期，请在工作台“我的账号”重新获取。"


@pytest.fixture
def app(sqlite_url, tmp_path, apps):
    return apps(make_settings(sqlite_url, tmp_path))


def sessions_of(app):
    return runtime_of(app).sessions


def account(app, username: str) -> StaffAccount:
    with sessions_of(app)() as session:
        return staff_accounts.by_username(session, username)


def audit_actions(app, subject_id: int | None = None) -> list[str]:
    with sessions_of(app)() as session:
        query = select(AuditEntry.action).order_by(AuditEntry.id)
        if subject_id is not None:
            query = query.where(AuditEntry.subject == "staff_account", AuditEntry.subject_id == subject_id)
        return list(session.scalars(query))


def signed_in(app, username: str, role: str = "admin", town: str | None = None, create: bool = True, **extra):
    if create:
        add_staff(sessions_of(app), username, role, town, **extra)
    client = app.test_client()
    response = sign_in(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def is_signed_in(client) -> bool:
    response = client.get("/console/")
    if response.status_code == 302:
        assert "/console/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def text(response) -> str:
    return response.get_data(as_text=True)


def new_account(**changes) -> dict:
    form = {"username": "zhangsan", "display_name": "张三", "role": "officer", "town": "城关镇",
            "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    form.update(changes)
    return form


# --- the list and creating accounts -----------------------------------------------------------


def test_admin_sees_every_account_with_role_area_state_wechat_alerts_and_last_login(settings, tmp_path, apps):
    app = apps(settings)
    admin = signed_in(app, "admin1", "admin", display_name="王主任")
    add_staff(sessions_of(app), "li", "officer", "青石镇", display_name="李干事")
    add_staff(sessions_of(app), "viewer1", "viewer")
    with sessions_of(app).begin() as session:
        li = staff_accounts.by_username(session, "li")
        li.wechat_openid = "oStaffLi0001"
        li.receives_alerts = False
        staff_accounts.disable(session, staff_accounts.by_username(session, "viewer1"))

    page = text(admin.get("/console/staff"))
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr>\s*<td><a href="/console/staff/\d+">([^<]+)</a>.*?</tr>', page, re.S)}
    assert set(rows) == {"admin1", "li", "viewer1"}
    assert all(w in rows["admin1"] for w in ("王主任", "管理员", "全县", "启用", "未绑定"))
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", rows["admin1"])  # signed in just now
    assert all(w in rows["li"] for w in ("李干事", "经办人", "青石镇", "启用", "已绑定", "<td>否</td>", "从未登录"))
    assert all(w in rows["viewer1"] for w in ("只读", "停用"))
    assert "oStaffLi0001" not in page and "pbkdf2" not in page and "scrypt" not in page


def test_creating_an_account_with_mistakes_shows_them_beside_the_fields_and_keeps_what_was_typed(app):
    admin = signed_in(app, "admin1")
    add_staff(sessions_of(app), "taken", "viewer")

    cases = [
        (new_account(username="taken"), "用户名taken已存在。"),
        (new_account(username="张 三"), "用户名为2到40位字母、数字、下划线、点或减号。"),
        (new_account(password="short1", password2="short1"), "密码至少10位。"),
        (new_account(password="onlyletterslong", password2="onlyletterslong"), "密码请同时包含字母和数字。"),
        (new_account(password2="different-horse-1"), "两次输入的密码不一样。"),
        (new_account(town="火星镇"), "请选择全县或一个乡镇/街道。"),
    ]
    for form, message in cases:
        response = post(admin, "/console/staff", form)
        page = text(response)
        assert response.status_code == 400, message
        assert re.search(rf'<span class="error" role="alert">{re.escape(message)}</span>', page), message
        assert 'value="张三"' in page  # the display name typed is kept
        assert NEW_PASSWORD not in page and "short1" not in page  # passwords never come back
        assert "<details class=\"action\" open>" in page  # the form is open on the error
    with sessions_of(app)() as session:
        assert [a.username for a in staff_accounts.all_accounts(session)] == ["admin1", "taken"]
    assert "staff.create" not in audit_actions(app)


def test_creating_an_account_and_signing_in_with_it(app):
    admin = signed_in(app, "admin1")
    page = text(admin.get("/console/staff"))
    for town in ("全县", "城关镇", "青石镇", "东湖街道"):
        assert f">{town}</option>" in page

    response = post(admin, "/console/staff", new_account())
    created = account(app, "zhangsan")
    assert response.status_code == 302 and response.headers["Location"] == f"/console/staff/{created.id}"
    assert (created.role, created.town, created.display_name, created.active) == (StaffRole.OFFICER, "城关镇", "张三", True)
    assert "已新建账号zhangsan。" in text(admin.get(response.headers["Location"]))
    assert audit_actions(app, created.id) == ["staff.create"]
    with sessions_of(app)() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.create")).one()
        assert entry.staff_username == "admin1" and NEW_PASSWORD not in (entry.detail or "")

    officer = app.test_client()
    assert sign_in(officer, "zhangsan", NEW_PASSWORD).status_code == 302
    assert "张三（经办人 · 城关镇）" in text(officer.get("/console/"))

    county = post(admin, "/console/staff", new_account(username="county", town=""))
    assert county.status_code == 302 and account(app, "county").town is None


def test_officers_and_viewers_cannot_manage_accounts(app):
    target = add_staff(sessions_of(app), "target", "viewer")
    for role in ("officer", "viewer"):
        client = signed_in(app, f"a_{role}", role, town="城关镇" if role == "officer" else None)
        assert client.get("/console/staff").status_code == 403
        assert client.get(f"/console/staff/{target}").status_code == 403
        for action in ("", "/password", "/disable", "/unlink"):
            assert post(client, f"/console/staff/{target}{action}",
                        {"role": "admin", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 403
        assert post(client, "/console/staff", new_account(username=f"x_{role}")).status_code == 403
        assert "账号管理" not in text(client.get("/console/"))  # not in the menu either
        assert client.get("/console/me").status_code == 200
    assert account(app, "target").role == StaffRole.VIEWER and account(app, "target").active
    anonymous = app.test_client().get("/console/staff")
    assert anonymous.status_code == 302 and "/console/login" in anonymous.headers["Location"]


# --- editing ------------------------------------------------------------------------------------


def test_changing_role_or_area_ends_that_accounts_sessions(settings, apps):
    app = apps(settings)
    admin = signed_in(app, "admin1")
    officer_id = add_staff(sessions_of(app), "li", "officer", "城关镇")
    at_desk, at_home = signed_in(app, "li", create=False), signed_in(app, "li", create=False)

    page = text(admin.get(f"/console/staff/{officer_id}"))
    assert '<option selected value="城关镇">' in page or '<option value="城关镇" selected>' in page
    # Only the name and the alerts: nobody is signed out.
    response = post(admin, f"/console/staff/{officer_id}",
                    {"display_name": "李干事", "role": "officer", "town": "城关镇", "receives_alerts": ""})
    assert response.status_code == 302
    li = account(app, "li")
    assert (li.display_name, li.receives_alerts, li.session_version) == ("李干事", False, 0)
    assert is_signed_in(at_desk) and is_signed_in(at_home)

    response = post(admin, f"/console/staff/{officer_id}",
                    {"display_name": "李干事", "role": "viewer", "town": "", "receives_alerts": "y"})
    assert response.status_code == 302
    li = account(app, "li")
    assert (li.role, li.town, li.receives_alerts) == (StaffRole.VIEWER, None, True)
    assert not is_signed_in(at_desk) and not is_signed_in(at_home)
    assert is_signed_in(admin)
    assert audit_actions(app, officer_id) == ["staff.update", "staff.update"]
    with sessions_of(app)() as session:
        details = list(session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "staff.update")
                                       .order_by(AuditEntry.id)))
    assert details[1] == "角色：经办人→只读；范围：城关镇→全县；接收提醒：是"

    again = signed_in(app, "li", create=False)
    assert "李干事（只读）" in text(again.get("/console/"))


def test_an_invalid_edit_changes_nothing_and_says_why(app):
    admin = signed_in(app, "admin1")
    officer_id = add_staff(sessions_of(app), "li", "officer", "城关镇")
    response = post(admin, f"/console/staff/{officer_id}", {"display_name": "李" * 41, "role": "officer", "town": "火星镇"})
    assert response.status_code == 400
    page = text(response)
    assert "姓名最多40个字。" in page and "请选择全县或一个乡镇/街道。" in page
    assert account(app, "li").town == "城关镇" and audit_actions(app, officer_id) == []


def test_admin_resets_a_password_which_signs_that_account_out_everywhere(app):
    admin = signed_in(app, "admin1")
    officer_id = add_staff(sessions_of(app), "li", "officer")
    officer = signed_in(app, "li", create=False)
    old_hash = account(app, "li").password_hash

    mismatch = post(admin, f"/console/staff/{officer_id}/password",
                    {"reset-password": NEW_PASSWORD, "reset-password2": "something-else-9"})
    assert mismatch.status_code == 400 and "两次输入的密码不一样。" in text(mismatch)
    weak = post(admin, f"/console/staff/{officer_id}/password", {"reset-password": "12345", "reset-password2": "12345"})
    assert weak.status_code == 400 and "密码至少10位。" in text(weak) and 'value="12345"' not in text(weak)
    assert account(app, "li").password_hash == old_hash and is_signed_in(officer)

    done = post(admin, f"/console/staff/{officer_id}/password",
                {"reset-password": NEW_PASSWORD, "reset-password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert account(app, "li").password_hash != old_hash
    assert not is_signed_in(officer)
    assert sign_in(app.test_client(), "li", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "li", NEW_PASSWORD).status_code == 302
    assert audit_actions(app, officer_id) == ["staff.password"]


def test_an_admin_resetting_their_own_password_stays_signed_in_here(app):
    admin = signed_in(app, "admin1")
    elsewhere = signed_in(app, "admin1", create=False)
    admin_id = account(app, "admin1").id
    post(admin, f"/console/staff/{admin_id}/password", {"reset-password": NEW_PASSWORD, "reset-password2": NEW_PASSWORD})
    assert is_signed_in(admin) and not is_signed_in(elsewhere)


def test_disable_and_enable(settings, apps):
    app = apps(settings)
    admin = signed_in(app, "admin1")
    officer_id = add_staff(sessions_of(app), "li", "officer")
    officer = signed_in(app, "li", create=False)

    page = text(admin.get(f"/console/staff/{officer_id}"))
    assert 'data-confirm="确定停用li吗？"' in page
    response = post(admin, f"/console/staff/{officer_id}/disable")
    assert response.status_code == 302
    assert "已停用li，该账号已退出登录。" in text(admin.get(response.headers["Location"]))
    assert account(app, "li").active is False
    assert not is_signed_in(officer)
    refused = sign_in(app.test_client(), "li")
    assert refused.status_code == 401 and "这个账号已停用，请联系管理员。" in text(refused)

    assert post(admin, f"/console/staff/{officer_id}/enable").status_code == 302
    assert account(app, "li").active is True
    assert sign_in(app.test_client(), "li").status_code == 302
    assert audit_actions(app, officer_id) == ["staff.disable", "staff.enable"]


def test_the_last_active_admin_can_be_neither_disabled_nor_demoted(app):
    admin = signed_in(app, "admin1")
    admin_id = account(app, "admin1").id
    refused = post(admin, f"/console/staff/{admin_id}/disable")
    assert refused.status_code == 400
    assert "这是最后一个启用的管理员账号，不能停用。" in text(refused)
    demoted = post(admin, f"/console/staff/{admin_id}", {"role": "officer", "town": "", "receives_alerts": "y"})
    assert demoted.status_code == 400 and "这是最后一个启用的管理员账号，不能改为其他角色。" in text(demoted)
    assert (account(app, "admin1").active, account(app, "admin1").role) == (True, StaffRole.ADMIN)
    assert is_signed_in(admin)
    assert audit_actions(app, admin_id) == []

    # With a second admin, the first may step down (and lands on 我的账号, no longer an admin).
    add_staff(sessions_of(app), "admin2", "admin")
    stepped = post(admin, f"/console/staff/{admin_id}", {"role": "officer", "town": "", "receives_alerts": "y"})
    assert stepped.status_code == 302 and stepped.headers["Location"] == "/console/me"
    assert admin.get("/console/staff").status_code == 403


def test_admin_unlinks_a_staff_members_wechat(app):
    admin = signed_in(app, "admin1")
    officer_id = add_staff(sessions_of(app), "li", "officer")
    with sessions_of(app).begin() as session:
        staff_accounts.by_id(session, officer_id).wechat_openid = "oStaffLi0001"
    assert "解除绑定" in text(admin.get(f"/console/staff/{officer_id}"))
    assert post(admin, f"/console/staff/{officer_id}/unlink").status_code == 302
    assert account(app, "li").wechat_openid is None
    assert audit_actions(app, officer_id) == ["staff.unlink"]
    with sessions_of(app)() as session:
        assert staff_accounts.alert_openids(session, "staff") == []


def test_an_unknown_account_is_404(app):
    admin = signed_in(app, "admin1")
    assert admin.get("/console/staff/999").status_code == 404
    assert post(admin, "/console/staff/999/disable").status_code == 404


# --- 我的账号 -----------------------------------------------------------------------------------


def test_my_account_shows_name_role_and_area(app):
    client = signed_in(app, "li", "officer", "青石镇", display_name="李干事")
    page = text(client.get("/console/me"))
    assert all(w in page for w in ("li", "李干事", "经办人", "青石镇", "还没有绑定微信", "修改密码"))


def test_changing_my_own_password_keeps_me_signed_in_and_signs_out_elsewhere(settings, apps):
    app = apps(settings)
    here = signed_in(app, "li", "officer")
    elsewhere = signed_in(app, "li", create=False)
    old_hash = account(app, "li").password_hash

    wrong = post(here, "/console/me/password",
                 {"own-current": "not-my-password-1", "own-password": NEW_PASSWORD, "own-password2": NEW_PASSWORD})
    assert wrong.status_code == 400 and "当前密码不对。" in text(wrong)
    weak = post(here, "/console/me/password", {"own-current": PASSWORD, "own-password": "abc", "own-password2": "abc"})
    assert weak.status_code == 400 and "密码至少10位。" in text(weak)
    assert account(app, "li").password_hash == old_hash and is_signed_in(elsewhere)

    done = post(here, "/console/me/password",
                {"own-current": PASSWORD, "own-password": NEW_PASSWORD, "own-password2": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/console/me"
    assert "密码已修改。" in text(here.get("/console/me"))
    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)
    assert sign_in(app.test_client(), "li", NEW_PASSWORD).status_code == 302
    assert audit_actions(app, account(app, "li").id) == ["staff.password"]


# --- linking WeChat -----------------------------------------------------------------------------


@pytest.fixture
def both(chat_app, clock):
    """The app serving the chat and the console, on the tests' clock."""
    runtime_of(chat_app).clock = clock
    return chat_app


def _link_code(client) -> str:
    response = post(client, "/console/me/link", token_from="/console/me")
    assert response.status_code == 200
    page = text(response)
    assert "请用您的微信关注本公众号，发送：" in page and "10分钟内有效" in page
    return re.search(r"绑定(\d{6})", page).group(1)


def test_a_code_from_my_account_sent_in_the_chat_links_my_wechat(both, new_chat, clock):
    staff = signed_in(both, "li", "officer", display_name="李干事")
    code = _link_code(staff)
    assert account(both, "li").link_code_hash not in (None, code)  # only a hash is kept

    chat = new_chat("oStaffLi0001")
    assert chat.say(f"绑定 {code}") == "绑定成功！以后工作提醒会发到这个微信。（账号：li）"
    li = account(both, "li")
    assert li.wechat_openid == "oStaffLi0001" and li.link_code_hash is None
    page = text(staff.get("/console/me"))
    assert "已绑定微信" in page and "解除绑定" in page
    with sessions_of(both)() as session:
        assert staff_accounts.alert_openids(session, "staff") == ["oStaffLi0001"]
        assert [d for (d,) in session.execute(select(AuditEntry.detail).where(AuditEntry.action == "staff.link")
                                              .order_by(AuditEntry.id))] == ["生成绑定码", "在公众号发送绑定码完成绑定"]

    # The code is used up.
    assert new_chat("oSomeoneElse01").say(f"绑定 {code}") == WRONG_CODE

    # 解除绑定 on 我的账号: alerts stop.
    assert post(staff, "/console/me/unlink", token_from="/console/me").status_code == 302
    assert account(both, "li").wechat_openid is None
    with sessions_of(both)() as session:
        assert staff_accounts.alert_openids(session, "staff") == []
    assert audit_actions(both, li.id)[-1] == "staff.unlink"


def test_a_wrong_or_expired_code_is_refused_and_guessing_is_stopped(both, new_chat, clock):
    staff = signed_in(both, "li", "officer")
    code = _link_code(staff)
    chat = new_chat("oStaffLi0001")
    wrong = "000000" if code != "000000" else "111111"
    assert chat.say(f"绑定 {wrong}") == WRONG_CODE
    clock.advance(minutes=11)
    assert chat.say(f"绑定 {code}") == WRONG_CODE
    assert account(both, "li").wechat_openid is None

    # Five wrong codes in 15 minutes from one WeChat: no more tries for a while, even a right one.
    fresh = _link_code(staff)
    guesser = new_chat("oGuesser00001")
    for n in range(5):
        assert guesser.say(f"绑定 {n:06d}" if f"{n:06d}" != fresh else "绑定 999999") == WRONG_CODE
    assert guesser.say(f"绑定 {fresh}") == "尝试次数过多，请15分钟后再试。"
    assert account(both, "li").wechat_openid is None
    # Another WeChat is not held up by the guesser.
    assert chat.say(f"绑定　{fresh}") == "绑定成功！以后工作提醒会发到这个微信。（账号：li）"  # full-width space


def test_linking_works_in_the_middle_of_a_form_and_one_wechat_serves_one_account(both, new_chat, clock):
    first = signed_in(both, "li", "officer")
    second = signed_in(both, "wang", "officer")
    chat = new_chat("oStaffShared01")
    assert "请问您的姓名？" in chat.say("志愿者报名")
    assert chat.say(f"绑定 {_link_code(first)}") == "绑定成功！以后工作提醒会发到这个微信。（账号：li）"
    assert chat.say(f"绑定 {_link_code(second)}") == "绑定成功！以后工作提醒会发到这个微信。（账号：wang）"
    assert account(both, "li").wechat_openid is None
    assert account(both, "wang").wechat_openid == "oStaffShared01"


def test_a_staff_alert_reaches_the_linked_wechat_through_delivery(sqlite_url, tmp_path, apps):
    from tests.fake_wechat_api import TEMPLATE, FakeWeChatApi
    from tests.outbound_kit import Outbound, outbound_settings

    with FakeWeChatApi() as api:
        settings = outbound_settings(sqlite_url, tmp_path, api, WECHAT_TEMPLATE_IDS="staff_alert=TPL_ALERT")
        app = apps(settings)
        console_clock = Clock()
        runtime_of(app).clock = console_clock
        staff = signed_in(app, "li", "officer")
        add_staff(sessions_of(app), "muted", "officer")
        code = _link_code(staff)
        with sessions_of(app).begin() as session:
            assert staff_accounts.link_by_code(session, code, "oStaffLi0001", console_clock()) is not None
            muted = staff_accounts.by_username(session, "muted")
            muted.wechat_openid, muted.receives_alerts = "oStaffMuted01", False

        kit = Outbound(settings)
        try:
            parent = kit.enqueue(kind="staff_alert", recipient=Recipient.role("staff"),
                                 payload={"fields": {"thing1": "新求助待分派"}}, idempotency_key="alert:1")
            kit.drain()
            assert [d.touser for d in api.delivered(TEMPLATE)] == ["oStaffLi0001"]
            assert kit.row(parent).status == OutboxStatus.SENT
        finally:
            kit.close()
