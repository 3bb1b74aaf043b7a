"""Reminder rules: which calendar day, how many days before, to whom, saying what."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.calendar import CalendarRule, str_enum


class Audience(enum.StrEnum):
    STAFF = "staff"  # recipient "role:staff"
    VISIT_TEAMS = "visit_teams"  # every member of every active visit team
    VOLUNTEERS = "volunteers"  # every active volunteer
    ALL_FOLLOWERS = "all"  # mass send to all followers
    TAG = "tag"  # mass send to one tag of followers


class ReminderRule(Base):
    __tablename__ = "reminder_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    calendar_rule_id: Mapped[int] = mapped_column(ForeignKey("calendar_rule.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24), default="holiday_reminder")  # holiday_reminder | yearly_task
    lead_days: Mapped[str] = mapped_column(String(64))  # "21,7,1": days before the day
    audience: Mapped[Audience] = mapped_column(str_enum(Audience))
    tag_id: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)  # may use {name}, {date} and {days}
    send_time: Mapped[str] = mapped_column(String(5), default="09:00")  # Asia/Shanghai
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    calendar_rule: Mapped[CalendarRule] = relationship(lazy="joined")

    @property
    def leads(self) -> list[int]:
        return sorted({int(part) for part in self.lead_days.split(",") if part.strip()}, reverse=True)
