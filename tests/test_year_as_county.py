"""The 双拥 year as a county lives it: a fresh database installed on a given day, `run-jobs`
once a day from there to the end of 2027. Plans exist exactly when the county expects them
(two campaigns: 元旦春节 and 八一, plus the next 两节 in late December), overdue only after a
window, nothing sent stale, one reminder per event and lead time."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from models import OutboxStatus
from models.visits import VisitPlan
from scheduler.runner import run_due
from services.local_time import local_date
from services.push_validity import render_countdown
from tests.scheduler_helpers import at, outbox_rows, seeded_sessions
from tests.test_visit_plans import add_household, add_volunteer

LAST_DAY = date(2027, 12, 31)
# When a county expects each plan: 7 days before its window (两节 2027: 1/15; 八一: 7/20;
# 两节 2028: 腊八 2028-01-04), or at once when installed inside the planning period.
PLANNED_ON = {("liangjie", 2027): date(2027, 1, 8), ("bayi", 2027): date(2027, 7, 13),
              ("liangjie", 2028): date(2027, 12, 28)}
WINDOW_END = {("liangjie", 2027): date(2027, 2, 20), ("bayi", 2027): date(2027, 8, 1)}


def _live_year(db_url, installed: date):
    """Run daily at 10:00 (after the 08:30 plans, 09:00 reminders, 10:00 publicity);
    returns (sessions, first day each plan existed, first day each plan was closed)."""
    seen, closed = {}, {}
    with seeded_sessions(db_url) as sessions:
        with sessions.begin() as s:
            add_volunteer(s, "东镇", "oVolunteerYear01")
            add_household(s, "东镇", "MARTYR_F")
            add_household(s, "东镇", "FAMILY")
            add_household(s, "东镇", "VETERAN")  # not visited by default
        day = installed
        while day <= LAST_DAY:
            run_due(sessions, at(f"{day.isoformat()}T10:00"))
            with sessions() as s:
                for plan in s.scalars(select(VisitPlan)):
                    seen.setdefault((plan.season, plan.year), day)
                    if plan.overdue_flagged_at is not None:
                        closed.setdefault((plan.season, plan.year), day)
            day += timedelta(days=1)
        yield sessions, seen, closed


# Installed before every planning day (each plan made on its day); inside the 两节 window before
# 春节 (2/4: the plan at once, the 春节 reminders still ahead) and on 春节 itself (2/6: they are past);
# inside the 八一 window after the 两节 one closed (7/25). Installed on 1/20 (days into the 两节 window,
# weeks before 春节) is the PostgreSQL run below: each installation day is lived through once.
@pytest.mark.parametrize("installed", [date(2026, 12, 1), date(2027, 2, 4), date(2027, 2, 6), date(2027, 7, 25)])
def test_a_year_of_daily_runs_from_installation(sqlite_url, installed):
    _check_year(sqlite_url, installed)



def _check_year(url: str, installed: date) -> None:
    for sessions, seen, closed in _live_year(url, installed):
        expected = {plan: max(day, installed) for plan, day in PLANNED_ON.items()
                    if installed <= WINDOW_END.get(plan, LAST_DAY)}
        assert seen == expected
        assert closed == {plan: end + timedelta(days=1) for plan, end in WINDOW_END.items() if plan in expected}
        _assert_nothing_stale(sessions)
        _assert_one_reminder_per_event_and_lead(sessions)
        lists = [r for r in outbox_rows(sessions, kind="visit_plan") if r.recipient == "oVolunteerYear01"]
        assert len(lists) == len(expected)  # one list per plan, with the 2 households (not the 退役军人 one)
        assert all("请您走访以下2户" in r.payload["text"] and r.payload["text"].count("编号") == 3 for r in lists)


def _assert_nothing_stale(sessions) -> None:
    for row in outbox_rows(sessions):
        if row.status == OutboxStatus.EXPIRED or row.expires_at is None:
            continue
        assert row.not_before < row.expires_at, (row.idempotency_key, row.not_before, row.expires_at)
        timer = row.payload.get("countdown")
        if timer:  # the wording is right for the day it is queued for
            event_day = date.fromisoformat(timer["date"])
            days = (event_day - local_date(row.not_before)).days
            assert days > 0 and row.payload["text"] == render_countdown(timer["message"], timer["name"], event_day, days)


def _assert_one_reminder_per_event_and_lead(sessions) -> None:
    sent: dict[tuple, list[int]] = {}
    for row in outbox_rows(sessions):
        if row.kind in ("holiday_reminder", "yearly_task") and row.status != OutboxStatus.EXPIRED and "event" in row.payload:
            key = (row.payload["event"], row.payload.get("event_date"), row.recipient)
            sent.setdefault(key, []).append(local_date(row.not_before).toordinal())
    for key, days in sent.items():
        assert len(days) == len(set(days)), key  # never two reminders of one event on one day
