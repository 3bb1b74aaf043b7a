"""Notices written in the console: checked, previewed as WeChat shows them, scheduled as pushes.

A notice is a `Notice` row plus one outbox row per recipient (key `notice:<id>:<recipient>`,
kind "publicity": a mass send to all followers, else a customer-service message that waits,
held, for a person's 48-hour window). The outbox and its delivery worker send them; nothing
here talks to WeChat. Mass sends to all followers count against WeChat's monthly limit.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import Channel, OutboxMessage, OutboxStatus, RecipientKind
from models.notice import Notice
from services import notice_audiences, outbox, publicity_calendar
from services.delivery_policy import CUSTOMER_SERVICE_TEXT_LIMIT
from services.local_time import local_date, local_instant
from services.notice_audiences import Audience
from services.scheduled_pushes import Push, already_queued, send

KIND = "publicity"
TITLE_LIMIT = 30
LINK_LIMIT = 300
TEXT_LIMIT = CUSTOMER_SERVICE_TEXT_LIMIT  # the whole message as the phone shows it
VALID_DAYS = (1, 3, 7, 14, 30)
MAX_DAYS_AHEAD = 366
_LINK = re.compile(r"https?://[^\s<>\"']+")
SUBJECT = "notice"


class NoticeError(ValueError):
    """What is wrong with a notice, per form field (Chinese, for staff)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


@dataclass
class Draft:
    title: str = ""
    text: str = ""
    link: str = ""
    audience: str = ""
    audience_ref: str = ""
    send_now: bool = False
    day: str = ""  # yyyy-mm-dd, Shanghai
    time: str = ""  # hh:mm
    valid_days: str = "7"


@dataclass(frozen=True)
class Checked:
    title: str
    text: str
    link: str | None
    audience: Audience
    send_at: datetime
    valid_until: datetime
    message: str  # what WeChat shows


def last_day(valid_until: datetime | None) -> date | None:
    """The last Shanghai day a notice may still be delivered (valid_until is the next midnight)."""
    return local_date(valid_until - timedelta(seconds=1)) if valid_until is not None else None


def render(title: str, text: str, link: str | None) -> str:
    """The message exactly as followers read it in WeChat (plain text; a link shows as a link)."""
    body = f"【{title.strip()}】\n{text.strip()}"
    return f"{body}\n详情：{link}" if link else body


def check(session: Session, draft: Draft, now: datetime, town_scope: str | None = None) -> Checked:
    """Every field checked at once: NoticeError names each wrong field, else the notice to send."""
    errors: dict[str, str] = {}
    title, text, link = draft.title.strip(), draft.text.strip(), draft.link.strip()
    if not title:
        errors["title"] = "请填写标题"
    elif len(title) > TITLE_LIMIT or "\n" in title:
        errors["title"] = f"标题请写成一行，不超过{TITLE_LIMIT}个字（现在{len(title)}个字）"
    if not text:
        errors["text"] = "请填写通知内容"
    if link and (len(link) > LINK_LIMIT or not _LINK.fullmatch(link)):
        errors["link"] = "链接应以http://或https://开头，不含空格"
    audience = None
    try:
        audience = notice_audiences.parse(draft.audience, draft.audience_ref, town_scope)
        notice_audiences.check_scope(session, audience, town_scope)
    except notice_audiences.AudienceError as error:
        errors["audience"] = str(error)
    send_at = _send_time(draft, now, errors)
    valid_days = int(draft.valid_days) if draft.valid_days in {str(d) for d in VALID_DAYS} else None
    if valid_days is None:
        errors["valid_days"] = "请选择有效期"
    message = render(title, text, link or None)
    if text and len(message) > TEXT_LIMIT:
        errors["text"] = f"通知共{len(message)}个字，微信消息最多{TEXT_LIMIT}个字，请删减"
    if errors:
        raise NoticeError(errors)
    valid_until = local_instant(local_date(send_at) + timedelta(days=valid_days), "00:00")
    return Checked(title, text, link or None, audience, send_at, valid_until, message)


def _send_time(draft: Draft, now: datetime, errors: dict[str, str]) -> datetime:
    if draft.send_now:
        return now
    try:
        day = date.fromisoformat(draft.day.strip())
        hour, minute = (int(p) for p in draft.time.strip().split(":"))
        at = local_instant(day, f"{hour:02d}:{minute:02d}")
    except (ValueError, TypeError):
        errors["when"] = "请填写发送日期和时间，例如2027-01-20和09:30，或选择“立即发送”"
        return now
    if at < now - timedelta(minutes=1):
        errors["when"] = "发送时间已经过去，请选择以后的时间，或选择“立即发送”"
    elif at > now + timedelta(days=MAX_DAYS_AHEAD):
        errors["when"] = "最多只能提前一年安排"
    return max(at, now)


# --- the monthly mass-send budget ----------------------------------------------------------


@dataclass
class MonthBudget:
    month: str  # "2027-01"
    limit: int
    queued: list[str] = field(default_factory=list)  # mass sends already in the outbox (titles)
    planned: list[str] = field(default_factory=list)  # publicity-calendar items still to come

    @property
    def used(self) -> int:
        return len(self.queued) + len(self.planned)

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)


def _month_bounds(day: date) -> tuple[datetime, datetime]:
    first = day.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    return local_instant(first, "00:00"), local_instant(after, "00:00")


def month_budget(session: Session, day: date, limit: int, now: datetime) -> MonthBudget:
    """The mass sends of day's month: queued ones (sent or waiting) and calendar items still to queue."""
    start, end = _month_bounds(day)
    budget = MonthBudget(day.strftime("%Y-%m"), limit)
    rows = session.execute(
        select(OutboxMessage.payload, OutboxMessage.idempotency_key).where(
            OutboxMessage.kind == KIND,
            OutboxMessage.recipient_kind.in_([RecipientKind.ALL, RecipientKind.TAG]),
            OutboxMessage.not_before >= start, OutboxMessage.not_before < end,
            OutboxMessage.status.not_in([OutboxStatus.CANCELLED, OutboxStatus.EXPIRED]),
        ).order_by(OutboxMessage.not_before)
    )
    budget.queued = [(payload or {}).get("title") or "群发" for payload, _key in rows]
    for due in publicity_calendar.items_in_year(session, day.year):
        if start <= due.due < end and due.due > now and not already_queued(session, publicity_calendar.push_for(due).key):
            budget.planned.append(f"{due.item.title}（宣传日历，{due.day.month}月{due.day.day}日）")
    return budget


def year_budgets(session: Session, year: int, limit: int, now: datetime) -> list[MonthBudget]:
    return [month_budget(session, date(year, month, 1), limit, now) for month in range(1, 13)]


# --- scheduling, cancelling, reporting -----------------------------------------------------------


DOUBLE_SUBMIT = timedelta(minutes=10)


def same_notice(session: Session, checked: Checked, by: str) -> Notice | None:
    """The same notice by the same person for (about) the same time: a second click, not a second notice."""
    return session.scalars(
        select(Notice).where(
            Notice.title == checked.title, Notice.body == checked.text, Notice.created_by == by[:40],
            Notice.audience == checked.audience.kind, Notice.cancelled_at.is_(None),
            Notice.audience_ref.is_(None) if checked.audience.ref is None else Notice.audience_ref == checked.audience.ref,
            Notice.published_at >= checked.send_at - DOUBLE_SUBMIT, Notice.published_at <= checked.send_at + DOUBLE_SUBMIT,
        ).order_by(Notice.id)
    ).first()


def schedule(session: Session, checked: Checked, *, by: str, now: datetime, mass_limit: int) -> Notice:
    """Add the notice and queue one push per recipient; refuse an empty audience or a spent budget.
    The same notice submitted twice (a double click, a reload) is scheduled once."""
    existing = same_notice(session, checked, by)
    if existing is not None:
        return existing
    recipients = notice_audiences.recipients(session, checked.audience)
    if not recipients:
        raise NoticeError({"audience": "这个对象里还没有绑定微信的人，通知发不出去"})
    if checked.audience.is_mass:
        budget = month_budget(session, local_date(checked.send_at), mass_limit, now)
        if budget.left <= 0:
            raise NoticeError({"when": f"{budget.month}的{budget.limit}次群发已经用完或已安排"
                                       "（可改到下个月，或停用该月的宣传日历条目）"})
    notice = Notice(title=checked.title, body=checked.text, link=checked.link, published_at=checked.send_at,
                    audience=checked.audience.kind, audience_ref=checked.audience.ref, recipients=len(recipients),
                    town=notice_audiences.town_of(session, checked.audience),
                    valid_until=checked.valid_until, created_by=by[:40])
    session.add(notice)
    session.flush()
    payload = {"title": checked.title, "text": checked.message}
    if checked.link:
        payload["url"] = checked.link
    for recipient in recipients:
        send(session, Push(KIND, recipient, payload, key=f"notice:{notice.id}:{recipient}", not_before=checked.send_at,
                           channel=Channel.MASS if recipient.is_mass else None, expires_at=checked.valid_until),
             now=now)
    return notice


def rows_of(session: Session, notice_id: int) -> list[OutboxMessage]:
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(f"notice:{notice_id}:", autoescape=True))
        .order_by(OutboxMessage.id)
    ))


def cancel(session: Session, notice: Notice, now: datetime) -> int:
    """Stop what has not gone out yet; returns how many pushes were stopped."""
    if notice.cancelled_at is not None:
        return 0
    waiting = [row for row in rows_of(session, notice.id) if row.status in outbox.WAITING]
    if not waiting and notice.published_at <= now:
        raise NoticeError({"cancel": "这条通知已经发出，无法撤回"})
    for row in waiting:
        outbox.transition(session, row, OutboxStatus.CANCELLED, now, note="notice cancelled in the console")
    notice.cancelled_at = now
    return len(waiting)


@dataclass(frozen=True)
class Report:
    total: int
    sent: int
    waiting: int  # not yet due, or being sent
    held: int  # waiting for the person's 48-hour window
    failed: int
    stopped: int  # cancelled or expired (never sent)


def report(session: Session, notice_id: int) -> Report:
    counts = Counter(session.scalars(
        select(OutboxMessage.status)
        .where(OutboxMessage.idempotency_key.startswith(f"notice:{notice_id}:", autoescape=True))
    ))
    return Report(
        total=sum(counts.values()),
        sent=counts[OutboxStatus.SENT],
        waiting=counts[OutboxStatus.PENDING] + counts[OutboxStatus.SENDING],
        held=counts[OutboxStatus.HELD],
        failed=counts[OutboxStatus.FAILED],
        stopped=counts[OutboxStatus.CANCELLED] + counts[OutboxStatus.EXPIRED],
    )


def console_notices(session: Session, *, page: int = 1, per_page: int = 50, scope=None) -> tuple[list[Notice], int]:
    """Notices written in the console (they have an author), newest send time first; `scope` limits
    them to an area (a WHERE clause on Notice.town)."""
    query = select(Notice).where(Notice.created_by.is_not(None))
    if scope is not None:
        query = query.where(scope)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Notice.published_at.desc(), Notice.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def state_label(notice: Notice, now: datetime) -> str:
    if notice.cancelled_at is not None:
        return "已撤回"
    return "已安排" if notice.published_at > now else "已发出"
