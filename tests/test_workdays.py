"""Statutory working days: chinese-calendar where it knows the year; where it does not (2027
today), Monday–Friday minus the statutory holidays of 国务院令第795号, plus staff overrides;
never an exception."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest

from services.workdays import WorkCalendar, clear_override, set_override
from models.outbox import STAFF
from tests.scheduler_helpers import cli_env, seeded_sessions


@pytest.fixture
def session(db_url):
    with seeded_sessions(db_url) as sessions:
        with sessions() as s:
            yield s


def test_known_year_follows_the_state_council_schedule(session):
    work = WorkCalendar(session)
    assert work.is_workday(date(2026, 2, 14))  # a Saturday made a working day (调休)
    assert not work.is_workday(date(2026, 2, 16))  # a Monday inside the 春节 holiday
    assert work.on_or_before(date(2026, 2, 20)) == date(2026, 2, 14)  # back over the whole holiday


def test_2027_falls_back_to_weekdays_minus_statutory_holidays_with_a_warning(session, caplog):
    work = WorkCalendar(session)
    with caplog.at_level(logging.WARNING, logger="services.workdays"):
        assert not work.statutory_known(2027)
        assert not work.is_workday(date(2027, 1, 1))  # 元旦, a Friday
        assert work.is_workday(date(2027, 2, 4))  # a Thursday
        assert not work.is_workday(date(2027, 2, 5))  # 除夕, a Friday: statutory since 国务院令第795号
        assert not work.is_workday(date(2027, 2, 8))  # 初三, a Monday
        assert work.is_workday(date(2027, 2, 9))  # 初四: how the holiday joins weekends comes with the notice
        assert not work.is_workday(date(2027, 10, 1))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].year == 2027  # once per year, not per question


def test_overrides_win_over_the_fallback_and_the_library(session):
    set_override(session, date(2027, 2, 9), False, "春节放假")
    set_override(session, date(2027, 2, 20), True, "调休上班")  # a Saturday
    set_override(session, date(2026, 2, 16), True, "值班")  # even over chinese-calendar
    work = WorkCalendar(session)
    assert not work.is_workday(date(2027, 2, 9))
    assert work.is_workday(date(2027, 2, 20))
    assert work.is_workday(date(2026, 2, 16))
    assert clear_override(session, date(2027, 2, 9))
    assert WorkCalendar(session).is_workday(date(2027, 2, 9))


def test_add_workdays_skips_weekends_and_holidays(session):
    work = WorkCalendar(session)
    assert work.add_workdays(date(2027, 1, 8), 1) == date(2027, 1, 11)  # Friday → Monday
    assert work.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 4)  # over 元旦 2027 and the weekend
    assert work.add_workdays(date(2026, 2, 13), 1) == date(2026, 2, 14)  # the 调休 Saturday


def test_workday_command_stores_an_override(sqlite_url, tmp_path, cli):
    env = cli_env(sqlite_url, tmp_path)
    result = cli(["workday", "2027-02-09", "rest", "--note", "春节放假"], env)
    assert result.exit_code == 0, result.stderr
    with seeded_sessions(sqlite_url) as sessions, sessions() as s:
        assert not WorkCalendar(s).is_workday(date(2027, 2, 9))
    bad = cli(["workday", "2027-02-30", "rest"], env)
    assert bad.exit_code == 2 and "2027-02-30" in bad.stderr


# The days off of 国务院令第795号 for 2027–2032 (domain.md §1.6 table: 除夕 to 初三, 清明, 端午, 中秋).
STATUTORY = {
    2027: ["01-01", "02-05", "02-06", "02-07", "02-08", "04-05", "05-01", "05-02", "06-09", "09-15",
           "10-01", "10-02", "10-03"],
    2028: ["01-01", "01-25", "01-26", "01-27", "01-28", "04-04", "05-01", "05-02", "05-28", "10-03",
           "10-01", "10-02"],
    2029: ["01-01", "02-12", "02-13", "02-14", "02-15", "04-04", "05-01", "05-02", "06-16", "09-22",
           "10-01", "10-02", "10-03"],
    2030: ["01-01", "02-02", "02-03", "02-04", "02-05", "04-05", "05-01", "05-02", "06-05", "09-12",
           "10-01", "10-02", "10-03"],
    2031: ["01-01", "01-22", "01-23", "01-24", "01-25", "04-05", "05-01", "05-02", "06-24",
           "10-01", "10-02", "10-03"],
    2032: ["01-01", "02-10", "02-11", "02-12", "02-13", "04-04", "05-01", "05-02", "06-12", "09-19",
           "10-01", "10-02", "10-03"],
}


@pytest.mark.parametrize("year", sorted(STATUTORY))
def test_statutory_holidays_are_never_working_days(session, year):
    from services.statutory_holidays import statutory_holidays

    days = {date.fromisoformat(f"{year}-{md}") for md in STATUTORY[year]}
    assert set(statutory_holidays(year)) == days
    work = WorkCalendar(session)
    for day in days:
        assert not work.is_workday(day), day
        # "1 working day" from the day before never lands on the holiday
        assert work.add_workdays(day - timedelta(days=1), 1) not in days


def test_a_request_before_yuandan_is_not_escalated_on_the_holiday(db_url):
    from scheduler.runner import run_due
    from services import help_requests
    from models.help_request import Urgency
    from services.help_requests import RequestDetails
    from tests.scheduler_helpers import at, outbox_rows

    with seeded_sessions(db_url) as sessions:
        with sessions.begin() as s:
            help_requests.submit(s, "oRequester000001", RequestDetails(category="living", description="咨询优待证",
                                                                       urgency=Urgency.NORMAL, for_whom="self",
                                                                       contact_name="张三", contact_phone=None),
                                 at("2026-12-31T15:00"))
        for moment in ("2027-01-01T16:00", "2027-01-03T16:00", "2027-01-04T14:45"):
            run_due(sessions, at(moment), only=("request_deadlines",))
        assert outbox_rows(sessions, kind="request_escalation") == []  # 元旦 and the weekend are not working days
        run_due(sessions, at("2027-01-04T15:00"), only=("request_deadlines",))
        assert len(outbox_rows(sessions, kind="request_escalation")) == 1


def test_staff_are_asked_once_in_december_for_next_years_swaps(db_url):
    from scheduler.runner import run_due
    from tests.scheduler_helpers import at, outbox_rows, run_days

    with seeded_sessions(db_url) as sessions:
        run_days(sessions, date(2026, 11, 28), date(2026, 12, 31), only=("calendar_reminders",))
        rows = outbox_rows(sessions, key_prefix="workday_swaps_missing:")
        assert [(r.idempotency_key, r.to) for r in rows] == [("workday_swaps_missing:2027", STAFF)]
        assert rows[0].payload["text"].startswith("2027年的放假调休安排还没有录入")
        with sessions.begin() as s:  # staff enter the 2028 notice before December 2027
            set_override(s, date(2028, 1, 29), True, "春节调休上班")
        run_due(sessions, at("2027-12-01T09:00"), only=("calendar_reminders",))
        assert len(outbox_rows(sessions, key_prefix="workday_swaps_missing:")) == 1
