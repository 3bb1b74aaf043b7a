"""走访慰问: campaigns (元旦春节, 八一 …), the plan generated for each, visit teams by
area, and one planned visit per household per plan."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.encrypted import EncryptedBytes, EncryptedText
from models.base import status_enum


class VisitCampaign(Base):
    """A 走访慰问 campaign as a county runs it: which holidays it serves, its window as
    calendar expressions resolved around the last of them (services.campaign_dates:
    "min(laba, 01-15)" to "yuanxiao"), who is visited, and how many days before the
    window the plan is made. `merge_into` joins it with a later campaign when their
    windows come within `merge_gap_days` (separate 元旦 and 春节 rounds in 2028, 2031)."""

    __tablename__ = "visit_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32))  # 元旦春节, 八一
    holidays: Mapped[str] = mapped_column(String(120))  # calendar_rule codes, comma list; the last is the anchor
    start_expr: Mapped[str] = mapped_column(String(120))
    end_expr: Mapped[str] = mapped_column(String(120))
    lead_days: Mapped[int] = mapped_column(SmallInteger, default=7)
    categories: Mapped[str | None] = mapped_column(String(200))  # comma list; empty = every category
    merge_into: Mapped[str | None] = mapped_column(String(32))
    merge_gap_days: Mapped[int] = mapped_column(SmallInteger, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VisitTeam(Base):
    """A visit team serves a town, or some of its villages when a town has several teams
    (`villages`, comma list; empty = the whole town)."""

    __tablename__ = "visit_team"

    id: Mapped[int] = mapped_column(primary_key=True)
    town: Mapped[str] = mapped_column(String(40), index=True)  # the area it serves (乡镇/街道)
    villages: Mapped[str | None] = mapped_column(String(400))
    name: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list["VisitTeamMember"]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="VisitTeamMember.id"
    )


class VisitTeamMember(Base):
    """A staff member (by openid) or a volunteer of a visit team."""

    __tablename__ = "visit_team_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("visit_team.id", ondelete="CASCADE"), index=True)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id", ondelete="CASCADE"))
    staff_openid: Mapped[str | None] = mapped_column(String(64))

    team: Mapped[VisitTeam] = relationship(back_populates="members")

    __table_args__ = (
        UniqueConstraint("team_id", "volunteer_id"),
        UniqueConstraint("team_id", "staff_openid", name="uq_visit_team_member_staff"),
    )


class VisitPlan(Base):
    __tablename__ = "visit_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    season: Mapped[str] = mapped_column(String(48))  # the campaign code; "yuandan+chunjie" when merged
    year: Mapped[int]  # the year of the (last) holiday the plan serves
    name: Mapped[str] = mapped_column(String(60))
    holiday_date: Mapped[date]
    window_start: Mapped[date]
    window_end: Mapped[date]
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    overdue_flagged_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("season", "year"),)


class VisitStatus(enum.StrEnum):
    PLANNED = "planned"  # 待走访
    DONE = "done"  # 已走访
    OVERDUE = "overdue"  # 逾期未走访
    CANCELLED = "cancelled"  # no longer on the roster


class PlannedVisit(Base):
    __tablename__ = "planned_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("visit_plan.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("visit_team.id", ondelete="SET NULL"))
    # The team member whose own list holds this household (services.visit_plans.assign_members).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("visit_team_member.id", ondelete="SET NULL"))
    priority: Mapped[int] = mapped_column(SmallInteger)  # 1 = first (三属)
    category: Mapped[str] = mapped_column(String(16))  # the household's highest-priority category
    status: Mapped[VisitStatus] = mapped_column(status_enum(VisitStatus, 16), default=VisitStatus.PLANNED)
    visited_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(EncryptedText())  # may tell of health or hardship
    # County leaders' visit assignments (挂点领导): who of the leadership visits this household.
    leader: Mapped[str | None] = mapped_column(String(60))
    # What the visit brought and who went: the 走访慰问台账 and 慰问金签领表 come from these.
    visitors: Mapped[str | None] = mapped_column(String(200))
    money_cents: Mapped[int | None] = mapped_column(Integer)  # 慰问金, in fen
    goods: Mapped[str | None] = mapped_column(String(200))  # 慰问品
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    follow_up_request_id: Mapped[int | None] = mapped_column(ForeignKey("help_request.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    photos: Mapped[list["VisitPhoto"]] = relationship(cascade="all, delete-orphan", order_by="VisitPhoto.id")

    __table_args__ = (
        UniqueConstraint("plan_id", "household_id"),
        Index("ix_planned_visit_team", "plan_id", "team_id", "priority"),
        Index("ix_planned_visit_member", "plan_id", "member_id"),
    )


class VisitPhoto(Base):
    """An optional photo of a visit (JPEG/PNG, size-limited), kept in the database (encrypted)
    so a backup holds it and several processes see it."""

    __tablename__ = "visit_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("planned_visit.id", ondelete="CASCADE"), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(EncryptedBytes())  # faces and homes: encrypted at rest
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
