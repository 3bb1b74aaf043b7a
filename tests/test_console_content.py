"""The console's 通知, 宣传日历, 政策问答 and 日历提醒 pages through Flask's test client:
the permission matrix (role × county / own 乡镇 / other 乡镇), and what staff do on each page."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from models import OutboxStatus
from models.calendar import WorkdayOverride
from models.faq import FaqEntry
from models.notice import Notice
from models.publicity import PublicityItem
from models.reminders import ReminderRule
from models.staff_account import AuditEntry
from scheduler.time_travel import deliver_as_of
from services import faq, notice_sending
from tests.console_kit import NOW, add_staff, csrf_token, post, runtime_of
from tests.test_notices_and_content import AWAY, HOME, VOL_AWAY, VOL_HOME, people
from tests.wechat_peer import text_xml

ALL = {"admin", "officer", "viewer"}
ACTORS = {"admin", "officer"}
RECORD, COUNTY = "record", "county"  # 404 outside the record's 乡镇 / for every township account

MATRIX = {
    "看通知列表": ("GET", "/console/notices", ALL, None, None),
    "写通知": ("GET", "/console/notices/new", ACTORS, None, None),
    "预览通知": ("POST", "/console/notices/new", ACTORS, None,
             {"title": "通知", "text": "内容", "audience": "town", "town": HOME, "when": "now", "valid_days": "7",
              "op": "preview"}),
    "看通知详情": ("GET", "/console/notices/{notice}", ALL, RECORD, None),
    "撤回通知": ("POST", "/console/notices/{notice}/cancel", ACTORS, RECORD, {}),
    "看政策问答": ("GET", "/console/faq", ALL, None, None),
    "新增政策问答": ("GET", "/console/faq/new", ACTORS, COUNTY, None),
    "修改政策问答": ("GET", "/console/faq/{faq}", ACTORS, COUNTY, None),
    "保存政策问答": ("POST", "/console/faq/{faq}", ACTORS, COUNTY,
               {"topic": "矩阵话题", "keywords": "矩阵", "answer": "到服务站。", "position": "5", "enabled": "1"}),
    "停用政策问答": ("POST", "/console/faq/{faq}/toggle", ACTORS, COUNTY, {}),
    "看宣传日历": ("GET", "/console/publicity", ALL, None, None),
    "修改宣传": ("GET", "/console/publicity/{item}", ACTORS, COUNTY, None),
    "保存宣传": ("POST", "/console/publicity/{item}", ACTORS, COUNTY, {"title": ""}),
    "看日历提醒": ("GET", "/console/calendar", ALL, None, None),
    "修改日历规则": ("GET", "/console/calendar/rules/bayi", ACTORS, COUNTY, None),
    "保存日历规则": ("POST", "/console/calendar/rules/bayi", ACTORS, COUNTY,
               {"name": "八一建军节", "month": "8", "day": "1", "enabled": "1"}),
    "修改提醒规则": ("GET", "/console/calendar/reminders/{reminder}", ACTORS, COUNTY, None),
    "保存提醒规则": ("POST", "/console/calendar/reminders/{reminder}", ACTORS, COUNTY,
               {"lead_days": "14,3", "message": "{name}还有{days}天。", "send_time": "09:00", "enabled": "1"}),
    "看放假调休": ("GET", "/console/calendar/workdays", ALL, None, None),
    "预览放假调休": ("POST", "/console/calendar/workdays", ACTORS, COUNTY, {"text": "2027-02-07 上班", "op": "preview"}),
    "删除放假调休": ("POST", "/console/calendar/workdays/2027-02-07/clear", ACTORS, COUNTY, {}),
}


@pytest.fixture
def world(console, sqlite_url):
    app, sessions, client_for = console(sqlite_url)
    ids = people(sessions)
    with sessions.begin() as s:
        checked = notice_sending.check(s, notice_sending.Draft(
            title="冬季送温暖", text="欢迎参加。", audience="town", audience_ref=HOME, day="2026-12-20", time="09:00"), NOW)
        ids["notice"] = notice_sending.schedule(s, checked, by="seed", now=NOW, mass_limit=4).id
        ids["faq"] = s.scalars(select(FaqEntry.id).order_by(FaqEntry.id)).first()
        ids["item"] = s.scalars(select(PublicityItem.id).order_by(PublicityItem.id)).first()
        ids["reminder"] = s.scalars(select(ReminderRule.id).where(ReminderRule.code == "bayi_staff")).one()
    for role in ALL:
        for area, town in (("county", None), ("home", HOME), ("away", AWAY)):
            add_staff(sessions, f"{role}_{area}", role, town)
    return app, sessions, client_for, ids


def expected(roles: set[str], scope: str | None, role: str, area: str) -> int | str:
    if role not in roles:
        return 403
    if (scope == RECORD and area == "away") or (scope == COUNTY and area != "county"):
        return 404
    return "allowed"


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize("area", ["county", "home", "away"])
def test_each_role_and_area_gets_what_the_matrix_says(world, role, area):
    _app, _sessions, client_for, ids = world
    client = client_for(f"{role}_{area}")
    token = csrf_token(client, "/console/me")
    wrong = []
    for what, (method, template, roles, scope, form) in MATRIX.items():
        path = template.format(**ids)
        response = client.get(path) if method == "GET" else client.post(path, data={**form, "csrf_token": token})
        want, got = expected(roles, scope, role, area), response.status_code
        ok = (got < 400 or (got == 400 and method == "POST")) if want == "allowed" else got == want
        if not ok:
            wrong.append(f"{what}: expected {want}, got {got}")
    assert not wrong, f"{role}/{area}:\n" + "\n".join(wrong)


def test_the_menu_shows_the_new_pages_to_every_role(world):
    _app, _sessions, client_for, _ids = world
    html = client_for("viewer_county").get("/console/").get_data(as_text=True)
    for label in ("通知", "政策问答", "日历提醒"):
        assert f">{label}</a>" in html


# --- 通知 --------------------------------------------------------------------------------------------


def audits(sessions, action: str) -> list[AuditEntry]:
    with sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_notice_composed_and_scheduled_in_the_console_reaches_volunteers_only(world, tmp_path):
    app, sessions, client_for, ids = world
    client = client_for("officer_county")
    form = {"title": "学雷锋志愿服务", "text": "3月5日上午9点，县退役军人服务站集合。\n请带好志愿者马甲。",
            "audience": "volunteers", "when": "later", "day": "2027-03-01", "time": "08:30", "valid_days": "3"}
    preview = post(client, "/console/notices/new", form | {"op": "preview"}, token_from="/console/notices/new")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "【学雷锋志愿服务】\n3月5日上午9点，县退役军人服务站集合。\n请带好志愿者马甲。" in html
    assert "共2人" in html and "2027-03-01 08:30" in html
    with sessions() as s:
        assert s.scalar(select(Notice.id).where(Notice.title == "学雷锋志愿服务")) is None  # a preview sends nothing

    sent = post(client, "/console/notices/new", form | {"op": "send"}, token_from="/console/notices/new")
    assert sent.status_code == 302
    with sessions() as s:
        notice = s.scalars(select(Notice).where(Notice.title == "学雷锋志愿服务")).one()
    assert [a.subject_id for a in audits(sessions, "notice.send")] == [notice.id]

    deliver_as_of(sessions, runtime_of(app).settings, datetime(2027, 3, 1, 0, 31, tzinfo=timezone.utc))
    with sessions() as s:
        rows = notice_sending.rows_of(s, notice.id)
        assert {r.recipient: r.status for r in rows} == {VOL_HOME: OutboxStatus.SENT, VOL_AWAY: OutboxStatus.SENT}
    detail = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "已发送</th><td class=\"num\">2" in detail
    listing = client.get("/console/notices").get_data(as_text=True)
    assert "学雷锋志愿服务" in listing and "志愿者（已通过审核）" in listing


def test_a_wrong_notice_comes_back_filled_in_with_the_reasons(world):
    _app, sessions, client_for, _ids = world
    client = client_for("officer_county")
    response = post(client, "/console/notices/new", {"title": "", "text": "保留的内容", "audience": "town",
                                                     "when": "later", "day": "2020-01-01", "time": "9:00",
                                                     "valid_days": "7", "op": "send"}, token_from="/console/notices/new")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "请填写标题" in html and "请选择具体的队伍或乡镇" in html and "发送时间已经过去" in html
    assert ">保留的内容</textarea>" in html
    assert audits(sessions, "notice.send") == []


def test_a_township_officer_sends_to_its_own_township_only(world):
    _app, _sessions, client_for, _ids = world
    client = client_for("officer_home")
    page = client.get("/console/notices/new").get_data(as_text=True)
    assert 'value="all"' not in page and 'value="volunteers"' not in page
    base = {"title": "通知", "text": "内容", "when": "now", "valid_days": "7", "op": "send"}
    refused = post(client, "/console/notices/new", base | {"audience": "all"}, token_from="/console/notices/new")
    assert refused.status_code == 400 and "乡镇账号只能发给" in refused.get_data(as_text=True)
    refused = post(client, "/console/notices/new", base | {"audience": "town", "town": AWAY},
                   token_from="/console/notices/new")
    assert refused.status_code == 400
    done = post(client, "/console/notices/new", base | {"audience": "town", "town": HOME}, token_from="/console/notices/new")
    assert done.status_code == 302


def test_the_month_budget_is_shown_before_scheduling(world):
    _app, _sessions, client_for, _ids = world
    html = client_for("officer_county").get("/console/notices/new").get_data(as_text=True)
    assert "2026年12月群发次数" in html and "每月最多4次" in html


def test_cancelling_a_notice_in_the_console(world):
    _app, sessions, client_for, ids = world
    client = client_for("officer_county")
    response = post(client, f"/console/notices/{ids['notice']}/cancel", token_from=f"/console/notices/{ids['notice']}")
    assert response.status_code == 302
    with sessions() as s:
        assert {r.status for r in notice_sending.rows_of(s, ids["notice"])} == {OutboxStatus.CANCELLED}
    assert "已撤回" in client.get(f"/console/notices/{ids['notice']}").get_data(as_text=True)
    assert len(audits(sessions, "notice.cancel")) == 1


# --- 政策问答 ---------------------------------------------------------------------------------------------


def test_an_faq_answer_edited_in_the_console_answers_the_next_chat_message(world, plain_peer):
    app, sessions, client_for, _ids = world
    client = client_for("officer_county")
    response = post(client, "/console/faq/new", {"topic": "冬季取暖补贴", "keywords": "烤火费，取暖补贴",
                                                 "answer": "请咨询服务站。", "position": "3", "enabled": "1"},
                    token_from="/console/faq/new")
    assert response.status_code == 302
    listed = client.get("/console/faq").get_data(as_text=True)
    # The chat adds the contact card (phone, hours) under every answer: not flagged as missing.
    assert "冬季取暖补贴" in listed and "没有联系电话" not in listed
    reply = plain_peer.reply_text(plain_peer.post(app.test_client(), text_xml("烤火费什么时候发", "oAsker00000009")).data)
    assert "请咨询服务站。" in reply
    with sessions() as s:
        entry_id = s.scalars(select(FaqEntry.id).where(FaqEntry.topic == "冬季取暖补贴")).one()
    answer = "县退役军人服务站（人民路8号一楼大厅），工作日 8:30–17:00，电话 0571-88886666。"
    post(client, f"/console/faq/{entry_id}", {"topic": "冬季取暖补贴", "keywords": "烤火费", "answer": answer,
                                             "position": "3", "enabled": "1"}, token_from="/console/faq")
    reply = plain_peer.reply_text(plain_peer.post(app.test_client(), text_xml("烤火费什么时候发", "oAsker00000010")).data)
    assert answer in reply
    post(client, f"/console/faq/{entry_id}/toggle", token_from="/console/faq")
    with sessions() as s:
        assert faq.match(s, "烤火费什么时候发") is None
    assert [a.action for a in audits(sessions, "faq.create")] == ["faq.create"]
    assert len(audits(sessions, "faq.update")) == 1 and len(audits(sessions, "faq.disable")) == 1


def test_a_wrong_faq_form_keeps_what_was_typed(world):
    _app, sessions, client_for, ids = world
    response = post(client_for("admin_county"), f"/console/faq/{ids['faq']}",
                    {"topic": "", "keywords": "a", "answer": "我写的答复", "position": "x"}, token_from="/console/faq")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "话题请填写" in html and ">我写的答复</textarea>" in html


# --- 宣传日历 ---------------------------------------------------------------------------------------------


def test_publicity_items_are_listed_with_this_and_next_years_dates_and_budget(world):
    _app, _sessions, client_for, _ids = world
    html = client_for("viewer_county").get("/console/publicity").get_data(as_text=True)
    assert "2027-08-01" in html and "建军100周年" in html
    assert "2027年" in html and "每月群发次数" in html


def test_publicity_text_in_internal_wording_is_refused(world):
    _app, sessions, client_for, _ids = world
    with sessions() as s:
        item = s.scalars(select(PublicityItem).where(PublicityItem.code == "city_knowledge")).one()
    client = client_for("officer_county")
    form = {"title": item.title, "content": "请各成员单位认真学习落实。", "month": "4", "day": "15",
            "valid_days": "7", "audience": "all", "publish_time": "10:00", "enabled": "1"}
    refused = post(client, f"/console/publicity/{item.id}", form, token_from="/console/publicity")
    assert refused.status_code == 400 and "内部工作用语" in refused.get_data(as_text=True)
    saved = post(client, f"/console/publicity/{item.id}", form | {"content": "关心身边的军人军属。"},
                 token_from="/console/publicity")
    assert saved.status_code == 302
    with sessions() as s:
        assert s.get(PublicityItem, item.id).content == "关心身边的军人军属。"
    assert len(audits(sessions, "publicity.update")) == 1


# --- 日历提醒 ----------------------------------------------------------------------------------------------


def test_the_calendar_shows_this_and_next_years_dates(world):
    _app, _sessions, client_for, _ids = world
    html = client_for("viewer_county").get("/console/calendar").get_data(as_text=True)
    assert "2026年" in html and "2027年" in html
    assert "2027-08-01" in html and "八一建军节" in html and "14、3天" in html


def test_a_reminder_rule_edit_is_checked_and_saved(world):
    _app, sessions, client_for, ids = world
    client = client_for("officer_county")
    path = f"/console/calendar/reminders/{ids['reminder']}"
    refused = post(client, path, {"lead_days": "abc", "message": "x", "send_time": "09:00"}, token_from=path)
    assert refused.status_code == 400 and "提前天数" in refused.get_data(as_text=True)
    assert post(client, path, {"lead_days": "10,2", "message": "{name}还有{days}天。", "send_time": "08:30",
                               "enabled": "1"}, token_from=path).status_code == 302
    with sessions() as s:
        rule = s.get(ReminderRule, ids["reminder"])
        assert (rule.lead_days, rule.send_time) == ("10,2", "08:30")
    assert len(audits(sessions, "calendar.reminder")) == 1


def test_a_calendar_rule_edit_is_checked(world):
    _app, _sessions, client_for, _ids = world
    client = client_for("officer_county")
    path = "/console/calendar/rules/bayi"
    refused = post(client, path, {"name": "八一建军节", "month": "2", "day": "31", "enabled": "1"}, token_from=path)
    assert refused.status_code == 400 and "不是有效的公历日期" in refused.get_data(as_text=True)


def test_the_state_council_notice_is_previewed_then_saved(world):
    _app, sessions, client_for, _ids = world
    client = client_for("officer_county")
    text = "2027-02-07 上班\n2027-02-10 至 2027-02-17 放假 春节"
    preview = post(client, "/console/calendar/workdays?year=2027", {"text": text, "op": "preview"},
                   token_from="/console/calendar/workdays")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "2027-02-17" in html and "星期日" in html
    with sessions() as s:
        assert s.scalar(select(WorkdayOverride.id)) is None
    bad = post(client, "/console/calendar/workdays?year=2027", {"text": text + "\n2月30日 上班", "op": "save"},
               token_from="/console/calendar/workdays")
    assert bad.status_code == 400 and "不是有效日期" in bad.get_data(as_text=True)
    with sessions() as s:
        assert s.scalar(select(WorkdayOverride.id)) is None  # one bad line: nothing saved
    saved = post(client, "/console/calendar/workdays?year=2027", {"text": text, "op": "save"},
                 token_from="/console/calendar/workdays")
    assert saved.status_code == 302
    with sessions() as s:
        assert len(list(s.scalars(select(WorkdayOverride)))) == 9
    assert len(audits(sessions, "calendar.workdays")) == 1


def test_sending_the_same_notice_twice_schedules_it_once(world):
    _app, sessions, client_for, _ids = world
    client = client_for("officer_county")
    form = {"title": "重复点击", "text": "内容", "audience": "volunteers", "when": "now", "valid_days": "1", "op": "send"}
    first = post(client, "/console/notices/new", form, token_from="/console/notices/new")
    second = post(client, "/console/notices/new", form, token_from="/console/notices/new")
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    with sessions() as s:
        notices = list(s.scalars(select(Notice).where(Notice.title == "重复点击")))
        assert len(notices) == 1 and len(notice_sending.rows_of(s, notices[0].id)) == 2
    assert "没有重复发送" in client.get(second.headers["Location"]).get_data(as_text=True)


def test_a_township_account_sees_its_own_townships_notices_only(world):
    _app, sessions, client_for, ids = world
    with sessions.begin() as s:
        county = notice_sending.schedule(s, notice_sending.check(s, notice_sending.Draft(
            title="全县通知", text="内容", audience="volunteers", send_now=True), NOW), by="seed", now=NOW, mass_limit=4)
        county_id = county.id
    client = client_for("viewer_home")
    listing = client.get("/console/notices").get_data(as_text=True)
    assert "冬季送温暖" in listing and "全县通知" not in listing
    assert client.get(f"/console/notices/{county_id}").status_code == 404
    assert "全县通知" in client_for("viewer_county").get("/console/notices").get_data(as_text=True)
