"""The 双拥 calendar: rules from the database turned into dates with borax.

borax's traps handled here: a lunar festival with the default leap setting matches
both the ordinary and the leap month (2028 has two "5/5"), festival objects hand back
wrapped dates, and `at(year)` means the *lunar* year — so every rule is resolved by
listing its days inside a Gregorian date range.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta

from borax.calendars.festivals2 import (
    Festival,
    LunarFestival,
    SolarFestival,
    TermFestival,
    WeekFestival,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import CalendarRule, LeapPolicy, RuleKind

FIRST_YEAR, LAST_YEAR = 1901, 2099  # borax covers 1900–2100; stay clear of the edges
SOLAR_TERMS = (
    "小寒 大寒 立春 雨水 惊蛰 春分 清明 谷雨 立夏 小满 芒种 夏至 "
    "小暑 大暑 立秋 处暑 白露 秋分 寒露 霜降 立冬 小雪 大雪 冬至"
).split()
_BORAX_LEAP = {LeapPolicy.REGULAR: 0, LeapPolicy.LEAP: 1, LeapPolicy.BOTH: 3}


class RuleError(ValueError):
    """A rule that cannot be computed; the message is for staff (Chinese)."""


@dataclass(frozen=True)
class Occurrence:
    code: str
    name: str
    start: date
    end: date | None = None  # ranges only

    def line(self) -> str:
        text = f"{self.start.isoformat()} {self.name}"
        return f"{text}（至{self.end.isoformat()}）" if self.end else text


# --- validation ---------------------------------------------------------------


def validate(rule: CalendarRule) -> None:
    """Raise RuleError naming the first wrong field; accept only rules borax can compute."""
    if not rule.code or not rule.name:
        raise RuleError("规则需要代码和名称")
    kind = RuleKind(rule.kind)
    if kind in (RuleKind.SOLAR, RuleKind.RANGE):
        _check_solar_day(rule.month, rule.day, "开始日期" if kind is RuleKind.RANGE else "日期")
        if kind is RuleKind.RANGE:
            _check_solar_day(rule.end_month, rule.end_day, "结束日期")
    elif kind is RuleKind.LUNAR:
        if rule.month is None or not 1 <= rule.month <= 12:
            raise RuleError("农历月份应为1到12")
        if rule.day is None or not (1 <= rule.day <= 30 or rule.day == -1):
            raise RuleError("农历日应为1到30，月末写-1")
        if rule.leap is not None:
            LeapPolicy(rule.leap)
    elif kind is RuleKind.TERM:
        if rule.term not in SOLAR_TERMS:
            raise RuleError(f"节气名称应为二十四节气之一，例如 清明（收到：{rule.term or '空'}）")
    elif kind is RuleKind.WEEKDAY:
        if rule.month is None or not 1 <= rule.month <= 12:
            raise RuleError("月份应为1到12")
        if rule.nth is None or not (1 <= rule.nth <= 5 or rule.nth == -1):
            raise RuleError("第几个应为1到5，最后一个写-1")
        if rule.weekday is None or not 0 <= rule.weekday <= 6:
            raise RuleError("星期应为0（周一）到6（周日）")


def _check_solar_day(month: int | None, day: int | None, label: str) -> None:
    try:
        date(2024, month or 0, day or 0)  # a leap year, so 2/29 is allowed
    except (TypeError, ValueError):
        raise RuleError(f"{label}不是有效的公历日期（月{month}，日{day}）") from None


# --- computing ---------------------------------------------------------------


def festival_for(rule: CalendarRule) -> Festival:
    kind = RuleKind(rule.kind)
    if kind in (RuleKind.SOLAR, RuleKind.RANGE):
        return SolarFestival(month=rule.month, day=rule.day)
    if kind is RuleKind.LUNAR:
        return LunarFestival(month=rule.month, day=rule.day, leap=_BORAX_LEAP[LeapPolicy(rule.leap)])
    if kind is RuleKind.TERM:
        return TermFestival(rule.term)
    return WeekFestival(month=rule.month, index=rule.nth, week=rule.weekday)


def occurrences(rule: CalendarRule, start: date, end: date) -> list[Occurrence]:
    """The rule's days whose first day lies in [start, end], in order."""
    start = max(start, date(FIRST_YEAR, 1, 1))
    end = min(end, date(LAST_YEAR, 12, 31))
    if start > end:
        return []
    days = _days(RuleKind(rule.kind), rule.month, rule.day, rule.leap, rule.term, rule.nth, rule.weekday, start, end)
    if RuleKind(rule.kind) is not RuleKind.RANGE:
        return [Occurrence(rule.code, rule.name, day) for day in days]
    return [Occurrence(rule.code, rule.name, day, _range_end(rule, day)) for day in days]


@functools.lru_cache(maxsize=4096)
def _days(kind: RuleKind, month, day, leap, term, nth, weekday, start: date, end: date) -> tuple[date, ...]:
    """borax's days of a rule in [start, end], sorted. Computing them is most of a scheduler run's
    calendar work and they depend on nothing but these fields, so each question is answered once
    per process (a rule edited in the console asks a new question)."""
    festival = festival_for(_RuleFields(kind, month, day, leap, term, nth, weekday))
    return tuple(sorted(wrapped.solar for wrapped in festival.list_days(start, end)))


@dataclass(frozen=True)
class _RuleFields:
    kind: RuleKind
    month: int | None
    day: int | None
    leap: str | None
    term: str | None
    nth: int | None
    weekday: int | None


def _range_end(rule: CalendarRule, first: date) -> date:
    end = _safe_date(first.year, rule.end_month, rule.end_day)
    # A range such as 12/20–1/10 ends in the next year.
    return end if end >= first else _safe_date(first.year + 1, rule.end_month, rule.end_day)


def _safe_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:  # 2/29 in a common year: the last day of February
        return date(year, 3, 1) - timedelta(days=1)


def occurrences_in_year(rule: CalendarRule, year: int) -> list[Occurrence]:
    return occurrences(rule, date(year, 1, 1), date(year, 12, 31))


def nearest_occurrence(rule: CalendarRule, anchor: date, *, before: bool = True) -> Occurrence | None:
    """The rule's day closest to `anchor` (on or before it when `before`): 小年 of a 春节."""
    found = occurrences(rule, anchor - timedelta(days=200), anchor + timedelta(days=200))
    if before:
        found = [o for o in found if o.start <= anchor]
    return min(found, key=lambda o: abs((o.start - anchor).days), default=None)


def enabled_rules(session: Session) -> list[CalendarRule]:
    return list(session.scalars(select(CalendarRule).where(CalendarRule.enabled.is_(True)).order_by(CalendarRule.id)))


def rule_by_code(session: Session, code: str) -> CalendarRule | None:
    return session.scalars(select(CalendarRule).where(CalendarRule.code == code)).first()


def days_in_year(session: Session, year: int) -> list[Occurrence]:
    """Every enabled rule's days in a Gregorian year, by date (what `calendar YEAR` prints)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise RuleError(f"年份应在{FIRST_YEAR}到{LAST_YEAR}之间")
    found = [o for rule in enabled_rules(session) for o in occurrences_in_year(rule, year)]
    return sorted(found, key=lambda o: (o.start, o.code))


# --- staff edits ------------------------------------------------------------------


def add_rule(session: Session, **fields) -> CalendarRule:
    if rule_by_code(session, fields.get("code", "")) is not None:
        raise RuleError(f"代码{fields['code']}已存在")
    rule = CalendarRule(**fields)
    rule.leap = rule.leap or LeapPolicy.REGULAR
    validate(rule)
    session.add(rule)
    session.flush()
    return rule


def change_rule(session: Session, code: str, **changes) -> CalendarRule:
    """Change fields of a rule; nothing is changed if the result would be invalid."""
    rule = _existing(session, code)
    before = {name: getattr(rule, name) for name in changes}
    for name, value in changes.items():
        if name in ("id", "code", "builtin"):
            raise RuleError(f"字段{name}不能修改")
        setattr(rule, name, value)
    try:
        validate(rule)
    except RuleError:
        for name, value in before.items():
            setattr(rule, name, value)
        raise
    session.flush()
    return rule


def set_enabled(session: Session, code: str, enabled: bool) -> CalendarRule:
    rule = _existing(session, code)
    rule.enabled = enabled
    session.flush()
    return rule


def _existing(session: Session, code: str) -> CalendarRule:
    rule = rule_by_code(session, code)
    if rule is None:
        raise RuleError(f"没有代码为{code}的日历规则")
    return rule
