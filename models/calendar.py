"""The 双拥 calendar as data: day rules (solar, lunar, solar term, nth weekday, ranges)
and the statutory working-day overrides staff keep when the library lags behind."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Enum, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


def str_enum(cls: type[enum.StrEnum], length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class RuleKind(enum.StrEnum):
    SOLAR = "solar"  # month/day of the Gregorian calendar
    LUNAR = "lunar"  # month/day of the lunar calendar; day -1 = last day of the month
    TERM = "term"  # one of the 24 solar terms (清明 …)
    WEEKDAY = "weekday"  # nth weekday of a Gregorian month (全民国防教育日: 9月第3个星期六)
    RANGE = "range"  # a span of Gregorian days (双拥展示月 7/20–8/20)


class LeapPolicy(enum.StrEnum):
    """Which lunar month counts when the year has a leap month of the same number."""

    REGULAR = "regular"  # only the ordinary month (端午 in 2028 is 5/28, not 闰五月初五)
    LEAP = "leap"  # only the leap month
    BOTH = "both"  # both months (the day happens twice that year)


class CalendarRule(Base):
    __tablename__ = "calendar_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)  # stable: keys and reminders refer to it
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[RuleKind] = mapped_column(str_enum(RuleKind))
    month: Mapped[int | None] = mapped_column(SmallInteger)
    day: Mapped[int | None] = mapped_column(SmallInteger)
    leap: Mapped[LeapPolicy] = mapped_column(str_enum(LeapPolicy), default=LeapPolicy.REGULAR)
    term: Mapped[str | None] = mapped_column(String(8))
    nth: Mapped[int | None] = mapped_column(SmallInteger)
    weekday: Mapped[int | None] = mapped_column(SmallInteger)  # 0 = Monday … 6 = Sunday
    end_month: Mapped[int | None] = mapped_column(SmallInteger)
    end_day: Mapped[int | None] = mapped_column(SmallInteger)
    category: Mapped[str] = mapped_column(String(16), default="holiday")  # holiday | memorial | campaign | task
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkdayOverride(Base):
    """A day staff have marked as working or not, winning over chinese-calendar and the
    Monday–Friday fallback (the 国务院 调休 notice for a year the library does not know)."""

    __tablename__ = "workday_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
