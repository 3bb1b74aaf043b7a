"""The 国务院 放假调休 notice entered in one form: lines of days or ranges, each 上班 or 放假.

Accepted lines (one per line; Chinese or ASCII punctuation; an optional note after the word):

    2027-02-07 上班                      2027年2月7日（星期日）上班
    2027-02-10 至 2027-02-17 放假        2月10日至17日放假调休，共8天
    2027-02-10~02-17 休  春节

Dates without a year take the form's year. Parsing changes nothing; `save` writes the
overrides (services.workdays.set_override), which win over chinese-calendar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import WorkdayOverride
from services.workdays import WorkCalendar, set_override

MAX_RANGE_DAYS = 15  # the longest 国务院 holiday is 8–9 days; a longer range is a typo
WORK_WORDS = ("上班", "补班", "班")
REST_WORDS = ("放假", "休息", "休")
_DATE = r"(?:(\d{4})\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_LINE = re.compile(
    rf"^{_DATE}(?:\s*[（(][^）)]*[）)])?"  # 2027年2月7日（星期日）
    rf"(?:\s*(?:至|到|~|～|—|–|-{{1,2}})\s*(?:{_DATE}|(\d{{1,2}})\s*日?))?"  # 至 2月17日 / 至 17日
    r"(?:\s*[（(][^）)]*[）)])?\s*[，,：:]?\s*(.*)$"
)
WEEKDAYS = "一二三四五六日"


class ParseError(ValueError):
    pass


@dataclass(frozen=True)
class Day:
    day: date
    is_workday: bool
    note: str
    line: int

    @property
    def weekday(self) -> str:
        return f"星期{WEEKDAYS[self.day.weekday()]}"


@dataclass
class Parsed:
    days: list[Day] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "第3行：……"
    warnings: list[str] = field(default_factory=list)


def parse(text: str, year: int) -> Parsed:
    result = Parsed()
    seen: dict[date, Day] = {}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            days = _parse_line(line, year, number)
        except ParseError as error:
            result.errors.append(f"第{number}行“{line[:30]}”：{error}")
            continue
        for day in days:
            earlier = seen.get(day.day)
            if earlier is not None and earlier.is_workday != day.is_workday:
                result.errors.append(f"第{number}行：{day.day.isoformat()}在第{earlier.line}行已写为"
                                     f"{'上班' if earlier.is_workday else '放假'}，两行矛盾")
                continue
            seen.setdefault(day.day, day)
    result.days = sorted(seen.values(), key=lambda d: d.day)
    if not result.days and not result.errors:
        result.errors.append("没有读到任何日期。每行写一个日期或日期范围，再写“上班”或“放假”")
    result.warnings = _warnings(result.days)
    return result


def _parse_line(line: str, year: int, number: int) -> list[Day]:
    match = _LINE.match(line.replace("　", " "))
    if match is None:
        raise ParseError("看不懂日期，请写成“2027-02-07上班”或“2027-02-10至2027-02-17放假”")
    y1, m1, d1, y2, m2, d2, d_only, rest = match.groups()
    start = _date(y1, m1, d1, year)
    if m2 is not None:
        end = _date(y2 or y1, m2, d2, year)
    elif d_only is not None:
        end = _date(y1, m1, d_only, year)
    else:
        end = start
    if end < start:
        raise ParseError("结束日期早于开始日期")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ParseError(f"一段假期不应超过{MAX_RANGE_DAYS}天，请检查日期")
    is_workday, note = _kind(rest or "")
    return [Day(start + timedelta(days=n), is_workday, note, number) for n in range((end - start).days + 1)]


def _date(y: str | None, m: str, d: str, year: int) -> date:
    try:
        return date(int(y) if y else year, int(m), int(d))
    except ValueError:
        raise ParseError(f"{y or year}年{int(m)}月{int(d)}日不是有效日期") from None


def _kind(rest: str) -> tuple[bool, str]:
    """上班 or 放假 from the words after the dates; the rest of the line is kept as the note."""
    text = rest.strip()
    for words, value in ((WORK_WORDS, True), (REST_WORDS, False)):
        for word in words:
            if text.startswith(word):
                note = text[len(word):].strip(" ，,。：:")
                return value, note[:64]
    raise ParseError("请在日期后写“上班”或“放假”")


def _warnings(days: list[Day]) -> list[str]:
    """Lines that change nothing are probably mistakes: a weekday marked 上班, a weekend 放假."""
    warnings = []
    for d in days:
        weekend = d.day.weekday() >= 5
        if d.is_workday and not weekend:
            warnings.append(f"{d.day.isoformat()}（{d.weekday}）本来就是工作日，写“上班”不会改变什么，请核对")
        if not d.is_workday and weekend:
            continue  # 放假 ranges include weekends: normal
    return warnings


def save(session: Session, days: list[Day]) -> int:
    for d in days:
        set_override(session, d.day, d.is_workday, d.note or ("调休上班" if d.is_workday else "放假"))
    return len(days)


def overrides_in_year(session: Session, year: int) -> list[WorkdayOverride]:
    return list(session.scalars(
        select(WorkdayOverride)
        .where(WorkdayOverride.day.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(WorkdayOverride.day)
    ))


def status_of_year(session: Session, year: int) -> str:
    work = WorkCalendar(session)
    if work.statutory_known(year):
        return f"{year}年的放假调休已内置，无需录入（录入的内容会覆盖内置安排）"
    if overrides_in_year(session, year):
        return f"{year}年的放假调休已录入"
    return f"{year}年的放假调休还没有录入：国务院通知发布后请在这里录入"
