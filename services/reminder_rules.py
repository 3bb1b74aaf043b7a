"""Holiday reminders and yearly tasks: a reminder rule's lead times turned into pushes.

A reminder whose day is not a working day moves to the working day before it
(statutory holidays and 调休 from services.workdays), so staff get it at their desk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import OutboxMessage
from models.calendar import CalendarRule
from models.reminders import Audience, ReminderRule
from services.holiday_calendar import Occurrence, RuleError, occurrences, rule_by_code
from services import outbox
from services.local_time import check_hhmm, local_date, local_instant
from services.push_validity import before_day, countdown, end_of_day, render_countdown
from services.scheduled_pushes import Push, audience_recipients
from services.workdays import MAX_SEARCH_DAYS, WorkCalendar

KINDS = ("holiday_reminder", "yearly_task")
MAX_LEAD_DAYS = 366


@dataclass(frozen=True)
class DueReminder:
    rule: ReminderRule
    event: Occurrence
    lead: int
    send_date: date
    due: datetime  # UTC


def enabled_reminder_rules(session: Session) -> list[ReminderRule]:
    return list(
        session.scalars(
            select(ReminderRule)
            .join(CalendarRule, CalendarRule.id == ReminderRule.calendar_rule_id)
            .where(ReminderRule.enabled.is_(True), CalendarRule.enabled.is_(True))
            .order_by(ReminderRule.id)
        )
    )


def send_date_for(work: WorkCalendar, event_day: date, lead: int) -> date:
    return work.on_or_before(event_day - timedelta(days=lead))


def due_reminders(session: Session, work: WorkCalendar, since: datetime, until: datetime) -> list[DueReminder]:
    """Reminders due in (since, until] whose day is still ahead at `until`."""
    today = local_date(until)
    found: list[DueReminder] = []
    for rule in enabled_reminder_rules(session):
        leads = rule.leads
        horizon = today + timedelta(days=max(leads) + MAX_SEARCH_DAYS)
        for event in occurrences(rule.calendar_rule, local_date(since) - timedelta(days=1), horizon):
            if event.start <= today:
                continue  # the day has come: a late "still N days" would be wrong
            for lead in leads:
                send_day = send_date_for(work, event.start, lead)
                due = local_instant(send_day, rule.send_time)
                if since < due <= until:
                    found.append(DueReminder(rule, event, lead, send_day, due))
    return found


def latest_per_event(due: list[DueReminder]) -> tuple[list[DueReminder], list[DueReminder]]:
    """(to send, superseded): after downtime several lead times of one event can fall due in
    one run; only the latest (the smallest lead) goes out."""
    latest: dict[tuple[int, date], DueReminder] = {}
    for reminder in due:
        key = (reminder.rule.id, reminder.event.start)
        if key not in latest or reminder.lead < latest[key].lead:
            latest[key] = reminder
    chosen = list(latest.values())
    return chosen, [r for r in due if r not in chosen]


def valid_until(reminder: DueReminder) -> datetime:
    """A countdown is stale once its day has come; an on-the-day reminder lasts the day."""
    day = reminder.event.start
    return end_of_day(day) if reminder.lead == 0 else before_day(day)


def expire_earlier(session: Session, push: Push, now: datetime) -> int:
    """Earlier reminders of the same event to the same recipient still waiting are replaced."""
    prefix = push.key.rsplit(":", 1)[0] + ":"
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(prefix, autoescape=True),
                                    OutboxMessage.idempotency_key != push.key,
                                    OutboxMessage.status.in_(outbox.WAITING))
    ).all()
    for row in rows:
        outbox.expire(session, row, now, "replaced by a later reminder of the same event")
    return len(rows)


def pushes_for(session: Session, reminder: DueReminder, today: date) -> list[Push]:
    rule = reminder.rule
    days_left = (reminder.event.start - max(reminder.send_date, today)).days
    text = render(rule.message, reminder.event.name, reminder.event.start, days_left)
    timer = countdown(rule.message, reminder.event.name, reminder.event.start)
    pushes = []
    for recipient in audience_recipients(session, rule.audience, rule.tag_id):
        # Followers at large hear it as publicity (a mass send); staff and volunteers as a notice.
        kind = "publicity" if recipient.is_mass else rule.kind
        pushes.append(
            Push(
                kind=kind,
                recipient=recipient,
                payload={"title": reminder.event.name, "text": text, "event": reminder.event.code,
                         "event_date": reminder.event.start.isoformat(), "countdown": timer},
                key=f"{rule.kind}:{rule.id}:{recipient}:{reminder.event.start.isoformat()}:{reminder.lead}",
                not_before=reminder.due,
                expires_at=valid_until(reminder),
            )
        )
    return pushes


def render(message: str, name: str, day: date, days: int) -> str:
    return render_countdown(message, name, day, days)


# --- staff edits --------------------------------------------------------------------


def parse_leads(text: str) -> str:
    try:
        leads = sorted({int(part) for part in str(text).replace("，", ",").split(",") if part.strip()}, reverse=True)
    except ValueError:
        raise RuleError(f"提前天数应是用逗号分隔的数字，例如21,7,1（收到：{text}）") from None
    if not leads or any(not 0 <= lead <= MAX_LEAD_DAYS for lead in leads):
        raise RuleError(f"提前天数应在0到{MAX_LEAD_DAYS}之间")
    return ",".join(str(lead) for lead in leads)


def check_message(message: str) -> str:
    try:
        render(message, "春节", date(2027, 2, 6), 7)
    except (KeyError, IndexError, ValueError):
        raise RuleError("提醒内容只能使用{name}、{date}、{days}三个占位符") from None
    if not message.strip():
        raise RuleError("提醒内容不能为空")
    return message


def add_reminder_rule(session: Session, *, code: str, calendar_code: str, lead_days: str, audience: str,
                      message: str, kind: str = "holiday_reminder", tag_id: str | None = None,
                      send_time: str = "09:00") -> ReminderRule:
    calendar_rule = rule_by_code(session, calendar_code)
    if calendar_rule is None:
        raise RuleError(f"没有代码为{calendar_code}的日历规则")
    if session.scalar(select(ReminderRule.id).where(ReminderRule.code == code)) is not None:
        raise RuleError(f"提醒规则{code}已存在")
    if kind not in KINDS:
        raise RuleError("提醒类型应为节日提醒或年度任务")
    try:
        audience_value = Audience(audience)
        send_time = check_hhmm(send_time)
    except ValueError as exc:
        raise RuleError(str(exc) if "时间" in str(exc) else "请从列表中选择提醒对象") from None
    if audience_value is Audience.TAG and not (tag_id or "").isdigit():
        raise RuleError("发给标签时需要数字标签编号")
    rule = ReminderRule(code=code, calendar_rule_id=calendar_rule.id, kind=kind, lead_days=parse_leads(lead_days),
                        audience=audience_value, tag_id=tag_id, message=check_message(message), send_time=send_time,
                        enabled=True, builtin=False)
    session.add(rule)
    session.flush()
    return rule


def change_reminder_rule(session: Session, rule: ReminderRule, *, lead_days: str, message: str, send_time: str,
                         enabled: bool) -> ReminderRule:
    """Lead times, wording, time of day and on/off of one rule; RuleError changes nothing."""
    leads = parse_leads(lead_days)
    text = check_message((message or "").replace("\r\n", "\n").strip())
    try:
        hhmm = check_hhmm((send_time or "").strip())
    except ValueError as exc:
        raise RuleError(str(exc)) from None
    rule.lead_days, rule.message, rule.send_time, rule.enabled = leads, text, hhmm, enabled
    session.flush()
    return rule


def upcoming(session: Session, work: WorkCalendar, rule: ReminderRule, years: tuple[int, ...]) -> list[tuple[date, date, int]]:
    """(event day, send day, lead) of a rule in the given years: what staff check after an edit."""
    found = []
    for year in years:
        for event in occurrences(rule.calendar_rule, date(year, 1, 1), date(year, 12, 31)):
            for lead in rule.leads:
                found.append((event.start, send_date_for(work, event.start, lead), lead))
    return sorted(found)
