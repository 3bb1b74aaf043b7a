"""The publicity calendar: yearly items published at their time as mass sends.

WeChat lets a 服务号 reach each follower by mass send at most 4 times a natural month;
the delivery side keeps the real count, the calendar plans inside it: an item that would
be the fifth mass send of its month to the same audience is skipped and logged.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import Channel, OutboxMessage, OutboxStatus
from models.notice import Notice
from models.publicity import PublicityCampaign, PublicityItem
from models.reminders import Audience, ReminderRule
from services.holiday_calendar import _safe_date, occurrences_in_year
from services.local_time import local_date, local_instant
from services.scheduled_pushes import Push, already_queued

log = logging.getLogger("services.publicity_calendar")
MONTHLY_MASS_BUDGET = 4


@dataclass(frozen=True)
class DueItem:
    item: PublicityItem
    day: date
    due: datetime


def publish_day(item: PublicityItem, year: int) -> date | None:
    if item.calendar_rule is not None:
        found = occurrences_in_year(item.calendar_rule, year)
        return found[0].start + timedelta(days=item.offset_days) if found else None
    if item.month and item.day:
        return _safe_date(year, item.month, item.day)
    return None


def enabled_items(session: Session) -> list[PublicityItem]:
    return list(
        session.scalars(
            select(PublicityItem)
            .join(PublicityCampaign, PublicityCampaign.id == PublicityItem.campaign_id)
            .where(PublicityItem.enabled.is_(True), PublicityCampaign.enabled.is_(True))
            .order_by(PublicityItem.id)
        )
    )


def due_items(session: Session, since: datetime, until: datetime) -> list[DueItem]:
    found = []
    for item in enabled_items(session):
        for year in range(local_date(since).year, local_date(until).year + 1):
            day = publish_day(item, year)
            if day is None:
                continue
            due = local_instant(day, item.publish_time)
            if since < due <= until:
                found.append(DueItem(item, day, due))
    return sorted(found, key=lambda d: (d.due, d.item.id))


def push_for(due: DueItem) -> Push:
    item = due.item
    return Push(
        kind="publicity",
        recipient=item.audience,
        channel=Channel.MASS,
        payload={"title": item.title, "text": f"【{item.title}】{item.content}"},
        key=f"publicity:{item.id}:{item.audience}:{due.day.isoformat()}",
        not_before=due.due,
    )


def mass_sends_in_month(session: Session, recipient: str, day: date) -> int:
    """Publicity already queued (not cancelled) for this audience or everyone, in day's month."""
    first = day.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    start, end = local_instant(first, "00:00"), local_instant(after, "00:00")
    return session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.kind == "publicity",
            or_(OutboxMessage.recipient == recipient, OutboxMessage.recipient == "all"),
            OutboxMessage.not_before >= start,
            OutboxMessage.not_before < end,
            OutboxMessage.status != OutboxStatus.CANCELLED,
        )
    ) or 0


def within_budget(session: Session, push: Push, day: date) -> bool:
    if already_queued(session, push.key):
        return True  # counted already; sending it again is a no-op
    used = mass_sends_in_month(session, push.recipient, day)
    if used >= MONTHLY_MASS_BUDGET:
        log.warning("publicity item skipped: the month's mass-send budget is used",
                    extra={"key": push.key, "used": used, "month": day.strftime("%Y-%m")})
        return False
    return True


def add_notice(session: Session, due: DueItem) -> None:
    """The published item also shows under 最新通知 in the chat."""
    session.add(Notice(title=due.item.title, body=due.item.content, published_at=due.due))


def planned_mass_sends(session: Session, year: int) -> Counter:
    """Mass sends the calendar plans per month (publicity items + reminders to followers)."""
    months: Counter = Counter()
    for item in enabled_items(session):
        day = publish_day(item, year)
        if day is not None:
            months[day.month] += 1
    mass_rules = session.scalars(
        select(ReminderRule).where(
            ReminderRule.enabled.is_(True), ReminderRule.audience.in_([Audience.ALL_FOLLOWERS, Audience.TAG])
        )
    )
    for rule in mass_rules:
        for event in occurrences_in_year(rule.calendar_rule, year):
            for lead in rule.leads:
                months[(event.start - timedelta(days=lead)).month] += 1
    return months
