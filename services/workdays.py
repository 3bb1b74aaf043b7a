"""Statutory working days: chinese-calendar, wrapped.

chinese-calendar only knows the years whose 国务院 notice it ships (2004–2026 in
1.11.0). For any other year we fall back to Monday–Friday minus the statutory holidays
of 国务院令第795号 (services.statutory_holidays, known for every year) and warn once, so
a job never crashes on an unpublished year and never counts 元旦 or 除夕 as a working day;
staff enter the notice's 调休 swaps in `workday_override`, which wins over both.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import WorkdayOverride
from services.statutory_holidays import is_statutory_holiday

log = logging.getLogger("services.workdays")
MAX_SEARCH_DAYS = 40  # the longest run of non-working days is ~9 (春节); far more than enough


class WorkCalendar:
    """Working-day questions for one session; overrides are read once per year asked."""

    def __init__(self, session: Session):
        self._session = session
        self._overrides: dict[int, dict[date, bool]] = {}
        self._warned: set[int] = set()

    def is_workday(self, day: date) -> bool:
        override = self._overrides_for(day.year).get(day)
        if override is not None:
            return override
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            self._warn_unknown(day.year)
            return day.weekday() < 5 and not is_statutory_holiday(day)

    def statutory_known(self, year: int) -> bool:
        """Does chinese-calendar ship this year's 调休 notice?"""
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def swaps_known(self, year: int) -> bool:
        """The year's 调休 swaps are in: from chinese-calendar or entered by staff."""
        return self.statutory_known(year) or bool(self._overrides_for(year))

    def on_or_before(self, day: date) -> date:
        """The day itself when it is a working day, else the working day before it."""
        for back in range(MAX_SEARCH_DAYS):
            candidate = day - timedelta(days=back)
            if self.is_workday(candidate):
                return candidate
        return day  # a calendar with no working day at all: keep the day rather than loop

    def add_workdays(self, start: date, count: int) -> date:
        """The `count`-th working day after `start` (SLA clocks: "1 working day")."""
        day = start
        while count > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                count -= 1
        return day

    def _overrides_for(self, year: int) -> dict[date, bool]:
        if year not in self._overrides:
            rows = self._session.execute(
                select(WorkdayOverride.day, WorkdayOverride.is_workday).where(
                    WorkdayOverride.day.between(date(year, 1, 1), date(year, 12, 31))
                )
            )
            self._overrides[year] = {row.day: row.is_workday for row in rows}
        return self._overrides[year]

    def _warn_unknown(self, year: int) -> None:
        if year not in self._warned:
            self._warned.add(year)
            log.warning(
                "the 调休 of this year are not in chinese-calendar; using Monday-Friday minus the "
                "statutory holidays plus the override table (enter the 国务院 调休 notice as overrides)",
                extra={"year": year},
            )


def set_override(session: Session, day: date, is_workday: bool, note: str | None = None) -> WorkdayOverride:
    """Mark a day as working (调休上班) or not (放假); replaces an earlier override of that day."""
    row = session.scalars(select(WorkdayOverride).where(WorkdayOverride.day == day)).first()
    if row is None:
        row = WorkdayOverride(day=day, is_workday=is_workday, note=note)
        session.add(row)
    else:
        row.is_workday, row.note = is_workday, note
    session.flush()
    return row


def clear_override(session: Session, day: date) -> bool:
    row = session.scalars(select(WorkdayOverride).where(WorkdayOverride.day == day)).first()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
