"""最新通知: short notices shown in the chat (written by staff or the publicity calendar).

A notice written in the console also goes out as pushes to its audience (outbox rows keyed
`notice:<id>:<recipient>`); only notices to all followers are listed under 最新通知."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Notice(Base):
    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)  # a console notice: when it goes out
    # Console notices (migration 0012); calendar notices keep the defaults.
    link: Mapped[str | None] = mapped_column(String(300))
    audience: Mapped[str] = mapped_column(String(16), default="all", server_default="all")
    audience_ref: Mapped[str | None] = mapped_column(String(60))  # a team id or a 乡镇 name
    town: Mapped[str | None] = mapped_column(String(40))  # the 乡镇 it is for; None: county-wide
    recipients: Mapped[int | None]  # how many pushes were queued when it was scheduled
    valid_until: Mapped[datetime | None]  # not delivered after this (held ones expire)
    created_by: Mapped[str | None] = mapped_column(String(40))  # staff username
    cancelled_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notice_published_at", "published_at"),)


class Referral(Base):
    """Where a follower came from: the `ref:<code>` scene of the QR code they scanned."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_referral_code", "code"),)
