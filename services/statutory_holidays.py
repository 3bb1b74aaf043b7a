"""The statutory holidays fixed by the 全国年节及纪念日放假办法 (as amended by 国务院令第795号,
in force from 2025), known for any year: 元旦 1 day, 春节 4 days (除夕 to 初三), 清明 1 day
(the solar term), 劳动节 2 days (5/1–5/2), 端午 1 day, 中秋 1 day, 国庆 3 days (10/1–10/3).
Only the yearly 调休 swaps (which weekend days are worked, how holidays join weekends)
come with each year's notice; those are chinese-calendar's or staff overrides.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from borax.calendars.festivals2 import LunarFestival, TermFestival


def _first(festival, year: int) -> date:
    return min(w.solar for w in festival.list_days(date(year, 1, 1), date(year, 12, 31)))


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[date, str]:
    """Day → holiday name, for the days off by law in a Gregorian year (no 调休)."""
    days = {date(year, 1, 1): "元旦", date(year, 5, 1): "劳动节", date(year, 5, 2): "劳动节"}
    chunjie = _first(LunarFestival(month=1, day=1), year)
    for shift in (-1, 0, 1, 2):  # 除夕 to 初三
        days[chunjie + timedelta(days=shift)] = "春节"
    days[_first(TermFestival("清明"), year)] = "清明节"
    days[_first(LunarFestival(month=5, day=5, leap=0), year)] = "端午节"
    days[_first(LunarFestival(month=8, day=15, leap=0), year)] = "中秋节"
    for day in (1, 2, 3):
        days[date(year, 10, day)] = "国庆节"
    return days


def is_statutory_holiday(day: date) -> bool:
    return day in statutory_holidays(day.year)
