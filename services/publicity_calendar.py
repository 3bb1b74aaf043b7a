"""The publicity calendar: yearly items (and one-off ones, 建军100周年) published at their
time as mass sends, each valid to its day (a range: to its end) and never sent after.

WeChat lets a 服务号 reach each follower by mass send at most 4 times a natural month;
the delivery side keeps the real count, the calendar plans inside it: the built-in items
use at most PLANNED_PER_MONTH of them (one stays free for the county's own notices), and
an item that would be the fifth mass send of its month is skipped and logged.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import Channel, OutboxMessage, OutboxStatus, Recipient, RecipientKind
from models.notice import Notice
from models.publicity import PublicityCampaign, PublicityItem
from models.reminders import Audience, ReminderRule
from services.holiday_calendar import _safe_date, occurrences_in_year
from services.local_time import local_date, local_instant
from services.push_validity import end_of_day
from services.scheduled_pushes import Push, already_queued

log = logging.getLogger("services.publicity_calendar")
MONTHLY_MASS_BUDGET = 4
PLANNED_PER_MONTH = 3


@dataclass(frozen=True)
class DueItem:
    item: PublicityItem
    day: date
    due: datetime
    last_day: date  # valid through this day


def publish_day(item: PublicityItem, year: int) -> date | None:
    if item.year is not None and item.year != year:
        return None
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


def last_day(item: PublicityItem, day: date) -> date:
    """The last day an item published on `day` may still go out."""
    if item.calendar_rule is not None and item.calendar_rule.kind == "range":
        found = [o for o in occurrences_in_year(item.calendar_rule, day.year) if o.end is not None]
        if found:
            return max(found[0].end + timedelta(days=item.offset_days), day)
    if item.calendar_rule is None and item.end_month and item.end_day:
        end = _safe_date(day.year, item.end_month, item.end_day)
        return end if end >= day else _safe_date(day.year + 1, item.end_month, item.end_day)
    return day + timedelta(days=max(item.valid_days or 1, 1) - 1)


def items_in_year(session: Session, year: int) -> list[DueItem]:
    """Every item's publication in a year, a one-off item replacing a yearly one of its day."""
    found = []
    for item in enabled_items(session):
        day = publish_day(item, year)
        if day is not None:
            found.append(DueItem(item, day, local_instant(day, item.publish_time), last_day(item, day)))
    one_off = {(d.day, d.item.audience) for d in found if d.item.year is not None}
    kept = [d for d in found if d.item.year is not None or (d.day, d.item.audience) not in one_off]
    return sorted(kept, key=lambda d: (d.due, d.item.id))


def due_items(session: Session, since: datetime, until: datetime) -> list[DueItem]:
    found = []
    for year in range(local_date(since).year, local_date(until).year + 1):
        found += [d for d in items_in_year(session, year) if since < d.due <= until]
    return sorted(found, key=lambda d: (d.due, d.item.id))


def push_for(due: DueItem) -> Push:
    item = due.item
    return Push(
        kind="publicity",
        recipient=audience_recipient(item.audience),
        channel=Channel.MASS,
        payload={"title": item.title, "text": f"【{item.title}】{item.content}"},
        key=f"publicity:{item.id}:{item.audience}:{due.day.isoformat()}",
        not_before=due.due,
        expires_at=end_of_day(due.last_day),
    )


def audience_recipient(audience: str) -> Recipient:
    """A calendar item's audience setting ("all" or "tag:<id>", checked when it is saved) as a recipient."""
    return Recipient.everyone() if audience == "all" else Recipient.tag(audience.removeprefix("tag:"))


def mass_sends_in_month(session: Session, recipient: Recipient, day: date) -> int:
    """Publicity already queued (not cancelled) for this audience or everyone, in day's month."""
    first = day.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    start, end = local_instant(first, "00:00"), local_instant(after, "00:00")
    return session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.kind == "publicity",
            or_(OutboxMessage.addressed_to(recipient), OutboxMessage.recipient_kind == RecipientKind.ALL),
            OutboxMessage.not_before >= start,
            OutboxMessage.not_before < end,
            OutboxMessage.status.not_in([OutboxStatus.CANCELLED, OutboxStatus.EXPIRED]),
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


@dataclass(frozen=True)
class PlannedSend:
    day: date
    title: str
    source: str  # "宣传日历" or "节日提醒"
    text: str


def mass_send_plan(session: Session, year: int) -> list[PlannedSend]:
    """Every mass send the calendar plans in a year (publicity items + reminders to followers)."""
    sends = [PlannedSend(d.day, d.item.title, "宣传日历", d.item.content) for d in items_in_year(session, year)]
    mass_rules = session.scalars(
        select(ReminderRule).where(
            ReminderRule.enabled.is_(True), ReminderRule.audience.in_([Audience.ALL_FOLLOWERS, Audience.TAG])
        )
    )
    for rule in mass_rules:
        for event in occurrences_in_year(rule.calendar_rule, year):
            for lead in rule.leads:
                sends.append(PlannedSend(event.start - timedelta(days=lead), event.name, "节日提醒", rule.message))
    return sorted(sends, key=lambda p: (p.day, p.title))


def plan_lines(session: Session, year: int) -> list[str]:
    """The year's plan as staff print it (`python -m bot publicity-plan YEAR`)."""
    plan = mass_send_plan(session, year)
    lines = [f"{year}年群发计划（每月最多{MONTHLY_MASS_BUDGET}次，日历占用不超过{PLANNED_PER_MONTH}次）"]
    for month in range(1, 13):
        sends = [p for p in plan if p.day.month == month]
        flag = "  超出！" if len(sends) > PLANNED_PER_MONTH else ""
        lines.append(f"{month}月：{len(sends)}次，余{MONTHLY_MASS_BUDGET - len(sends)}次{flag}")
        lines += [f"  {p.day.isoformat()} {p.title}（{p.source}）" for p in sends]
    return lines


def planned_mass_sends(session: Session, year: int) -> Counter:
    """Mass sends the calendar plans per month (publicity items + reminders to followers)."""
    return Counter(p.day.month for p in mass_send_plan(session, year))



# --- staff edits (the console's 宣传日历) ------------------------------------------------------

# Wording of internal plans (方案, 通知 to member units): followers must never read it.
INTERNAL_WORDING = ("成员单位", "认真学习", "贯彻落实", "请各", "各有关单位", "各乡镇", "抓好落实", "遵照执行",
                    "认真组织", "高度重视")
TITLE_LIMIT = 30
CONTENT_LIMIT = 600


class ItemError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


def internal_wording(text: str) -> list[str]:
    return [word for word in INTERNAL_WORDING if word in (text or "")]


def _small_int(value, low: int, high: int) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def change_item(session: Session, item: PublicityItem, form: dict) -> PublicityItem:
    """Apply the console form to an item; ItemError names each wrong field and changes nothing."""
    from services.local_time import check_hhmm

    errors: dict[str, str] = {}
    title = (form.get("title") or "").strip()
    content = (form.get("content") or "").replace("\r\n", "\n").strip()
    if not title or len(title) > TITLE_LIMIT:
        errors["title"] = f"标题请填写，不超过{TITLE_LIMIT}个字"
    if not content or len(content) > CONTENT_LIMIT:
        errors["content"] = f"内容请填写，不超过{CONTENT_LIMIT}个字"
    found = internal_wording(title + content)
    if found:
        errors["content"] = (f"内容里有“{'”“'.join(found)}”这类内部工作用语。宣传是发给群众看的，"
                             "请写群众能参加什么、能得到什么帮助")
    changes: dict = {}
    if item.calendar_rule is not None:
        offset = _small_int(form.get("offset_days", "0"), -60, 60)
        if offset is None:
            errors["date"] = "提前或推后的天数应在-60到60之间"
        changes["offset_days"] = offset
    else:
        month, day = _small_int(form.get("month"), 1, 12), _small_int(form.get("day"), 1, 31)
        if month is None or day is None or _invalid_day(month, day):
            errors["date"] = "请填写有效的月、日"
        end_month, end_day = form.get("end_month", "").strip(), form.get("end_day", "").strip()
        if end_month or end_day:
            end_month, end_day = _small_int(end_month, 1, 12), _small_int(end_day, 1, 31)
            if end_month is None or end_day is None or _invalid_day(end_month, end_day):
                errors["date"] = "结束日期请填写有效的月、日，或都不填"
        else:
            end_month = end_day = None
        changes.update(month=month, day=day, end_month=end_month, end_day=end_day)
    valid_days = _small_int(form.get("valid_days", "1"), 1, 31)
    if valid_days is None:
        errors["valid_days"] = "有效天数应为1到31"
    audience = (form.get("audience") or "all").strip()
    if audience == "tag":
        tag = (form.get("tag_id") or "").strip()
        audience = f"tag:{tag}" if tag.isdigit() and len(tag) <= 9 else ""
        if not audience:
            errors["audience"] = "发给标签时请填写数字标签编号"
    elif audience != "all":
        errors["audience"] = "请选择发送对象"
    try:
        publish_time = check_hhmm((form.get("publish_time") or "").strip())
    except ValueError as exc:
        errors["publish_time"] = str(exc)
        publish_time = item.publish_time
    if errors:
        raise ItemError(errors)
    item.title, item.content, item.valid_days, item.audience = title, content, valid_days, audience
    item.publish_time, item.enabled = publish_time, bool(form.get("enabled"))
    for name, value in changes.items():
        setattr(item, name, value)
    session.flush()
    return item


def _invalid_day(month: int, day: int) -> bool:
    try:
        date(2024, month, day)
    except ValueError:
        return True
    return False


def item_dates(item: PublicityItem, years: tuple[int, ...]) -> list[tuple[date, date]]:
    """(publish day, last valid day) of an item in each year it appears."""
    found = []
    for year in years:
        day = publish_day(item, year)
        if day is not None:
            found.append((day, last_day(item, day)))
    return found


def all_items(session: Session) -> list[PublicityItem]:
    return list(session.scalars(select(PublicityItem).order_by(PublicityItem.id)))
