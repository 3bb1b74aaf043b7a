"""Holiday reminders: lead times, moved to the working day before, 春节 2027 and 2028."""

from __future__ import annotations

from datetime import date

import pytest

from sqlalchemy import select

from models.outbox import STAFF, Recipient
from models.reminders import ReminderRule
from scheduler.runner import run_due
from services.reminder_rules import add_reminder_rule
from services.holiday_calendar import RuleError
from services.workdays import set_override
from tests.scheduler_helpers import at, outbox_rows, run_days, seeded_sessions, send_days


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


def _chunjie_rows(sessions, year):
    return [r for r in outbox_rows(sessions, kind="holiday_reminder")
            if r.payload["event"] == "chunjie" and r.payload["event_date"].startswith(str(year))]


def test_chunjie_2027_reminders_move_to_the_working_day_before(sessions):
    run_days(sessions, date(2027, 1, 10), date(2027, 2, 6), only=("calendar_reminders",))
    rows = _chunjie_rows(sessions, 2027)
    # 春节 2027-02-06 is a Saturday. 21 days before = Sat 01-16 → Fri 01-15; 7 days = Sat 01-30 → Fri 01-29;
    # 1 day = Fri 02-05, 除夕: a statutory holiday (国务院令第795号) even before the 2027 notice → Thu 02-04.
    assert send_days(rows) == [date(2027, 1, 15), date(2027, 1, 29), date(2027, 2, 4)]
    assert {r.to for r in rows} == {STAFF}
    assert [r.payload["text"] for r in sorted(rows, key=lambda r: r.not_before)] == [
        f"春节（2月6日）还有{n}天，请安排走访慰问和拥军优属活动。" for n in (22, 8, 2)]


def test_an_override_moves_the_reminder_again(sessions):
    with sessions.begin() as s:
        set_override(s, date(2027, 2, 4), False, "春节调休放假")
    run_days(sessions, date(2027, 1, 10), date(2027, 2, 6), only=("calendar_reminders",))
    assert send_days(_chunjie_rows(sessions, 2027)) == [date(2027, 1, 15), date(2027, 1, 29), date(2027, 2, 3)]


def test_chunjie_2028_early_year_reminders(sessions):
    run_days(sessions, date(2027, 12, 1), date(2028, 1, 26), only=("calendar_reminders",))
    # 春节 2028-01-26 (a Wednesday): 01-05, 01-19, and 01-24 (01-25 is 除夕) — right after 元旦, whose
    # own reminders (14 and 3 days before 2028-01-01) come on Fri 12-17 (Sat 12-18 moved back) and Wed 12-29.
    assert send_days(_chunjie_rows(sessions, 2028)) == [date(2028, 1, 5), date(2028, 1, 19), date(2028, 1, 24)]
    yuandan = [r for r in outbox_rows(sessions, kind="holiday_reminder") if r.payload["event"] == "yuandan"]
    assert send_days(yuandan) == [date(2027, 12, 17), date(2027, 12, 29)]


def test_running_twice_for_the_same_moment_sends_nothing_twice(sessions):
    run_due(sessions, at("2027-01-15T09:00"))
    first = len(outbox_rows(sessions))
    run_due(sessions, at("2027-01-15T09:00"))
    run_due(sessions, at("2027-01-15T09:30"))
    assert len(outbox_rows(sessions)) == first > 0


def test_yearly_tasks_reach_staff(sessions):
    run_days(sessions, date(2027, 11, 25), date(2027, 12, 31), only=("calendar_reminders",))
    tasks = outbox_rows(sessions, kind="yearly_task")
    events = sorted((r.payload["event"], local) for r, local in zip(tasks, send_days(tasks)))
    assert {e for e, _ in events} >= {"task_annual_report", "task_leaders_meeting_2"}
    report_days = send_days([r for r in tasks if r.payload["event"] == "task_annual_report"])
    assert report_days == [date(2027, 12, 1), date(2027, 12, 24)]  # 30 and 7 days before 12-31
    assert all(r.to == STAFF for r in tasks)


def test_reminder_to_all_followers_is_a_mass_send(sessions):
    with sessions.begin() as s:
        add_reminder_rule(s, code="bayi_all", calendar_code="bayi", lead_days="1", audience="all",
                          message="明天是{name}，向人民子弟兵致敬！")
    run_days(sessions, date(2027, 7, 29), date(2027, 7, 31), only=("calendar_reminders",))
    rows = [r for r in outbox_rows(sessions) if r.to == Recipient.everyone()]
    assert len(rows) == 1 and rows[0].kind == "publicity" and rows[0].channel == "mass"
    assert rows[0].payload["text"] == "明天是八一建军节，向人民子弟兵致敬！"


@pytest.mark.parametrize("changes, message", [
    (dict(lead_days="21,x"), "提前天数"),
    (dict(message="还有{weeks}周"), "占位符"),
    (dict(audience="everyone"), "对象"),
    (dict(audience="tag", tag_id=None), "标签"),
    (dict(calendar_code="nope"), "日历规则"),
    (dict(send_time="25:00"), "时间"),
])
def test_bad_reminder_rules_are_refused(sessions, changes, message):
    fields = dict(code="r1", calendar_code="bayi", lead_days="3", audience="staff", message="{name}将至")
    fields.update(changes)
    with sessions() as s:
        with pytest.raises(RuleError, match=message):
            add_reminder_rule(s, **fields)
        s.rollback()
        assert s.scalar(select(ReminderRule.id).where(ReminderRule.code == "r1")) is None


def test_reminders_to_volunteers_and_visit_teams_reach_each_person_once(sessions):
    from models.visits import VisitTeam, VisitTeamMember
    from tests.test_visit_plans import add_volunteer

    with sessions.begin() as s:
        add_volunteer(s, "东镇", "oVolunteerA0001")
        add_volunteer(s, "东镇", "oVolunteerB0001")
        add_volunteer(s, "东镇", "oVolunteerPend01", approved=False)
        team = VisitTeam(town="东镇", name="东镇走访组", active=True)
        s.add(team)
        s.flush()
        s.add(VisitTeamMember(team_id=team.id, staff_openid="oStaffMember001"))
        add_reminder_rule(s, code="bayi_volunteers", calendar_code="bayi", lead_days="3", audience="volunteers",
                          message="{name}快到了，欢迎参加拥军活动。")
        add_reminder_rule(s, code="bayi_teams", calendar_code="bayi", lead_days="3", audience="visit_teams",
                          message="{name}走访请准备。")
    run_days(sessions, date(2027, 7, 28), date(2027, 7, 30), only=("calendar_reminders",))
    rows = outbox_rows(sessions)
    volunteers = sorted(r.recipient for r in rows if r.payload["text"].startswith("八一建军节快到了"))
    teams = sorted(str(r.to) for r in rows if r.payload["text"].startswith("八一建军节走访"))
    assert volunteers == ["oVolunteerA0001", "oVolunteerB0001"]  # approved volunteers only
    assert teams == ["oStaffMember001", "role:staff"]
    assert send_days([r for r in rows if r.recipient == "oVolunteerA0001"]) == [date(2027, 7, 29)]  # Thu 07-29
