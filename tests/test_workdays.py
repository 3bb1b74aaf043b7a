"""Statutory working days: chinese-calendar where it knows the year, Monday–Friday plus
staff overrides where it does not (2027 today), never an exception."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from services.workdays import WorkCalendar, clear_override, set_override
from tests.scheduler_helpers import cli_env, run_cli, seeded_sessions


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


def test_2027_falls_back_to_weekdays_with_a_warning(session, caplog):
    work = WorkCalendar(session)
    with caplog.at_level(logging.WARNING, logger="services.workdays"):
        assert not work.statutory_known(2027)
        assert work.is_workday(date(2027, 2, 5))  # a Friday
        assert not work.is_workday(date(2027, 2, 6))  # a Saturday
        assert work.is_workday(date(2027, 2, 8))  # a Monday: the fallback cannot know the 春节 holiday
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].year == 2027  # once per year, not per question


def test_overrides_win_over_the_fallback_and_the_library(session):
    set_override(session, date(2027, 2, 8), False, "春节放假")
    set_override(session, date(2027, 2, 20), True, "调休上班")  # a Saturday
    set_override(session, date(2026, 2, 16), True, "值班")  # even over chinese-calendar
    work = WorkCalendar(session)
    assert not work.is_workday(date(2027, 2, 8))
    assert work.is_workday(date(2027, 2, 20))
    assert work.is_workday(date(2026, 2, 16))
    assert clear_override(session, date(2027, 2, 8))
    assert WorkCalendar(session).is_workday(date(2027, 2, 8))


def test_add_workdays_skips_weekends_and_holidays(session):
    work = WorkCalendar(session)
    assert work.add_workdays(date(2027, 1, 8), 1) == date(2027, 1, 11)  # Friday → Monday
    assert work.add_workdays(date(2026, 2, 13), 1) == date(2026, 2, 14)  # the 调休 Saturday


def test_workday_command_stores_an_override(sqlite_url, tmp_path):
    env = cli_env(sqlite_url, tmp_path)
    result = run_cli(["workday", "2027-02-08", "rest", "--note", "春节放假"], env)
    assert result.returncode == 0, result.stderr
    with seeded_sessions(sqlite_url) as sessions, sessions() as s:
        assert not WorkCalendar(s).is_workday(date(2027, 2, 8))
    bad = run_cli(["workday", "2027-02-30", "rest"], env)
    assert bad.returncode == 2 and "2027-02-30" in bad.stderr
