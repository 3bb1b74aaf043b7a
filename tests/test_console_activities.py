"""活动 in the console: create, edit, capacity and the waitlist, cancel, the sign-in sheet and its QR
code, check-in/out by staff, hours approved and corrected, and the whole path from the console
through the chat's QR scan to the national hours record (an xlsx read back with openpyxl)."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import OutboxMessage
from models.activity import Activity, ActivitySignup, ActivityStatus, SignupStatus
from models.staff_account import AuditEntry
from models.volunteer import Volunteer
from services import activities, volunteers
from services.volunteers import VolunteerDetails
from tests.conftest import TOKEN
from tests.console_kit import NOW, add_staff, post, runtime_of
from tests.transcript import Chat
from tests.wechat_peer import WeChatPeer

HOME = "城关镇"
DAY = (NOW + timedelta(days=7)).astimezone().date()  # a week after console_kit.NOW


def _volunteer(session, openid: str, name: str, town: str = HOME) -> Volunteer:
    mobile = f"139{sum(map(ord, openid)) % 10**8:08d}"
    v = volunteers.register(session, openid, VolunteerDetails(name, mobile, town, "河口村", ["care"], "any"), NOW)
    volunteers.approve(session, v, NOW, actor="staff:seed")
    return v


@pytest.fixture
def world(console, db_url):
    app, sessions, client_for = console(db_url)
    add_staff(sessions, "admin", "admin")
    add_staff(sessions, "clerk", "officer", HOME)
    add_staff(sessions, "reader", "viewer")
    return app, sessions, client_for


def _form(**changes) -> dict:
    form = {"title": "八一慰问文艺演出", "day": "2026-12-08", "start": "09:00", "end": "11:30",
            "place": "人民广场", "description": "为驻地官兵演出", "capacity": "2", "town": HOME}
    form.update(changes)
    return form


def _create(client, **changes) -> Activity:
    response = post(client, "/console/activities/new", _form(**changes), token_from="/console/activities/new")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def _only_activity(sessions) -> Activity:
    with sessions() as s:
        return s.scalars(select(Activity)).one()


def _sign_up(sessions, activity_id: int, *openids: str) -> None:
    with sessions.begin() as s:
        for openid in openids:
            volunteer = volunteers.find(s, openid)
            activities.sign_up(s, activity_id, openid, volunteer.id if volunteer else None, NOW)


def _audit(sessions, action: str) -> list[AuditEntry]:
    with sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _told(sessions, openid: str) -> list[str]:
    with sessions() as s:
        return [m.payload["text"] for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == openid, OutboxMessage.kind == "activity_update"))]


# --- create and edit ---------------------------------------------------------------------------


def test_an_officer_creates_an_activity_and_a_bad_form_comes_back_filled_in(world):
    app, sessions, client_for = world
    clerk = client_for("clerk")
    bad = post(clerk, "/console/activities/new", _form(end="08:00", capacity="很多"), token_from="/console/activities/new")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "名额请填整数" in html and "八一慰问文艺演出" in html and "为驻地官兵演出" in html
    with sessions() as s:
        assert s.scalars(select(Activity)).first() is None  # nothing half-saved

    _create(clerk)
    activity = _only_activity(sessions)
    # Typed in Shanghai time, stored in UTC.
    assert (activity.starts_at.hour, activity.ends_at.hour, activity.ends_at.minute) == (1, 3, 30)
    assert (activity.capacity, activity.town, activity.status) == (2, HOME, ActivityStatus.OPEN)
    assert [e.subject_id for e in _audit(sessions, "activity.create")] == [activity.id]
    listing = clerk.get("/console/activities").get_data(as_text=True)
    assert "八一慰问文艺演出" in listing and "人民广场" in listing


def test_end_before_start_is_refused_beside_the_field(world):
    _app, _sessions, client_for = world
    response = post(client_for("admin"), "/console/activities/new", _form(start="10:00", end="09:00"),
                    token_from="/console/activities/new")
    assert response.status_code == 400 and "结束时间要晚于开始时间" in response.get_data(as_text=True)


def test_a_township_account_creates_for_its_own_town_and_sees_only_its_own(world):
    _app, sessions, client_for = world
    _create(client_for("admin"), town="", title="全县国防教育讲座")
    _create(client_for("clerk"), town="青石镇", title="城关镇的活动")  # a forged town is ignored: its own
    with sessions() as s:
        county, own = s.scalars(select(Activity).order_by(Activity.id)).all()
    assert (county.town, own.town) == (None, HOME)
    clerk = client_for("clerk")
    listing = clerk.get("/console/activities").get_data(as_text=True)
    assert "城关镇的活动" in listing and "全县国防教育讲座" not in listing
    assert clerk.get(f"/console/activities/{county.id}").status_code == 404


def test_changing_the_time_tells_those_signed_up(world):
    _app, sessions, client_for = world
    with sessions.begin() as s:
        _volunteer(s, "oVolunteerA1", "林晓雨")
    admin = client_for("admin")
    _create(admin)
    activity = _only_activity(sessions)
    _sign_up(sessions, activity.id, "oVolunteerA1")
    page = f"/console/activities/{activity.id}/edit"
    assert post(admin, page, _form(title="八一慰问文艺演出", start="14:00", end="16:00"), token_from=page).status_code == 302
    [text] = _told(sessions, "oVolunteerA1")
    assert "时间或地点有调整" in text and "14:00" in text
    # Saving again without a change of time or place tells nobody again.
    post(admin, page, _form(start="14:00", end="16:00", description="新的说明"), token_from=page)
    assert len(_told(sessions, "oVolunteerA1")) == 1


# --- capacity, waitlist, cancel ---------------------------------------------------------------------


def test_raising_the_capacity_promotes_the_waitlist_in_order_and_tells_them(world):
    _app, sessions, client_for = world
    people = ["oVolunteerB1", "oVolunteerB2", "oVolunteerB3", "oVolunteerB4", "oVolunteerB5"]
    with sessions.begin() as s:
        for n, openid in enumerate(people):
            _volunteer(s, openid, "志愿者" + "甲乙丙丁戊"[n])
    admin = client_for("admin")
    _create(admin)  # two places
    activity = _only_activity(sessions)
    _sign_up(sessions, activity.id, *people)
    page = f"/console/activities/{activity.id}"

    lower = post(admin, page + "/capacity", {"capacity": "1"}, token_from=page)
    assert lower.status_code == 400 and "已有2人报名，名额不能少于2" in lower.get_data(as_text=True)

    response = post(admin, page + "/capacity", {"capacity": "4"}, token_from=page)
    assert response.status_code == 302
    with sessions() as s:
        status = {x.openid: x.status for x in s.scalars(select(ActivitySignup))}
    assert [status[p] for p in people] == [SignupStatus.REGISTERED] * 4 + [SignupStatus.WAITLISTED]
    assert any("已为您转为正式报名" in t for t in _told(sessions, "oVolunteerB3"))
    assert any("已为您转为正式报名" in t for t in _told(sessions, "oVolunteerB4"))
    assert _told(sessions, "oVolunteerB5") == []
    assert "候补的2人已按报名先后转为正式报名" in admin.get(page).get_data(as_text=True)


def test_cancelling_needs_a_reason_and_tells_everyone_signed_up_once(world):
    _app, sessions, client_for = world
    with sessions.begin() as s:
        for openid in ("oVolunteerC1", "oVolunteerC2", "oVolunteerC3"):
            _volunteer(s, openid, "王" + openid[-1])
    admin = client_for("admin")
    _create(admin)
    activity = _only_activity(sessions)
    _sign_up(sessions, activity.id, "oVolunteerC1", "oVolunteerC2", "oVolunteerC3")  # the third waits
    page = f"/console/activities/{activity.id}"
    assert "已报名和候补的人将在微信里收到" in admin.get(page).get_data(as_text=True)

    empty = post(admin, page + "/cancel", {"reason": "  "}, token_from=page)
    assert empty.status_code == 400 and "请填写取消原因" in empty.get_data(as_text=True)
    assert _only_activity(sessions).status == ActivityStatus.OPEN

    assert post(admin, page + "/cancel", {"reason": "天气原因，改期另行通知"}, token_from=page).status_code == 302
    again = post(admin, page + "/cancel", {"reason": "天气原因，改期另行通知"}, token_from=page)  # a double click
    assert again.status_code == 302
    for openid in ("oVolunteerC1", "oVolunteerC2", "oVolunteerC3"):
        [text] = _told(sessions, openid)
        assert "已取消" in text and "天气原因，改期另行通知" in text
    with sessions() as s:
        assert {x.status for x in s.scalars(select(ActivitySignup))} == {SignupStatus.CANCELLED}
    assert _only_activity(sessions).status == ActivityStatus.CANCELLED
    assert len(_audit(sessions, "activity.cancel")) == 1


# --- sheet and QR (sandbox) --------------------------------------------------------------------------


def test_the_sign_in_sheet_lists_those_registered_with_the_sandbox_qr_code(world):
    _app, sessions, client_for = world
    with sessions.begin() as s:
        _volunteer(s, "oVolunteerD1", "林晓雨")
        _volunteer(s, "oVolunteerD2", "赵国强")
        _volunteer(s, "oVolunteerD3", "孙红梅")
    admin = client_for("admin")
    _create(admin)
    activity = _only_activity(sessions)
    _sign_up(sessions, activity.id, "oVolunteerD1", "oVolunteerD2", "oVolunteerD3")
    html = admin.get(f"/console/activities/{activity.id}/sheet").get_data(as_text=True)
    assert "八一慰问文艺演出签到表" in html and "林晓雨" in html and "赵国强" in html
    assert "孙红梅" not in html  # on the waitlist: not on the sheet
    assert f"checkin_{activity.code}" in html  # the sandbox says what the code carries
    svg = admin.get(f"/console/activities/{activity.id}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert _only_activity(sessions).qr_ticket is None  # no WeChat ticket in the sandbox


# --- hours by staff -----------------------------------------------------------------------------------


def test_staff_check_in_approve_and_correct_hours_are_audited(world):
    app, sessions, client_for = world
    with sessions.begin() as s:
        a = _volunteer(s, "oVolunteerE1", "林晓雨")
        _volunteer(s, "oVolunteerE2", "赵国强")
    admin = client_for("admin")
    _create(admin, day="2026-12-01", start="10:00", end="13:00")  # today, from 10:00 (NOW) to 13:00
    activity = _only_activity(sessions)
    _sign_up(sessions, activity.id, "oVolunteerE1", "oVolunteerE2")
    with sessions() as s:
        first, second = s.scalars(select(ActivitySignup).order_by(ActivitySignup.queue_no)).all()
    page = f"/console/activities/{activity.id}"
    post(admin, f"{page}/signups/{first.id}/scan", token_from=page)
    post(admin, f"{page}/signups/{second.id}/scan", token_from=page)
    runtime_of(app).clock = lambda: NOW + timedelta(hours=2)
    post(admin, f"{page}/signups/{first.id}/scan", token_from=page)  # 代为签退 two hours later
    runtime_of(app).clock = lambda: NOW + timedelta(hours=4)  # the activity is over

    html = admin.get(page).get_data(as_text=True)
    assert "确认全部2人的服务时长" in html
    assert "2人待确认" in admin.get("/console/activities?period=all").get_data(as_text=True)
    post(admin, page + "/hours/approve", {"signup": str(first.id)}, token_from=page)  # one person
    assert "确认全部1人的服务时长" in admin.get(page).get_data(as_text=True)
    assert post(admin, page + "/hours/approve", token_from=page).status_code == 302  # the rest
    again = post(admin, page + "/hours/approve", token_from=page, follow_redirects=True)  # a double click
    assert "没有待确认的时长" in again.get_data(as_text=True)
    with sessions() as s:
        minutes = [x.service_minutes for x in s.scalars(select(ActivitySignup).order_by(ActivitySignup.queue_no))]
        assert minutes == [120, 180]  # checked out after 2 h; no check-out: the activity's 3 h
        assert s.get(Volunteer, a.id).service_minutes == 120

    bad = post(admin, f"{page}/signups/{first.id}/hours", {"hours": "2.7", "reason": "x"}, token_from=page)
    assert bad.status_code == 400 and "以半小时计" in bad.get_data(as_text=True)
    no_reason = post(admin, f"{page}/signups/{first.id}/hours", {"hours": "2.5", "reason": ""}, token_from=page)
    assert no_reason.status_code == 400 and "请填写修改原因" in no_reason.get_data(as_text=True)
    post(admin, f"{page}/signups/{first.id}/hours", {"hours": "2.5", "reason": "负责人确认提前到场布置"},
         token_from=page)
    with sessions() as s:
        assert s.get(ActivitySignup, first.id).service_minutes == 150
        assert s.get(Volunteer, a.id).service_minutes == 150  # the running total moved by the difference
    [entry] = _audit(sessions, "hours.correct")
    assert "120 → 150" in entry.detail and "负责人确认提前到场布置" in entry.detail
    assert len(_audit(sessions, "hours.approve")) == 2
    assert "修改原因：负责人确认提前到场布置" in admin.get(page).get_data(as_text=True)


def test_a_staff_check_in_a_week_early_is_refused(world):
    _app, sessions, client_for = world
    with sessions.begin() as s:
        _volunteer(s, "oVolunteerF1", "林晓雨")
    admin = client_for("admin")
    _create(admin)
    activity = _only_activity(sessions)
    _sign_up(sessions, activity.id, "oVolunteerF1")
    page = f"/console/activities/{activity.id}"
    with sessions() as s:
        signup = s.scalars(select(ActivitySignup)).one()
    post(admin, f"{page}/signups/{signup.id}/scan", token_from=page)
    assert "还没到签到时间" in admin.get(page).get_data(as_text=True)
    with sessions() as s:
        assert s.get(ActivitySignup, signup.id).checked_in_at is None


# --- end to end --------------------------------------------------------------------------------------------


def test_console_to_chat_to_qr_check_in_to_approved_hours_in_the_national_record(world):
    """Created in the console, signed up for in the chat, checked in by QR inside its window (a week
    early: refused), checked out, hours approved, exported; the xlsx has the record's columns."""
    app, sessions, client_for = world
    admin = client_for("admin")
    _create(admin, day="2026-12-08", start="09:00", end="12:00", capacity="10")
    activity = _only_activity(sessions)
    with sessions.begin() as s:
        volunteer = _volunteer(s, "oVolunteerG1", "林晓雨")
    profile = f"/console/volunteers/{volunteer.id}"
    post(admin, profile + "/id-number", {"id_number": "11010519491231002X"}, token_from=profile)

    chat = Chat(app, WeChatPeer(TOKEN), "oVolunteerG1")
    assert "八一慰问文艺演出" in chat.say("活动报名")
    assert "名额：10人" in chat.say("1")
    assert chat.say("1").startswith("报名成功！")

    early = chat.event("SCAN", f"checkin_{activity.code}")  # NOW: a week before
    assert early.startswith("活动还没开始") and "当天再来签到" in early and "签到成功" not in early

    start = activity.starts_at
    runtime_of(app).clock = lambda: start - timedelta(minutes=20)
    assert chat.event("SCAN", f"checkin_{activity.code}").startswith("签到成功！")
    runtime_of(app).clock = lambda: start + timedelta(hours=2, minutes=50)
    assert chat.event("SCAN", f"checkin_{activity.code}").startswith("签退成功！")

    runtime_of(app).clock = lambda: start + timedelta(hours=4)
    page = f"/console/activities/{activity.id}"
    assert "待确认" in admin.get(page).get_data(as_text=True)
    post(admin, page + "/hours/approve", token_from=page)

    response = admin.get("/console/hours/export.xlsx?year=2026")
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    # From 09:00 (checked in early: counted from the start) to 11:50 → 2 h 50 min → 3 h.
    assert rows == [["姓名", "证件号码", "活动名称", "服务日期", "服务时长(小时)"],
                    ["林晓雨", "11010519491231002X", "八一慰问文艺演出", "2026-12-08", 3]]
    [entry] = [e for e in _audit(sessions, "export") if e.subject == "service_hours"]
    assert "1行" in entry.detail and "证件号码完整" in entry.detail

    # Like every export, not for a read-only account.
    assert client_for("reader").get("/console/hours/export.xlsx?year=2026").status_code == 403


def test_times_and_numbers_typed_on_a_chinese_keyboard_are_understood(world):
    _app, sessions, client_for = world
    _create(client_for("admin"), start="９：３０", end="11.00", capacity="２０")
    activity = _only_activity(sessions)
    assert (activity.starts_at.hour, activity.starts_at.minute, activity.ends_at.hour, activity.capacity) == (1, 30, 3, 20)
