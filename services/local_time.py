"""Asia/Shanghai for every schedule and every date people see; UTC in the database."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_date(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


def local_instant(day: date, hhmm: str = "09:00") -> datetime:
    """The aware UTC instant of `day` at `hhmm` Shanghai time."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(timezone.utc)


def parse_instant(text: str) -> datetime:
    """ISO time from an operator; without an offset it means Shanghai time."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(timezone.utc)


def chinese_date(day: date) -> str:
    return f"{day.month}月{day.day}日"


def check_hhmm(text: str) -> str:
    try:
        hour, minute = (int(part) for part in text.split(":"))
        time(hour, minute)
    except ValueError:
        raise ValueError(f"时间应写成“时:分”，例如09:00（收到：{text}）") from None
    return f"{hour:02d}:{minute:02d}"
