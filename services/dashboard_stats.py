"""The console's 工作台 beyond the work-queue counts: requests by status and category, the
oldest waiting requests and 人工 chats, and the next holiday's visit-plan progress.

Every figure is a GROUP BY or a short, indexed, column-only query (the dashboard is
benchmarked with 100,000 requests): no row is loaded to be counted. `town` limits
everything to one 乡镇/街道 (None: the county). 人工 chats are requests of category
"handover" in the database, but not help requests to staff: they are left out of the
request figures and listed on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.beneficiary import Household
from models.help_request import OPEN_STATUSES, HelpRequest, RequestStatus, Urgency
from models.visits import PlannedVisit, VisitPlan, VisitStatus
from services.help_requests import CATEGORIES
from services.local_time import local_date, local_instant
from services.work_queue import HANDOVER

OLDEST_LIMIT = 5


def _in_town(query, column, town: str | None):
    return query if town is None else query.where(column == town)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart and one row of the table under it."""

    key: str
    label: str
    count: int


def open_by_status(session: Session, town: str | None = None) -> list[Bar]:
    """Open help requests per status, in workflow order (zeros kept, so the table never jumps)."""
    query = (select(HelpRequest.status, func.count())
             .where(HelpRequest.status.in_(OPEN_STATUSES), HelpRequest.category != HANDOVER)
             .group_by(HelpRequest.status))
    found = {RequestStatus(status): count for status, count in session.execute(_in_town(query, HelpRequest.town, town))}
    return [Bar(status.value, status.label, found.get(status, 0)) for status in OPEN_STATUSES]


def year_start(now: datetime) -> datetime:
    """1 January, 00:00 Shanghai time, of the year `now` falls in."""
    return local_instant(date(local_date(now).year, 1, 1), "00:00")


def year_by_category(session: Session, now: datetime, town: str | None = None) -> list[Bar]:
    """Help requests submitted this (Shanghai) year per category, every category shown."""
    query = (select(HelpRequest.category, func.count())
             .where(HelpRequest.created_at >= year_start(now), HelpRequest.category != HANDOVER)
             .group_by(HelpRequest.category))
    found: dict[str, int] = {}
    for code, count in session.execute(_in_town(query, HelpRequest.town, town)):
        key = code if code in CATEGORIES else "other"  # an unknown code counts as 其他, never shown raw
        found[key] = found.get(key, 0) + count
    return [Bar(code, label, found.get(code, 0)) for code, label in CATEGORIES.items() if code != HANDOVER]


def waited_words(since: datetime | None, now: datetime) -> str:
    """How long something has waited, the way staff say it: 3天2小时, 5小时, 20分钟."""
    if since is None:
        return ""
    minutes = max(0, int((now - since).total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时"
    return f"{minutes}分钟" if minutes else "刚刚"


@dataclass(frozen=True)
class Waiting:
    id: int
    number: str
    category: str  # the code; the template shows its label
    urgent: bool
    since: datetime  # submitted, or the chat's user message waiting for an answer
    waited: str
    overdue: bool


def oldest_waiting_requests(session: Session, now: datetime, town: str | None = None,
                            limit: int = OLDEST_LIMIT) -> list[Waiting]:
    """待受理 requests, most urgent first: overdue ones (earliest due time) lead the list."""
    query = (select(HelpRequest.id, HelpRequest.number, HelpRequest.category, HelpRequest.urgency,
                    HelpRequest.created_at, HelpRequest.due_at)
             .where(HelpRequest.status == RequestStatus.SUBMITTED, HelpRequest.category != HANDOVER)
             .order_by(HelpRequest.due_at.asc().nulls_last(), HelpRequest.created_at, HelpRequest.id)
             .limit(limit))
    return [
        Waiting(row.id, row.number, row.category, row.urgency == Urgency.URGENT, row.created_at,
                waited_words(row.created_at, now), row.due_at is not None and row.due_at <= now)
        for row in session.execute(_in_town(query, HelpRequest.town, town))
    ]


def oldest_waiting_chats(session: Session, now: datetime, town: str | None = None,
                         limit: int = OLDEST_LIMIT) -> list[Waiting]:
    """人工 chats whose latest message is the user's, longest waiting first."""
    query = (select(HelpRequest.id, HelpRequest.number, HelpRequest.category, HelpRequest.urgency,
                    HelpRequest.waiting_since)
             .where(HelpRequest.category == HANDOVER, HelpRequest.waiting_since.is_not(None))
             .order_by(HelpRequest.waiting_since, HelpRequest.id)
             .limit(limit))
    return [
        Waiting(row.id, row.number, row.category, row.urgency == Urgency.URGENT, row.waiting_since,
                waited_words(row.waiting_since, now), False)
        for row in session.execute(_in_town(query, HelpRequest.town, town))
    ]


@dataclass(frozen=True)
class VisitProgress:
    plan_id: int
    name: str
    holiday_date: date
    window_start: date
    window_end: date
    planned: int  # households on the list (cancelled ones are no longer on it)
    visited: int
    overdue: int

    @property
    def remaining(self) -> int:
        return self.planned - self.visited

    @property
    def percent(self) -> int:
        return round(100 * self.visited / self.planned) if self.planned else 0


def next_visit_plan(session: Session, today: date) -> VisitPlan | None:
    """The nearest plan whose window has not ended (the one being visited now, else the next)."""
    return session.scalars(
        select(VisitPlan).where(VisitPlan.window_end >= today)
        .order_by(VisitPlan.window_start, VisitPlan.id).limit(1)
    ).first()


def visit_progress(session: Session, today: date, town: str | None = None) -> VisitProgress | None:
    plan = next_visit_plan(session, today)
    if plan is None:
        return None
    query = (select(PlannedVisit.status, func.count())
             .where(PlannedVisit.plan_id == plan.id, PlannedVisit.status != VisitStatus.CANCELLED)
             .group_by(PlannedVisit.status))
    if town is not None:
        query = query.join(Household, Household.id == PlannedVisit.household_id).where(Household.town == town)
    counts = {VisitStatus(status): count for status, count in session.execute(query)}
    return VisitProgress(
        plan_id=plan.id, name=plan.name, holiday_date=plan.holiday_date,
        window_start=plan.window_start, window_end=plan.window_end,
        planned=sum(counts.values()),
        visited=counts.get(VisitStatus.DONE, 0),
        overdue=counts.get(VisitStatus.OVERDUE, 0),
    )
