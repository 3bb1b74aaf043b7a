"""The publicity calendar: yearly campaigns whose items are published at their time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.calendar import CalendarRule


class PublicityCampaign(Base):
    __tablename__ = "publicity_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    items: Mapped[list["PublicityItem"]] = relationship(
        back_populates="campaign", order_by="PublicityItem.id", cascade="all, delete-orphan"
    )


class PublicityItem(Base):
    """Repeats every year. The date is a Gregorian month/day, or a calendar rule's day
    plus an offset (清明 − 3); a range (end month/day, or a range rule) is published on its
first day and stays valid to its end; any other item stays valid `valid_days` days."""

    __tablename__ = "publicity_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("publicity_campaign.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    title: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    month: Mapped[int | None] = mapped_column(SmallInteger)
    day: Mapped[int | None] = mapped_column(SmallInteger)
    end_month: Mapped[int | None] = mapped_column(SmallInteger)
    end_day: Mapped[int | None] = mapped_column(SmallInteger)
    calendar_rule_id: Mapped[int | None] = mapped_column(ForeignKey("calendar_rule.id", ondelete="SET NULL"))
    offset_days: Mapped[int] = mapped_column(SmallInteger, default=0)
    year: Mapped[int | None] = mapped_column(SmallInteger)  # a one-off item (建军100周年); it replaces
    # a yearly item of the same day and audience that year
    valid_days: Mapped[int] = mapped_column(SmallInteger, default=1)  # 1 = its day only; ranges: to their end
    audience: Mapped[str] = mapped_column(String(40), default="all")  # "all" or "tag:<id>"
    channel: Mapped[str] = mapped_column(String(24), default="mass")  # publicity is never a template message
    publish_time: Mapped[str] = mapped_column(String(5), default="10:00")  # Asia/Shanghai
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    campaign: Mapped[PublicityCampaign] = relationship(back_populates="items")
    calendar_rule: Mapped[CalendarRule | None] = relationship(lazy="joined")
