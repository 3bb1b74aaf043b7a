"""Activities with a capacity and a waitlist, and who signed up (and checked in)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, LabelledStrEnum, status_enum, utcnow


class ActivityStatus(LabelledStrEnum):
    OPEN = "open", "报名中"
    CLOSED = "closed", "已截止"
    CANCELLED = "cancelled", "已取消"


class SignupStatus(LabelledStrEnum):
    REGISTERED = "registered", "已报名"
    WAITLISTED = "waitlisted", "候补"
    CANCELLED = "cancelled", "已取消"


class Activity(Base):
    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)  # used in check-in QR scenes
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(100), default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    capacity: Mapped[int]
    status: Mapped[ActivityStatus] = mapped_column(status_enum(ActivityStatus, 16), default=ActivityStatus.OPEN)
    # 乡镇 running it; None: the county office (township accounts see only their own).
    town: Mapped[str | None] = mapped_column(String(40))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    # WeChat's temporary QR code for check-in, reused until shortly before it expires.
    qr_ticket: Mapped[str | None] = mapped_column(String(200))
    qr_url: Mapped[str | None] = mapped_column(String(300))
    qr_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow)

    signups: Mapped[list["ActivitySignup"]] = relationship(back_populates="activity")

    __table_args__ = (Index("ix_activity_starts_at", "starts_at"),)


class ActivitySignup(Base):
    __tablename__ = "activity_signup"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"))
    openid: Mapped[str | None] = mapped_column(String(64))  # cleared when the person's data is erased
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"))
    status: Mapped[SignupStatus] = mapped_column(status_enum(SignupStatus, 16))
    # Order of arrival, taken under the activity's lock: the waitlist is served in this order.
    queue_no: Mapped[int] = mapped_column(default=0)
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    # Service time: None until staff approve or correct it (until then it is computed).
    service_minutes: Mapped[int | None]
    hours_approved_at: Mapped[datetime | None]
    hours_approved_by: Mapped[str | None] = mapped_column(String(64))
    hours_note: Mapped[str | None] = mapped_column(String(200))  # reason of the last correction
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    activity: Mapped[Activity] = relationship(back_populates="signups")

    __table_args__ = (
        UniqueConstraint("activity_id", "openid"),
        Index("ix_activity_signup_openid", "openid"),
    )
