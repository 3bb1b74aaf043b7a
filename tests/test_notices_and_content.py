"""Services behind the console's 通知, 宣传日历, 政策问答 and 日历提醒 pages.

A notice reaches exactly its audience (checked through the sandbox delivery), the month's
mass-send budget counts what is already planned, the 调休 form reads the 国务院 notice's
lines, FAQ edits answer the next chat question, and publicity texts stay public wording.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from models import Recipient
from models import OutboxMessage, OutboxStatus
from models.database import make_engine, make_session_factory
from models.notice import Notice
from models.publicity import PublicityItem
from models.visits import VisitTeam, VisitTeamMember
from models.volunteer_team import VolunteerTeam, VolunteerTeamMember
from scheduler.runner import ensure_seeded
from scheduler.time_travel import deliver_as_of
from services import beneficiaries, calendar_seed, faq, notice_audiences, notice_sending, notices
from services import publicity_calendar, reminder_rules, volunteers, workday_notice
from services.beneficiaries import BeneficiaryDetails
from services.notice_sending import Draft, NoticeError
from services.volunteers import VolunteerDetails
from services.workdays import WorkCalendar
from tests.conftest import make_settings

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 Tuesday in Shanghai
HOME, AWAY = "城关镇", "青石镇"
VOL_HOME, VOL_AWAY, VOL_PENDING = "oVolHome00000001", "oVolAway00000001", "oVolPending00001"
BEN_HOME, BEN_PENDING = "oBenHome00000001", "oBenPending00001"


@pytest.fixture
def sessions(db_url):
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    ensure_seeded(factory)
    yield factory
    engine.dispose()


def people(sessions) -> dict[str, int]:
    """Two approved volunteers (two 乡镇), one pending; one verified 优抚对象 contact, one pending;
    a volunteer team and a visit team with the home volunteer."""
    with sessions.begin() as s:
        vols = {}
        for openid, town in ((VOL_HOME, HOME), (VOL_AWAY, AWAY), (VOL_PENDING, HOME)):
            vols[openid] = volunteers.register(s, openid, VolunteerDetails(
                "测试志愿者", "13900001111", town, "河口村", ["care"], "any"), NOW)
        volunteers.approve(s, vols[VOL_HOME], NOW, actor="staff:test")
        volunteers.approve(s, vols[VOL_AWAY], NOW, actor="staff:test")
        for openid, verify in ((BEN_HOME, True), (BEN_PENDING, False)):
            person = beneficiaries.register(s, openid, BeneficiaryDetails(
                "self", "测试优抚", ["VETERAN"], "13800002222", HOME, "河口村", "河口村1号", None), NOW)
            if verify:
                beneficiaries.verify(s, person, NOW, actor="staff:test")
        team = VolunteerTeam(name="城关镇拥军服务队", town=HOME)
        s.add(team)
        s.flush()
        s.add(VolunteerTeamMember(team_id=team.id, volunteer_id=vols[VOL_HOME].id))
        visit = VisitTeam(town=HOME, name="城关镇走访组", active=True)
        s.add(visit)
        s.flush()
        s.add(VisitTeamMember(team_id=visit.id, volunteer_id=vols[VOL_HOME].id))
        return {"team": team.id, "visit": visit.id}


def draft(**changes) -> Draft:
    values = dict(title="冬季送温暖", text="12月10日上午9点在县退役军人服务站发放慰问品。", audience="volunteers",
                  day="2026-12-05", time="09:30")
    values.update(changes)
    return Draft(**values)


def deliver(sessions, db_url, tmp_path, at: datetime) -> None:
    deliver_as_of(sessions, make_settings(db_url, tmp_path), at)


def recipients_sent(sessions, notice_id: int) -> set[str]:
    with sessions() as s:
        return {r.recipient for r in notice_sending.rows_of(s, notice_id) if r.status == OutboxStatus.SENT}


# --- audiences --------------------------------------------------------------------------------


def test_each_audience_reaches_its_people_and_nobody_else(sessions):
    ids = people(sessions)
    with sessions() as s:
        def who(kind, ref=None):
            found = notice_audiences.recipients(s, notice_audiences.parse(kind, ref))
            return {r if r.is_mass else r.value for r in found}

        assert who("all") == {Recipient.everyone()}
        assert who("volunteers") == {VOL_HOME, VOL_AWAY}
        assert who("beneficiaries") == {BEN_HOME}
        assert who("volunteer_team", str(ids["team"])) == {VOL_HOME}
        assert who("visit_team", str(ids["visit"])) == {VOL_HOME}
        assert who("town", HOME) == {VOL_HOME, BEN_HOME}
        assert who("town", AWAY) == {VOL_AWAY}


def test_a_township_account_addresses_only_its_own_township(sessions):
    ids = people(sessions)
    with sessions() as s:
        for kind, ref in (("all", None), ("volunteers", None), ("town", AWAY)):
            with pytest.raises(notice_audiences.AudienceError):
                audience = notice_audiences.parse(kind, ref, town_scope=HOME)
                notice_audiences.check_scope(s, audience, HOME)
        audience = notice_audiences.parse("volunteer_team", str(ids["team"]), town_scope=HOME)
        notice_audiences.check_scope(s, audience, HOME)  # its own team: allowed


# --- a notice from draft to delivery --------------------------------------------------------------


def test_a_scheduled_notice_to_volunteers_reaches_them_at_its_time_and_nobody_else(sessions, db_url, tmp_path):
    people(sessions)
    with sessions.begin() as s:
        checked = notice_sending.check(s, draft(), NOW)
        notice = notice_sending.schedule(s, checked, by="wangke", now=NOW, mass_limit=4)
        notice_id = notice.id
    assert notice.recipients == 2
    deliver(sessions, db_url, tmp_path, NOW + timedelta(hours=1))
    assert recipients_sent(sessions, notice_id) == set()  # not before its time
    deliver(sessions, db_url, tmp_path, datetime(2026, 12, 5, 1, 31, tzinfo=timezone.utc))
    assert recipients_sent(sessions, notice_id) == {VOL_HOME, VOL_AWAY}
    with sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient.in_([VOL_PENDING, BEN_HOME, BEN_PENDING])))
        assert not [r for r in rows if r.idempotency_key.startswith(f"notice:{notice_id}:")]
        text = notice_sending.rows_of(s, notice_id)[0].payload["text"]
        assert text == "【冬季送温暖】\n12月10日上午9点在县退役军人服务站发放慰问品。"
        report = notice_sending.report(s, notice_id)
        assert (report.total, report.sent, report.held, report.failed) == (2, 2, 0, 0)
        # A notice to volunteers is not a 最新通知 for everyone.
        assert notice_id not in [n.id for n in notices.latest(s, datetime(2026, 12, 6, tzinfo=timezone.utc))]


def test_the_report_counts_sent_held_and_failed(sessions):
    people(sessions)
    with sessions.begin() as s:
        notice = notice_sending.schedule(s, notice_sending.check(s, draft(audience="town", audience_ref=HOME,
                                                                          send_now=True), NOW),
                                         by="wangke", now=NOW, mass_limit=4)
        rows = notice_sending.rows_of(s, notice.id)
        from services import outbox
        outbox.transition(s, rows[0], OutboxStatus.HELD, NOW, note="window closed")
        outbox.transition(s, rows[1], OutboxStatus.FAILED, NOW, errcode=43004)
        report = notice_sending.report(s, notice.id)
    assert (report.total, report.held, report.failed, report.sent) == (2, 1, 1, 0)


def test_cancelling_stops_what_has_not_gone_out(sessions, db_url, tmp_path):
    people(sessions)
    with sessions.begin() as s:
        notice = notice_sending.schedule(s, notice_sending.check(s, draft(), NOW), by="wangke", now=NOW, mass_limit=4)
        assert notice_sending.cancel(s, notice, NOW) == 2
        notice_id = notice.id
    deliver(sessions, db_url, tmp_path, datetime(2026, 12, 6, 1, 0, tzinfo=timezone.utc))
    assert recipients_sent(sessions, notice_id) == set()


def test_a_notice_to_all_followers_is_one_mass_send_and_shows_under_latest_notices(sessions):
    with sessions.begin() as s:
        notice = notice_sending.schedule(s, notice_sending.check(s, draft(audience="all", link="https://example.org/a"),
                                                                 NOW), by="wangke", now=NOW, mass_limit=4)
        rows = notice_sending.rows_of(s, notice.id)
        assert [(r.to, r.kind, r.payload["url"]) for r in rows] == [(Recipient.everyone(), "publicity", "https://example.org/a")]
        assert rows[0].payload["text"].endswith("\n详情：https://example.org/a")
        later = datetime(2026, 12, 6, tzinfo=timezone.utc)
        assert notice.id in [n.id for n in notices.latest(s, later)]


def test_wrong_fields_are_named_and_nothing_is_added(sessions):
    with sessions() as s:
        with pytest.raises(NoticeError) as caught:
            notice_sending.check(s, Draft(title="x" * 31, text="", link="ftp://x", audience="",
                                          day="2026-11-30", time="09:00"), NOW)
        assert set(caught.value.errors) == {"title", "text", "link", "audience", "when"}
        with pytest.raises(NoticeError) as caught:
            notice_sending.check(s, draft(text="长" * 1000), NOW)
        assert "最多1000个字" in caught.value.errors["text"]
        assert s.query(Notice).count() == 0


def test_an_audience_without_anyone_is_refused(sessions):
    with sessions() as s:
        with pytest.raises(NoticeError, match="没有绑定微信"):
            notice_sending.schedule(s, notice_sending.check(s, draft(audience="beneficiaries"), NOW),
                                    by="wangke", now=NOW, mass_limit=4)


# --- the monthly mass-send budget ----------------------------------------------------------------


def test_the_month_budget_counts_queued_sends_and_the_calendar_still_to_come(sessions):
    """July 2027: 双拥展示月 (7/20) is the calendar's one item; two console notices fill the rest."""
    with sessions.begin() as s:
        july = date(2027, 7, 1)
        budget = notice_sending.month_budget(s, july, 4, NOW)
        assert [t.split("（")[0] for t in budget.planned] == ["双拥展示月"] and budget.left == 3
        for day in ("2027-07-02", "2027-07-03", "2027-07-04"):
            notice_sending.schedule(s, notice_sending.check(s, draft(audience="all", day=day), NOW),
                                    by="wangke", now=NOW, mass_limit=4)
        budget = notice_sending.month_budget(s, july, 4, NOW)
        assert (budget.used, budget.left) == (4, 0)
        with pytest.raises(NoticeError, match="群发已经用完"):
            notice_sending.schedule(s, notice_sending.check(s, draft(audience="all", day="2027-07-05"), NOW),
                                    by="wangke", now=NOW, mass_limit=4)
        # Notices to people one by one use no mass send.
        assert notice_sending.month_budget(s, july, 4, NOW).used == 4


# --- 调休 ------------------------------------------------------------------------------------------


def test_the_state_council_notice_is_read_line_by_line():
    parsed = workday_notice.parse(
        "2027-02-07 上班\n2027年2月20日（星期六）上班 春节调休\n2月10日至17日放假调休，共8天\n\n"
        "10月1日至7日放假\n2027-02-30 上班\nhello\n2027-10-09 放假", 2027)
    assert parsed.errors == ["第6行“2027-02-30 上班”：2027年2月30日不是有效日期",
                             "第7行“hello”：看不懂日期，请写成“2027-02-07上班”或“2027-02-10至2027-02-17放假”"]
    days = {d.day: d.is_workday for d in parsed.days}
    assert days[date(2027, 2, 7)] is True and days[date(2027, 2, 20)] is True
    assert [d for d in days if not days[d] and d.month == 2] == [date(2027, 2, d) for d in range(10, 18)]
    assert len([d for d in days if d.month == 10]) == 8
    assert next(d for d in parsed.days if d.day == date(2027, 2, 20)).note == "春节调休"


def test_contradicting_and_odd_lines_are_reported():
    parsed = workday_notice.parse("2027-02-07 上班\n2027-02-07 放假\n2027-05-03 上班\n2027-02-01 至 2027-03-01 放假", 2027)
    assert any("两行矛盾" in e for e in parsed.errors)
    assert any("不应超过" in e for e in parsed.errors)
    assert parsed.warnings == ["2027-05-03（星期一）本来就是工作日，写“上班”不会改变什么，请核对"]


def test_saved_overrides_change_the_working_days(sessions):
    with sessions.begin() as s:
        parsed = workday_notice.parse("2031-02-08 上班\n2031-02-10 放假", 2031)
        assert workday_notice.save(s, parsed.days) == 2
    with sessions() as s:
        work = WorkCalendar(s)
        assert work.is_workday(date(2031, 2, 8)) and not work.is_workday(date(2031, 2, 10))
        assert "已录入" in workday_notice.status_of_year(s, 2031)


# --- FAQ -----------------------------------------------------------------------------------------------


def test_an_faq_answer_without_who_when_where_is_flagged():
    assert len(faq.answer_warnings("按规定办理。")) == 4
    complete = "请到县退役军人服务站（人民路8号一楼大厅）办理，工作日 8:30–17:00，电话 0571-88886666。"
    assert faq.answer_warnings(complete) == []
    # The chat adds the contact card under every answer: what it gives is not missing.
    card = {"office": "县退役军人服务中心", "phone": "0000-12345678", "hours": "工作日 上午8:30-12:00"}
    assert faq.answer_warnings("按规定办理。", card) == []
    assert faq.answer_warnings("按规定办理。", {"office": "县退役军人事务局"}) == [
        "没有联系电话", "没有办理地点或地址", "没有办公时间（例如 工作日8:30–12:00）"]


def test_an_faq_edit_answers_the_next_question(sessions):
    with sessions.begin() as s:
        entry = faq.save(s, None, topic="冬季取暖补贴", keywords="取暖补贴，烤火费、 取暖", answer="到服务站办理。",
                         position="1", enabled=True)
        assert entry.keywords == "取暖补贴,烤火费,取暖"
    with sessions.begin() as s:
        assert faq.match(s, "烤火费什么时候发").answer == "到服务站办理。"
        faq.save(s, s.get(type(entry), entry.id), topic="冬季取暖补贴", keywords="烤火费", answer="新答复：电话 12345。",
                 position="1", enabled=True)
    with sessions() as s:
        assert faq.match(s, "烤火费什么时候发").answer == "新答复：电话 12345。"


def test_a_wrong_faq_form_changes_nothing(sessions):
    with sessions.begin() as s:
        faq.save(s, None, topic="测试话题甲", keywords="测试", answer="到服务站。", position="2", enabled=True)
    with sessions() as s:
        with pytest.raises(faq.FaqError) as caught:
            faq.save(s, None, topic="测试话题甲", keywords="x", answer="", position="abc", enabled=True)
        assert set(caught.value.errors) == {"topic", "answer", "position"}


# --- publicity ----------------------------------------------------------------------------------------


def test_the_seeded_publicity_texts_are_written_for_the_public(sessions):
    for code, title, content, *_ in calendar_seed.CITY_ITEMS:
        assert publicity_calendar.internal_wording(title + content) == [], code
    with sessions() as s:  # and what a migrated, seeded database would publish
        published = publicity_calendar.enabled_items(s)
        assert published and all(publicity_calendar.internal_wording(i.title + i.content) == [] for i in published)


def test_internal_plan_wording_is_refused_when_editing(sessions):
    with sessions() as s:
        item = s.scalars(select(PublicityItem).where(PublicityItem.code == "city_knowledge")).one()
        form = {"title": item.title, "content": "请各成员单位认真学习落实。", "month": "4", "day": "15",
                "valid_days": "7", "audience": "all", "publish_time": "10:00", "enabled": "1"}
        with pytest.raises(publicity_calendar.ItemError) as caught:
            publicity_calendar.change_item(s, item, form)
        assert "成员单位" in caught.value.errors["content"]
        publicity_calendar.change_item(s, item, form | {"content": "关心身边的军人军属。", "day": "16"})
        assert publicity_calendar.item_dates(item, (2027,)) == [(date(2027, 4, 16), date(2027, 4, 22))]


# --- reminder rules ------------------------------------------------------------------------------------


def test_reminder_lead_times_are_edited_and_checked(sessions):
    with sessions.begin() as s:
        rule = s.scalars(select(reminder_rules.ReminderRule).where(reminder_rules.ReminderRule.code == "bayi_staff")).one()
        reminder_rules.change_reminder_rule(s, rule, lead_days="10，3", message="{name}还有{days}天。",
                                            send_time="8:30", enabled=True)
        assert (rule.lead_days, rule.send_time) == ("10,3", "08:30")
        sends = reminder_rules.upcoming(s, WorkCalendar(s), rule, (2027,))
        assert [lead for _day, _send, lead in sends] == [10, 3]
        with pytest.raises(reminder_rules.RuleError):
            reminder_rules.change_reminder_rule(s, rule, lead_days="abc", message="x", send_time="09:00", enabled=True)
