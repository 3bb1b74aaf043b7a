"""Outbound messaging state besides the outbox rows themselves.

Followers (the customer-service window and whether they still listen), staff
openids for role recipients, subscription-notice consents, the shared access
token, the global send-rate bucket, the monthly mass-send budget, and the event
rows that record every status change of an outbox row or a follower.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, status_enum, utcnow
from models.encrypted import EncryptedText



class FollowerStatus(enum.StrEnum):
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"  # unfollowed (or 43004: not following)
    BLOCKED = "blocked"  # 43019 / 48002: refuses messages from the account
    INVALID = "invalid"  # 40003: the openid does not belong to this account


class Follower(Base):
    """One WeChat user as seen by the outbound side.

    The customer-service window: a user's message allows 5 messages within 48 h;
    a menu click, scan or follow allows 3 within a minute (wechat-platform.md §6).
    """

    __tablename__ = "follower"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[FollowerStatus] = mapped_column(status_enum(FollowerStatus), default=FollowerStatus.ACTIVE)
    last_interaction_at: Mapped[datetime | None]
    window_expires_at: Mapped[datetime | None]
    window_quota: Mapped[int] = mapped_column(Integer, default=0)
    window_used: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FollowerEvent(Base):
    __tablename__ = "follower_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    follower_id: Mapped[int] = mapped_column(ForeignKey("follower.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)


class OutboxEvent(Base):
    """Every status change of an outbox row: when, from, to, over which channel, and why."""

    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str | None] = mapped_column(String(24))
    errcode: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(Text)


class StaffOpenid(Base):
    """Openids that receive messages addressed to a role, e.g. recipient "role:staff"."""

    __tablename__ = "staff_openid"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(32), default="staff")
    openid: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(EncryptedText())  # may be a person's name
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("role", "openid"),)


class ConsentStatus(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


class SubscriptionConsent(Base):
    """What a user answered to a subscription-notice popup, per template.

    One-time subscriptions allow one notice per acceptance: `remaining` counts them.
    """

    __tablename__ = "subscription_consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64))
    template_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[ConsentStatus] = mapped_column(status_enum(ConsentStatus))
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("openid", "template_id"),)


class AccessToken(Base):
    """The one access token of an AppID, shared by every process (when Redis is not configured)."""

    __tablename__ = "access_token"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[str | None] = mapped_column(EncryptedText())
    expires_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime | None]


class RateBucket(Base):
    """A global send rate as a GCRA: `tat` is the theoretical arrival time (epoch seconds)
    of the next permitted send; each sender books the next slot atomically."""

    __tablename__ = "rate_bucket"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    tat: Mapped[float] = mapped_column(Float, default=0.0)


class MassSendBudget(Base):
    """Mass sends used per natural month (Asia/Shanghai): a 服务号 user gets at most 4."""

    __tablename__ = "mass_send_budget"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-07"
    used: Mapped[int] = mapped_column(Integer, default=0)


__all__ = [
    "AccessToken",
    "ConsentStatus",
    "Follower",
    "FollowerEvent",
    "FollowerStatus",
    "MassSendBudget",
    "OutboxEvent",
    "RateBucket",
    "StaffOpenid",
    "SubscriptionConsent",
]
